package boltmeta_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

// BenchmarkTinyRepos writes 10,000 tiny repositories
// (metadatatest.TinyRepos) into a fresh bolt file and reports the file's
// size per repository, as the README states it:
//
//	go test -run '^$' -bench TinyRepos -benchtime 1x ./server/metadata/boltmeta/
func BenchmarkTinyRepos(b *testing.B) {
	const n = 10_000
	for range b.N {
		path := filepath.Join(b.TempDir(), "meta.db")
		db, err := boltmeta.Open(path, boltmeta.WithNoSync())
		if err != nil {
			b.Fatal(err)
		}
		if err := metadatatest.TinyRepos(b.Context(), db, n); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/n, "file-B/repo")
	}
}
