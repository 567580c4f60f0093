package redistest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

func TestStartClusterWithReplicasFailover(t *testing.T) {
	c := redistest.StartClusterWithReplicas(t, 3, 500*time.Millisecond)
	if len(c.Masters) != 3 || len(c.Replicas) != 3 {
		t.Fatalf("masters %v, replicas %v", c.Masters, c.Replicas)
	}
	ctx := context.Background()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cl.Close()
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if err := cl.Wait(ctx, 1, time.Second).Err(); err != nil {
			t.Fatalf("WAIT: %v", err)
		}
	}
	took := c.KillMaster(t, 0)
	t.Logf("promotion took %v", took)
	// A fresh client reads the slot map as the cluster now has it.
	cl2 := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()[1:]})
	defer cl2.Close()
	cl = cl2
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		var v string
		var err error
		// Until every node has the new slot map (slower on a loaded
		// machine), a client may still be sent to the dead master: reload
		// its map after each failure.
		for range 100 {
			if v, err = cl.Get(ctx, k).Result(); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			cl.ReloadState(ctx)
		}
		if err != nil || v != k {
			t.Fatalf("GET %s after failover: %q, %v", k, v, err)
		}
	}
}
