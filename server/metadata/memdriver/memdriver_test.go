package memdriver_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/driver/drivertest"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

func TestContract(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) driver.Driver { return memdriver.New() })
}
