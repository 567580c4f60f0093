package boltmeta_test

import (
	"path/filepath"
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

func TestPackagesContract(t *testing.T) {
	metadatatest.RunPackages(t, func(t *testing.T) metadata.Packages {
		s, err := boltmeta.Open(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
