package memdriver_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/driver/drivertest"
	"github.com/regkit/regkit/server/metadata/memdriver"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

func TestContract(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) driver.Driver { return memdriver.New() })
}

// TestRules runs every metadata contract over metadata.New(memdriver).
func TestRules(t *testing.T) {
	metadatatest.RunDriver(t, func(t *testing.T) driver.Driver { return memdriver.New() })
}
