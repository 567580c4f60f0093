package redismeta_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/driver/drivertest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

var driverSeq atomic.Int64

// driverContract runs the driver contract with one driver per subtest,
// each under its own prefix on the Redis that c talks to.
func driverContract(t *testing.T, c redis.UniversalClient) {
	drivertest.Run(t, func(t *testing.T) driver.Driver {
		return redismeta.NewDriver(c, redismeta.WithPrefix(fmt.Sprintf("drv%d:", driverSeq.Add(1))))
	})
}

func TestDriverContract(t *testing.T) {
	addr := redistest.Start(t)
	// RESP3 (go-redis's default) and RESP2 convert script replies
	// differently (false is a boolean or a nil).
	for _, proto := range []int{3, 2} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto})
			t.Cleanup(func() { c.Close() })
			driverContract(t, c)
		})
	}
}

// TestDriverUnavailable: with Redis down every operation fails with
// driver.ErrUnavailable, and works again once it is back.
func TestDriverUnavailable(t *testing.T) {
	p := redistest.StartProcess(t)
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	d := redismeta.NewDriver(c)
	tb := driver.Table{Name: "t", Ordered: true}
	ops := map[string]func() error{
		"Update": func() error {
			return d.Update(ctx, "s", func(tx driver.Tx) error { return tx.Put(tb, "k", []byte("v")) })
		},
		"Update read": func() error {
			return d.Update(ctx, "s", func(tx driver.Tx) error {
				if _, _, err := tx.Get(tb, "k"); err != nil {
					return fmt.Errorf("wrapped by fn: %w", err)
				}
				return tx.Put(tb, "k", []byte("v"))
			})
		},
		"Get":     func() error { _, _, err := d.Get(ctx, driver.Ref{Shard: "s", Table: tb, Key: "k"}); return err },
		"GetMany": func() error { _, err := d.GetMany(ctx, []driver.Ref{{Shard: "s", Table: tb, Key: "k"}}); return err },
		"Follow":  func() error { _, _, err := d.Follow(ctx, "s", tb, "k", tb); return err },
		"Range":   func() error { _, _, err := d.Range(ctx, "s", tb, "", "", -1); return err },
		"Now":     func() error { _, err := d.Now(ctx); return err },
	}
	for name, op := range ops {
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	p.Kill()
	for name, op := range ops {
		if err := op(); !errors.Is(err, driver.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want driver.ErrUnavailable", name, err)
		}
	}
	p.Restart()
	for name, op := range ops {
		if err := op(); err != nil {
			t.Errorf("%s after restart: %v", name, err)
		}
	}
}

// TestDriverContractCluster: every script of a transaction would fail
// with CROSSSLOT if a shard's keys were not in one slot.
func TestDriverContractCluster(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	driverContract(t, c)
}

// TestDriverContractSentinel runs the contract through a Sentinel, which
// names the master the client talks to.
func TestDriverContractSentinel(t *testing.T) {
	sentinel, master := redistest.StartSentinel(t)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{sentinel}})
	t.Cleanup(func() { c.Close() })
	driverContract(t, c)
}

// TestDriverShardNames: shard names with the characters of hash tags
// stay apart and stay in one slot each (on a cluster, a transaction
// spanning two of their tables would fail with CROSSSLOT otherwise).
func TestDriverShardNames(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	d := redismeta.NewDriver(c, redismeta.WithPrefix("names:"))
	a := driver.Table{Name: "a", Ordered: true}
	b := driver.Table{Name: "b"}
	shards := []string{"", "}", "{", "{}", "}x{", "%", "%7D", "a}b", "a", "x:y"}
	for _, s := range shards {
		err := d.Update(t.Context(), s, func(tx driver.Tx) error {
			if err := tx.Put(a, "k", []byte("a:"+s)); err != nil {
				return err
			}
			return tx.Put(b, "k", []byte("b:"+s))
		})
		if err != nil {
			t.Fatalf("Update %q: %v", s, err)
		}
	}
	for _, s := range shards {
		for _, tb := range []driver.Table{a, b} {
			v, ok, err := d.Get(t.Context(), driver.Ref{Shard: s, Table: tb, Key: "k"})
			if err != nil || !ok || string(v) != tb.Name+":"+s {
				t.Fatalf("Get %q/%s = %q, %v, %v", s, tb.Name, v, ok, err)
			}
		}
	}
}

// TestDriverRangeHighBytes: prefixes ending in 0xff bytes have no
// simple successor for the upper bound of ZRANGEBYLEX.
func TestDriverRangeHighBytes(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	d := redismeta.NewDriver(c, redismeta.WithPrefix("high:"))
	tb := driver.Table{Name: "t", Ordered: true}
	ks := []string{"a", "a\xfe", "a\xff", "a\xff\x00", "a\xff\xff", "b", "\xff", "\xff\xff\x01"}
	err := d.Update(t.Context(), "s", func(tx driver.Tx) error {
		for _, k := range ks {
			if err := tx.Put(tb, k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string]string{
		"a\xff":     "a\xff,a\xff\x00,a\xff\xff",
		"a\xff\xff": "a\xff\xff",
		"a":         "a,a\xfe,a\xff,a\xff\x00,a\xff\xff",
		"\xff":      "\xff,\xff\xff\x01",
		"\xff\xff":  "\xff\xff\x01",
	} {
		kvs, _, err := d.Range(t.Context(), "s", tb, prefix, "", -1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, kv := range kvs {
			got = append(got, kv.Key)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("Range(%q) = %q, want %q", prefix, got, strings.Split(want, ","))
		}
	}
}

// TestDriverRoundTrips counts the commands each operation sends, with a
// go-redis hook (a pipeline counts as one round trip).
func TestDriverRoundTrips(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	d := redismeta.NewDriver(c, redismeta.WithPrefix("rt:"))
	tags := driver.Table{Name: "tags", Ordered: true}
	manifests := driver.Table{Name: "manifests"}
	blind := func() error {
		return d.Update(ctx, "repo", func(tx driver.Tx) error {
			if err := tx.Put(manifests, "sha256:1", []byte("body")); err != nil {
				return err
			}
			return tx.Put(tags, "latest", []byte("sha256:1"))
		})
	}
	rmw := func() error {
		return d.Update(ctx, "repo", func(tx driver.Tx) error {
			v, _, err := tx.Get(tags, "latest")
			if err != nil {
				return err
			}
			_ = tx.Now() // comes with the read
			return tx.Put(tags, "previous", v)
		})
	}
	ops := []struct {
		name string
		want int64
		op   func() error
	}{
		{"blind Update", 1, blind},
		{"read-modify-write Update", 2, rmw},
		{"Get", 1, func() error {
			_, _, err := d.Get(ctx, driver.Ref{Shard: "repo", Table: manifests, Key: "sha256:1"})
			return err
		}},
		{"Follow", 1, func() error {
			v, ok, err := d.Follow(ctx, "repo", tags, "latest", manifests)
			if err == nil && (!ok || string(v) != "body") {
				err = fmt.Errorf("Follow = %q, %v", v, ok)
			}
			return err
		}},
		{"Range", 1, func() error { _, _, err := d.Range(ctx, "repo", tags, "", "", 10); return err }},
		{"GetMany", 1, func() error {
			_, err := d.GetMany(ctx, []driver.Ref{{Shard: "repo", Table: manifests, Key: "sha256:1"}, {Shard: "other", Table: tags, Key: "x"}})
			return err
		}},
		{"Now", 1, func() error { _, err := d.Now(ctx); return err }},
		{"Update reading one record twice", 2, func() error {
			return d.Update(ctx, "repo", func(tx driver.Tx) error {
				for range 2 {
					if _, _, err := tx.Get(tags, "latest"); err != nil {
						return err
					}
				}
				return tx.Put(tags, "again", []byte("x"))
			})
		}},
		{"read-only Update", 1, func() error {
			return d.Update(ctx, "repo", func(tx driver.Tx) error { _, _, err := tx.Get(tags, "latest"); return err })
		}},
	}
	// Load the scripts: the first EVALSHA on a fresh server falls back to EVAL.
	for _, o := range ops {
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
	}
	n := redistest.CountRoundTrips(c)
	for _, o := range ops {
		n.Store(0)
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := n.Load(); got != o.want {
			t.Errorf("%s: %d round trips, want %d", o.name, got, o.want)
		}
	}
}

// TestDriverConflict: transactions that keep losing end in
// driver.ErrConflict, and a read that sees another commit reruns fn with
// a consistent state.
func TestDriverConflict(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	d := redismeta.NewDriver(c, redismeta.WithPrefix("conflict:"))
	tb := driver.Table{Name: "t", Ordered: true}
	// Every run of fn commits a concurrent change after its read.
	runs := 0
	err := d.Update(ctx, "s", func(tx driver.Tx) error {
		runs++
		if _, _, err := tx.Get(tb, "k"); err != nil {
			return err
		}
		if err := d.Update(ctx, "s", func(tx driver.Tx) error { return tx.Put(tb, "k", fmt.Appendf(nil, "%d", runs)) }); err != nil {
			return err
		}
		return tx.Put(tb, "mine", []byte("x"))
	})
	if !errors.Is(err, driver.ErrConflict) || runs < 2 {
		t.Fatalf("Update that always loses = %v after %d runs, want driver.ErrConflict", err, runs)
	}
	if _, ok, _ := d.Get(ctx, driver.Ref{Shard: "s", Table: tb, Key: "mine"}); ok {
		t.Fatal("a transaction that lost wrote")
	}
	// A second read after a concurrent commit is not shown to fn: the
	// attempt is rerun and then commits.
	runs = 0
	var once sync.Once
	err = d.Update(ctx, "s", func(tx driver.Tx) error {
		runs++
		a, _, err := tx.Get(tb, "k")
		if err != nil {
			return err
		}
		once.Do(func() {
			err = d.Update(ctx, "s", func(tx driver.Tx) error {
				return tx.Put(tb, "k2", []byte("moved"))
			})
		})
		if err != nil {
			return err
		}
		kvs, _, err := tx.Range(tb, "k", "", -1)
		if err != nil {
			return err
		}
		if len(kvs) != 2 || string(kvs[0].Value) != string(a) {
			return fmt.Errorf("inconsistent reads: %q then %v", a, kvs)
		}
		return tx.Put(tb, "done", []byte("1"))
	})
	if err != nil || runs != 2 {
		t.Fatalf("Update = %v after %d runs, want success after 2", err, runs)
	}
	// Range inside a transaction merges its own writes with a limit.
	err = d.Update(ctx, "m", func(tx driver.Tx) error {
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if err := tx.Put(tb, k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Update(ctx, "m", func(tx driver.Tx) error {
		_ = tx.Delete(tb, "a")
		_ = tx.Delete(tb, "b")
		_ = tx.Put(tb, "bb", []byte("bb"))
		_ = tx.Put(tb, "z", []byte("z"))
		kvs, more, err := tx.Range(tb, "", "", 2)
		if err != nil {
			return err
		}
		var ks []string
		for _, kv := range kvs {
			ks = append(ks, kv.Key)
		}
		if strings.Join(ks, ",") != "bb,c" || !more {
			return fmt.Errorf("Range with own writes = %q, more %v; want bb,c and more", ks, more)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
