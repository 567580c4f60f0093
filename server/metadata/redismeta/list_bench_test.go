package redismeta_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/metadatatest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// BenchmarkListings: page 1 and page 1,000 (of 100) of every listing at
// 100,000 entries, on a standalone redis-server:
//
//	go test -run '^$' -bench Listings -benchtime 200x -timeout 30m ./server/metadata/redismeta/
func BenchmarkListings(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
	b.Cleanup(func() { c.Close() })
	db := metadata.New(redismeta.NewDriver(c))
	b.Cleanup(func() { db.Close() })
	metadatatest.BenchListings(b, db)
}
