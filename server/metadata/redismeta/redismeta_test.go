package redismeta_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/metadatatest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

var storeSeq atomic.Int64

// contract runs the suite with one store per subtest, each under its own
// prefix on the one server c talks to.
func contract(t *testing.T, c redis.UniversalClient) {
	metadatatest.Run(t, func(t *testing.T) metadata.Store {
		return redismeta.New(c, redismeta.WithPrefix(fmt.Sprintf("test%d:", storeSeq.Add(1))))
	})
}

func TestContract(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	contract(t, c)
}

// TestContractCluster proves the key design: every multi-key script would
// fail with CROSSSLOT if a repository's keys were not in one slot.
func TestContractCluster(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	contract(t, c)
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	addr := redistest.Start(t)
	s, err := redismeta.Open(ctx, "redis://"+addr+"/3", redismeta.WithPrefix("open:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUpload(ctx, metadata.Upload{ID: "u", Repo: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The data went to database 3 under the prefix.
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 3})
	defer c.Close()
	if n, err := c.Exists(ctx, "open:upload:{u}").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS open:upload:{u} in db 3 = %d, %v", n, err)
	}

	if _, err := redismeta.Open(ctx, "redis://127.0.0.1:1/0?max_retries=-1&dialer_retries=1"); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if _, err := redismeta.Open(ctx, "memcached://x:1"); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Fatalf("Open with an unknown scheme: %v", err)
	}
}

func TestOpenCluster(t *testing.T) {
	ctx := t.Context()
	addrs := redistest.StartCluster(t, 3)
	s, err := redismeta.Open(ctx, "redis+cluster://"+strings.Join(addrs, ",")+"?dial_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", s.Client())
	}
	if err := s.PutManifest(ctx, "r", metadata.Manifest{Digest: "sha256:abc", Body: []byte("{}")}, "t"); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredUploadsRepairsIndex simulates crashes between a session write
// and its expiry index update.
func TestExpiredUploadsRepairsIndex(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	s := redismeta.New(c, redismeta.WithPrefix("p:"))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b", "c"} {
		u := metadata.Upload{ID: id, Repo: "r", Started: base, Updated: base.Add(time.Duration(i) * time.Second)}
		if err := s.CreateUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// a: released later, but the index move was lost.
	if err := c.HSet(ctx, "p:upload:{a}", "updated", base.Add(time.Hour).UnixNano()).Err(); err != nil {
		t.Fatal(err)
	}
	// b: deleted, but its index entry was left behind.
	if err := c.Del(ctx, "p:upload:{b}").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ExpiredUploads(ctx, base.Add(time.Minute), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "c" {
		t.Fatalf("ExpiredUploads = %+v, want c", got)
	}
	got, err = s.ExpiredUploads(ctx, base.Add(2*time.Hour), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "c" || got[1].ID != "a" {
		t.Fatalf("ExpiredUploads = %+v, want c, a", got)
	}
	if n, err := c.ZCard(ctx, "p:uploads").Result(); err != nil || n != 2 {
		t.Fatalf("index has %d entries (%v), want 2", n, err)
	}
}

func TestManifestGetIsOneRoundTrip(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	s := redismeta.New(c)
	if err := s.PutManifest(ctx, "r", metadata.Manifest{Digest: "sha256:abc", Body: []byte("{}")}, "t"); err != nil {
		t.Fatal(err)
	}
	// Load the script: the first EVALSHA of a fresh server falls back to EVAL.
	if _, err := s.GetManifest(ctx, "r", "t"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	c.AddHook(countHook{&calls})
	for _, ref := range []string{"t", "sha256:abc"} {
		calls.Store(0)
		if _, err := s.GetManifest(ctx, "r", ref); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("GetManifest(%q) took %d commands, want 1", ref, n)
		}
	}
}

type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
