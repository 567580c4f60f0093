package metadata_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

// TestContractMemdriver runs the whole contract over the in-memory driver.
func TestContractMemdriver(t *testing.T) {
	metadatatest.RunDriver(t, func(t *testing.T) driver.Driver { return memdriver.New() })
}
