package redismeta_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/metadatatest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// BenchmarkTinyRepos writes 10,000 tiny repositories
// (metadatatest.TinyRepos) into a fresh standalone redis-server and
// reports, per repository, the growth of used_memory (INFO memory) and
// the sum of MEMORY USAGE over every key the store wrote:
//
//	go test -run '^$' -bench TinyRepos -benchtime 1x ./server/metadata/redismeta/
func BenchmarkTinyRepos(b *testing.B) {
	const n = 10_000
	for range b.N {
		ctx := b.Context()
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
		used := func() int64 {
			info, err := c.Info(ctx, "memory").Result()
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
					u, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						b.Fatal(err)
					}
					return u
				}
			}
			b.Fatal("no used_memory in INFO memory")
			return 0
		}
		before := used()
		db := redismeta.New(c, redismeta.WithPrefix("size:"))
		if err := metadatatest.TinyRepos(ctx, db, n); err != nil {
			b.Fatal(err)
		}
		after := used()
		var keys, bytes int64
		byTable := map[string][2]int64{} // what follows the shard's tag → keys, bytes
		iter := c.Scan(ctx, 0, "size:*", 1000).Iterator()
		for iter.Next(ctx) {
			u, err := c.MemoryUsage(ctx, iter.Val()).Result()
			if err != nil {
				b.Fatal(err)
			}
			keys++
			bytes += u
			_, table, _ := strings.Cut(iter.Val(), "}:")
			g := byTable[table]
			byTable[table] = [2]int64{g[0] + 1, g[1] + u}
		}
		if err := iter.Err(); err != nil {
			b.Fatal(err)
		}
		var lines []string
		for table, g := range byTable {
			if g[1] >= n*10 {
				lines = append(lines, fmt.Sprintf("%8.1f B/repo %7d keys %s", float64(g[1])/n, g[0], table))
			}
		}
		slices.Sort(lines)
		slices.Reverse(lines)
		b.Logf("MEMORY USAGE by table (10 B/repo or more):\n%s", strings.Join(lines, "\n"))
		b.ReportMetric(float64(after-before)/n, "used-B/repo")
		b.ReportMetric(float64(bytes)/n, "keys-B/repo")
		b.ReportMetric(float64(keys)/n, "keys/repo")
		db.Close()
		c.Close()
	}
}
