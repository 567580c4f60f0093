package redistest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

func TestStart(t *testing.T) {
	addr := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
}

func TestStartCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	if len(addrs) != 3 {
		t.Fatalf("%d addresses", len(addrs))
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := t.Context()
	// Keys spread over all three masters.
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var masters atomic.Int32
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		return nil
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("%d masters, %v", masters.Load(), err)
	}
	// Keys in different slots cannot be combined; keys with one hash tag can.
	if err := c.MSet(ctx, "{x}1", "a", "{x}2", "b").Err(); err != nil {
		t.Fatalf("MSET with one hash tag: %v", err)
	}
}

// TestProcessKillRestart: a killed server refuses connections, and after
// Restart answers on the same address with what it had acknowledged.
func TestProcessKillRestart(t *testing.T) {
	p := redistest.StartProcess(t)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING of a killed server succeeded")
	}
	p.Restart()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after restart = %q, %v", v, err)
	}
}

func TestStartSentinel(t *testing.T) {
	sentinel, master := redistest.StartSentinel(t)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{sentinel}})
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET through the Sentinel's master = %q, %v", v, err)
	}
}
