package metrics_test

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/metrics"
)

// TestStoreKeepsInterfaces: the measured store of each real metadata
// store still offers the optional interfaces the server looks for, and
// records operations, not-found answers as successes.
func TestStoreKeepsInterfaces(t *testing.T) {
	bolt, err := boltmeta.Open(t.TempDir() + "/meta.db")
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	rd := redismeta.New(redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
	defer rd.Close()
	for _, c := range []struct {
		name string
		meta metadata.Store
	}{{"mem", memmeta.New()}, {"bolt", bolt}, {"redis", rd}} {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			s := m.Store(c.meta)
			if _, ok := s.(metadata.Packages); !ok {
				t.Error("Packages lost")
			}
			if _, ok := s.(metadata.Identity); !ok {
				t.Error("Identity lost")
			}
			_, want := c.meta.(metadata.Counter)
			if _, ok := s.(metadata.Counter); ok != want {
				t.Errorf("Counter: %v, want %v (as the store)", ok, want)
			}
			_, err := s.GetBlob(context.Background(), digest.FromString("absent"))
			if err == nil {
				t.Fatal("absent blob found")
			}
			n, err := testutil.GatherAndCount(m.Registry(), "regkit_metadata_operation_duration_seconds")
			if err != nil || n != 1 {
				t.Errorf("op histograms: %d, %v; want 1", n, err)
			}
			if n, _ := testutil.GatherAndCount(m.Registry(), "regkit_metadata_operation_errors_total"); n != 0 {
				t.Errorf("a not-found answer counted as an error")
			}
		})
	}
}
