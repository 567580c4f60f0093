// Package drivertest is the contract of metadata drivers: every
// driver.Driver passes Run.
package drivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

var (
	plain   = driver.Table{Name: "plain"}
	ordered = driver.Table{Name: "ordered", Ordered: true}
	other   = driver.Table{Name: "other", Ordered: true}
)

func put(t *testing.T, d driver.Driver, shard string, tb driver.Table, kv ...string) {
	t.Helper()
	err := d.Update(t.Context(), shard, func(tx driver.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Put(tb, kv[i], []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t *testing.T, d driver.Driver, shard string, tb driver.Table, key string) (string, bool) {
	t.Helper()
	v, ok, err := d.Get(t.Context(), driver.Ref{Shard: shard, Table: tb, Key: key})
	if err != nil {
		t.Fatalf("Get %s/%s/%s: %v", shard, tb.Name, key, err)
	}
	return string(v), ok
}

func keys(kvs []driver.KV) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

// Run runs the contract. open returns a new, empty driver for each
// subtest; Run closes it.
func Run(t *testing.T, open func(t *testing.T) driver.Driver) {
	newDriver := func(t *testing.T) driver.Driver {
		t.Helper()
		t.Parallel()
		d := open(t)
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return d
	}
	t.Run("GetPutDelete", func(t *testing.T) {
		d := newDriver(t)
		if _, ok := get(t, d, "s", plain, "k"); ok {
			t.Fatal("Get of a missing key found it")
		}
		bin := string([]byte{0, 1, 2, 0xff, '\n', 0})
		big := string(bytes.Repeat([]byte("0123456789abcdef"), 1<<16)) // 1 MiB
		put(t, d, "s", plain, "k", "v", "empty", "", "bin", bin, "big", big, "key with spaces/and:colons{}", "x")
		for k, want := range map[string]string{"k": "v", "empty": "", "bin": bin, "big": big, "key with spaces/and:colons{}": "x"} {
			if got, ok := get(t, d, "s", plain, k); !ok || got != want {
				t.Fatalf("Get %q = %d bytes, %v; want %d bytes", k, len(got), ok, len(want))
			}
		}
		if _, ok := get(t, d, "other-shard", plain, "k"); ok {
			t.Fatal("a key is visible in another shard")
		}
		if _, ok := get(t, d, "s", other, "k"); ok {
			t.Fatal("a key is visible in another table")
		}
		err := d.Update(t.Context(), "s", func(tx driver.Tx) error {
			if err := tx.Delete(plain, "k"); err != nil {
				return err
			}
			return tx.Delete(plain, "never-there")
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := get(t, d, "s", plain, "k"); ok {
			t.Fatal("deleted key still there")
		}
		if _, ok := get(t, d, "s", plain, "empty"); !ok {
			t.Fatal("an empty value must exist")
		}
	})
	t.Run("Range", func(t *testing.T) {
		d := newDriver(t)
		ks := []string{"a", "a/1", "a/2", "a/3", "b", "b/1", "c\x00x", "c\x01", "z"}
		var kv []string
		for _, k := range ks {
			kv = append(kv, k, "v:"+k)
		}
		put(t, d, "s", ordered, kv...)
		all, more, err := d.Range(t.Context(), "s", ordered, "", "", -1)
		if err != nil || more || !slices.Equal(keys(all), ks) {
			t.Fatalf("Range all = %q, %v, %v; want %q", keys(all), more, err, ks)
		}
		for _, kv := range all {
			if string(kv.Value) != "v:"+kv.Key {
				t.Fatalf("Range value of %q = %q", kv.Key, kv.Value)
			}
		}
		for _, c := range []struct {
			prefix, after string
			n             int
			want          []string
			more          bool
		}{
			{"a/", "", -1, []string{"a/1", "a/2", "a/3"}, false},
			{"a/", "a/1", -1, []string{"a/2", "a/3"}, false},
			{"a/", "a/1", 1, []string{"a/2"}, true},
			{"a/", "a/3", -1, []string{}, false},
			{"", "a/3", 2, []string{"b", "b/1"}, true},
			{"", "", 0, []string{}, true},
			{"a/", "", 3, []string{"a/1", "a/2", "a/3"}, false},
			{"q", "", -1, []string{}, false},
			{"c", "", -1, []string{"c\x00x", "c\x01"}, false},
			{"b", "a", -1, []string{"b", "b/1"}, false},
		} {
			got, more, err := d.Range(t.Context(), "s", ordered, c.prefix, c.after, c.n)
			if err != nil || got == nil || !slices.Equal(keys(got), c.want) || more != c.more {
				t.Fatalf("Range(%q, %q, %d) = %q, more %v, %v; want %q, more %v", c.prefix, c.after, c.n, keys(got), more, err, c.want, c.more)
			}
		}
		empty, more, err := d.Range(t.Context(), "empty-shard", ordered, "", "", -1)
		if err != nil || empty == nil || len(empty) != 0 || more {
			t.Fatalf("Range of an empty shard = %v, %v, %v", empty, more, err)
		}
		if _, _, err := d.Range(t.Context(), "s", plain, "", "", -1); err == nil {
			t.Fatal("Range over an unordered table did not fail")
		}
	})
	t.Run("TxSeesItsWrites", func(t *testing.T) {
		d := newDriver(t)
		put(t, d, "s", ordered, "a", "1", "b", "2", "c", "3")
		err := d.Update(t.Context(), "s", func(tx driver.Tx) error {
			if err := tx.Put(ordered, "bb", []byte("x")); err != nil {
				return err
			}
			if err := tx.Delete(ordered, "a"); err != nil {
				return err
			}
			if err := tx.Put(ordered, "c", []byte("33")); err != nil {
				return err
			}
			if v, ok, err := tx.Get(ordered, "c"); err != nil || !ok || string(v) != "33" {
				return fmt.Errorf("tx.Get of an own write = %q, %v, %v", v, ok, err)
			}
			if _, ok, err := tx.Get(ordered, "a"); err != nil || ok {
				return fmt.Errorf("tx.Get of an own delete = %v, %v", ok, err)
			}
			kvs, more, err := tx.Range(ordered, "", "", -1)
			if err != nil || more || !slices.Equal(keys(kvs), []string{"b", "bb", "c"}) {
				return fmt.Errorf("tx.Range in the transaction = %q, %v, %v", keys(kvs), more, err)
			}
			if string(kvs[2].Value) != "33" {
				return fmt.Errorf("tx.Range value of an own write = %q", kvs[2].Value)
			}
			kvs, more, err = tx.Range(ordered, "", "a", 2)
			if err != nil || !more || !slices.Equal(keys(kvs), []string{"b", "bb"}) {
				return fmt.Errorf("tx.Range in the transaction after a, n=2 = %q, %v, %v", keys(kvs), more, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		all, _, _ := d.Range(t.Context(), "s", ordered, "", "", -1)
		if !slices.Equal(keys(all), []string{"b", "bb", "c"}) {
			t.Fatalf("after commit: %q", keys(all))
		}
	})
	t.Run("FailedTxWritesNothing", func(t *testing.T) {
		d := newDriver(t)
		put(t, d, "s", ordered, "keep", "1")
		boom := errors.New("boom")
		err := d.Update(t.Context(), "s", func(tx driver.Tx) error {
			_ = tx.Put(ordered, "new", []byte("x"))
			_ = tx.Put(ordered, "keep", []byte("changed"))
			_ = tx.Delete(ordered, "keep")
			_ = tx.Put(plain, "p", []byte("x"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update returned %v, want the function's error", err)
		}
		all, _, _ := d.Range(t.Context(), "s", ordered, "", "", -1)
		if v, ok := get(t, d, "s", ordered, "keep"); !ok || v != "1" || !slices.Equal(keys(all), []string{"keep"}) {
			t.Fatalf("after a failed transaction: keep=%q %v, keys %q", v, ok, keys(all))
		}
		if _, ok := get(t, d, "s", plain, "p"); ok {
			t.Fatal("a failed transaction wrote")
		}
	})
	t.Run("Atomic", func(t *testing.T) {
		// Concurrent read-modify-writes of one shard lose no update, and
		// two records changed together are never seen apart.
		d := newDriver(t)
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					err := d.Update(t.Context(), "counter", func(tx driver.Tx) error {
						a, _, err := tx.Get(plain, "a")
						if err != nil {
							return err
						}
						b, _, err := tx.Get(plain, "b")
						if err != nil {
							return err
						}
						if string(a) != string(b) {
							return fmt.Errorf("torn read: a=%q b=%q", a, b)
						}
						n := 0
						fmt.Sscan(string(a), &n)
						next := fmt.Appendf(nil, "%d", n+1)
						if err := tx.Put(plain, "a", next); err != nil {
							return err
						}
						return tx.Put(plain, "b", next)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if v, _ := get(t, d, "counter", plain, "a"); v != fmt.Sprint(workers*each) {
			t.Fatalf("counter = %s, want %d", v, workers*each)
		}
	})
	t.Run("ShardsAreIndependent", func(t *testing.T) {
		d := newDriver(t)
		put(t, d, "repo:a", ordered, "x", "1")
		put(t, d, "repo:ab", ordered, "y", "2")
		put(t, d, "repo:a/b", ordered, "z", "3")
		a, _, _ := d.Range(t.Context(), "repo:a", ordered, "", "", -1)
		if !slices.Equal(keys(a), []string{"x"}) {
			t.Fatalf("shard repo:a = %q: shards whose names share a prefix leak into each other", keys(a))
		}
	})
	t.Run("GetManyAndFollow", func(t *testing.T) {
		d := newDriver(t)
		tags := driver.Table{Name: "tags", Ordered: true}
		manifests := driver.Table{Name: "manifests"}
		put(t, d, "r1", tags, "latest", "sha256:1", "dangling", "sha256:gone")
		put(t, d, "r1", manifests, "sha256:1", "body-1")
		put(t, d, "r2", plain, "k", "v2", "empty", "")
		got, err := d.GetMany(t.Context(), []driver.Ref{
			{Shard: "r1", Table: manifests, Key: "sha256:1"},
			{Shard: "r2", Table: plain, Key: "k"},
			{Shard: "r2", Table: plain, Key: "missing"},
			{Shard: "r2", Table: plain, Key: "empty"},
			{Shard: "r3", Table: plain, Key: "k"},
		})
		if err != nil || len(got) != 5 || string(got[0]) != "body-1" || string(got[1]) != "v2" || got[2] != nil || got[3] == nil || len(got[3]) != 0 || got[4] != nil {
			t.Fatalf("GetMany = %q, %v", got, err)
		}
		if none, err := d.GetMany(t.Context(), nil); err != nil || len(none) != 0 {
			t.Fatalf("GetMany of nothing = %v, %v", none, err)
		}
		v, ok, err := d.Follow(t.Context(), "r1", tags, "latest", manifests)
		if err != nil || !ok || string(v) != "body-1" {
			t.Fatalf("Follow latest = %q, %v, %v", v, ok, err)
		}
		for _, k := range []string{"dangling", "missing"} {
			if _, ok, err := d.Follow(t.Context(), "r1", tags, k, manifests); err != nil || ok {
				t.Fatalf("Follow %s = %v, %v; want not found", k, ok, err)
			}
		}
	})
	t.Run("Clock", func(t *testing.T) {
		d := newDriver(t)
		before := time.Now().Add(-time.Minute)
		now, err := d.Now(t.Context())
		if err != nil || now.Before(before) || now.After(time.Now().Add(time.Minute)) {
			t.Fatalf("Now = %v, %v; want about the current time", now, err)
		}
		err = d.Update(t.Context(), "s", func(tx driver.Tx) error {
			a := tx.Now()
			time.Sleep(2 * time.Millisecond)
			if b := tx.Now(); !a.Equal(b) || a.Before(now.Add(-time.Second)) {
				return fmt.Errorf("tx.Now %v then %v, want one value after %v", a, b, now)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("View", func(t *testing.T) {
		d := newDriver(t)
		put(t, d, "s", ordered, "a", "1", "b", "2")
		err := d.View(t.Context(), "s", func(r driver.Reader) error {
			v, ok, err := r.Get(ordered, "a")
			if err != nil || !ok || string(v) != "1" {
				return fmt.Errorf("view: Get = %q, %v, %v", v, ok, err)
			}
			kvs, _, err := r.Range(ordered, "", "a", -1)
			if err != nil || !slices.Equal(keys(kvs), []string{"b"}) {
				return fmt.Errorf("view: Range = %q, %v", keys(kvs), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		d := newDriver(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ran := false
		if err := d.Update(ctx, "s", func(driver.Tx) error { ran = true; return nil }); err == nil && ran {
			t.Fatal("Update ran with a cancelled context and reported success")
		}
	})
}
