package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster whose masters each have one replica, started
// by StartClusterWithReplicas. A test can kill a master, as a crash
// would, and wait until the cluster has promoted its replica.
type Cluster struct {
	// Masters are the masters' addresses, Replicas[i] the address of the
	// replica of Masters[i], as started.
	Masters, Replicas []string

	mu      sync.Mutex
	masters []*server
}

// Addrs returns every node's address, masters first.
func (c *Cluster) Addrs() []string {
	return append(append([]string(nil), c.Masters...), c.Replicas...)
}

// StartClusterWithReplicas starts a Redis Cluster of n masters with one
// replica each on free ports of 127.0.0.1, with cluster-node-timeout
// nodeTimeout (small values make failover fast) and a replica validity
// factor of 0 (a replica always may take over). It assigns the slots
// evenly, joins the nodes, attaches each replica to its master and waits
// until every node reports cluster_state:ok and every replica's link to
// its master is up. The nodes are stopped in t.Cleanup.
func StartClusterWithReplicas(t testing.TB, n int, nodeTimeout time.Duration) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: StartClusterWithReplicas(%d): need at least one master", n)
	}
	nodes := startClusterNodes(t, 2*n, nodeTimeout, "--cluster-replica-validity-factor", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := nodeClients(t, nodes)
	joinCluster(ctx, t, nodes, clients, n)
	c := &Cluster{masters: nodes[:n]}
	for i, s := range nodes {
		if i < n {
			c.Masters = append(c.Masters, s.addr)
		} else {
			c.Replicas = append(c.Replicas, s.addr)
		}
	}
	// A replica can only follow a master it knows about.
	waitFor(ctx, t, "every node knows every other", func() (bool, string) {
		for i, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(2*n)+"\r") {
				return false, fmt.Sprintf("%s: %v\n%s", nodes[i].addr, err, info)
			}
		}
		return true, ""
	})
	for i := range n {
		id, err := clients[i].Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v", nodes[i].addr, err)
		}
		if err := clients[n+i].Do(ctx, "CLUSTER", "REPLICATE", id).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER REPLICATE %s on %s: %v", id, nodes[n+i].addr, err)
		}
	}
	waitFor(ctx, t, "the cluster is ok with every replica in sync", func() (bool, string) {
		for i, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_assigned:16384") {
				return false, fmt.Sprintf("%s: %v\n%s", nodes[i].addr, err, info)
			}
		}
		for _, cl := range clients[n:] {
			repl, err := cl.Info(ctx, "replication").Result()
			if err != nil || !strings.Contains(repl, "master_link_status:up") {
				return false, fmt.Sprintf("replica %s: %v\n%s", cl.Options().Addr, err, repl)
			}
		}
		return true, ""
	})
	return c
}

// KillMaster kills master i with SIGKILL and waits until its replica
// reports itself master with the cluster ok again, which takes about
// twice the node timeout. It returns how long the promotion took.
// Killing a killed master only waits.
func (c *Cluster) KillMaster(t testing.TB, i int) time.Duration {
	t.Helper()
	c.mu.Lock()
	if s := c.masters[i]; s != nil {
		s.kill()
		c.masters[i] = nil
	}
	c.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: c.Replicas[i]})
	defer cl.Close()
	waitFor(ctx, t, "replica "+c.Replicas[i]+" takes over", func() (bool, string) {
		repl, err := cl.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(repl, "role:master") {
			return false, fmt.Sprintf("%v\n%s", err, repl)
		}
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false, fmt.Sprintf("%v\n%s", err, info)
		}
		return true, ""
	})
	return time.Since(start)
}

// waitFor polls ok every 50ms until it holds, failing the test with the
// last reason when ctx ends first.
func waitFor(ctx context.Context, t testing.TB, what string, ok func() (bool, string)) {
	t.Helper()
	for {
		done, why := ok()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: %s: timed out: %s", what, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
