package redismeta_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/metadatatest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

var storeSeq atomic.Int64

// contract runs the metadata contract (metadatatest.RunDriver: store,
// identity, packages, counter) over the Redis driver, each leaf subtest
// under a prefix of its own on the Redis that c talks to.
func contract(t *testing.T, c redis.UniversalClient) {
	metadatatest.RunDriver(t, func(t *testing.T) driver.Driver {
		return redismeta.NewDriver(c, redismeta.WithPrefix(fmt.Sprintf("test%d:", storeSeq.Add(1))))
	})
}

func TestContract(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	contract(t, c)
}

// TestContractCluster: every transaction would fail with CROSSSLOT if a
// shard's keys were not in one slot.
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
	// The data went to database 3 under the prefix, and Close closed the
	// client that Open made.
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 3})
	defer c.Close()
	if keys, err := c.Keys(ctx, "open:{*").Result(); err != nil || len(keys) == 0 {
		t.Fatalf("KEYS open:{* in db 3 = %q, %v", keys, err)
	}
	if err := s.Driver().(*redismeta.Driver).Client().Ping(ctx).Err(); err == nil {
		t.Fatal("the client of a closed store still works")
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
	if c := s.Driver().(*redismeta.Driver).Client(); fmt.Sprintf("%T", c) != "*redis.ClusterClient" {
		t.Fatalf("client is %T, want *redis.ClusterClient", c)
	}
	body := []byte("{}")
	if err := s.PutManifest(ctx, "r", metadata.Manifest{Digest: digest.FromBytes(body), Body: body}, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetManifest(ctx, "r", "t"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSentinel(t *testing.T) {
	ctx := t.Context()
	sentinel, master := redistest.StartSentinel(t)
	s, err := redismeta.Open(ctx, "redis+sentinel://"+sentinel+"/"+master)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := []byte("{}")
	if err := s.PutManifest(ctx, "r", metadata.Manifest{Digest: digest.FromBytes(body), Body: body}, "t"); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetManifest(ctx, "r", "t"); err != nil || string(m.Body) != "{}" {
		t.Fatalf("GetManifest = %q, %v", m.Body, err)
	}
}

// TestManifestGetIsOneRoundTrip: a manifest GET through the metadata
// store, by tag or by digest, is exactly one Redis command.
func TestManifestGetIsOneRoundTrip(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	s := redismeta.New(c)
	body := []byte("{}")
	d := digest.FromBytes(body)
	if err := s.PutManifest(ctx, "r", metadata.Manifest{Digest: d, Body: body}, "t"); err != nil {
		t.Fatal(err)
	}
	// Load the script: the first EVALSHA of a fresh server falls back to EVAL.
	if _, err := s.GetManifest(ctx, "r", "t"); err != nil {
		t.Fatal(err)
	}
	calls := redistest.CountRoundTrips(c)
	for _, ref := range []string{"t", d.String()} {
		calls.Store(0)
		m, err := s.GetManifest(ctx, "r", ref)
		if err != nil || string(m.Body) != "{}" {
			t.Fatalf("GetManifest(%q) = %q, %v", ref, m.Body, err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("GetManifest(%q) took %d commands, want 1", ref, n)
		}
	}
}
