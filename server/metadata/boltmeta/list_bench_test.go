package boltmeta_test

import (
	"path/filepath"
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

// BenchmarkListings: page 1 and page 1,000 (of 100) of every listing at
// 100,000 entries (setup writes without fsync):
//
//	go test -run '^$' -bench Listings -benchtime 200x ./server/metadata/boltmeta/
func BenchmarkListings(b *testing.B) {
	d, err := boltmeta.OpenDriver(filepath.Join(b.TempDir(), "meta.db"), boltmeta.WithNoSync())
	if err != nil {
		b.Fatal(err)
	}
	db := metadata.New(d)
	b.Cleanup(func() { db.Close() })
	metadatatest.BenchListings(b, db)
}
