package metadatatest

import (
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
)

// RunDriver runs every contract runner (Run, RunIdentity, RunPackages,
// RunListings and RunCounter) against metadata.New over the drivers newDriver returns. It
// is what a driver's test calls:
//
//	func TestContract(t *testing.T) {
//		metadatatest.RunDriver(t, func(t *testing.T) driver.Driver { return memdriver.New() })
//	}
//
// newDriver is called once per leaf subtest, possibly from several
// goroutines at once, and must return an empty driver sharing no data
// with the others. The stores close their drivers when their subtests
// end (Run), or at cleanup (the other runners).
func RunDriver(t *testing.T, newDriver func(t *testing.T) driver.Driver) {
	open := func(t *testing.T) *metadata.DB {
		t.Helper()
		d := newDriver(t)
		if d == nil {
			t.Fatal("newDriver returned nil")
		}
		return metadata.New(d)
	}
	closing := func(t *testing.T) *metadata.DB {
		t.Helper()
		db := open(t)
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	}
	t.Run("Store", func(t *testing.T) {
		Run(t, func(t *testing.T) metadata.Store { return open(t) })
	})
	t.Run("Identity", func(t *testing.T) {
		RunIdentity(t, func(t *testing.T) metadata.Identity { return closing(t) })
	})
	t.Run("Packages", func(t *testing.T) {
		RunPackages(t, func(t *testing.T) metadata.Packages { return closing(t) })
	})
	t.Run("Listings", func(t *testing.T) { RunListings(t, newDriver) })
	t.Run("Counter", func(t *testing.T) {
		t.Parallel()
		RunCounter(t, closing(t))
	})
}
