package boltmeta_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/driver/drivertest"
)

func TestDriverContract(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) driver.Driver {
		d, err := boltmeta.OpenDriver(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

var (
	tags  = driver.Table{Name: "tags", Ordered: true}
	blobs = driver.Table{Name: "blobs"}
)

// TestDriverDurable: what an Update committed is in the file after Close
// and a new OpenDriver (fsync on, the default); an Update whose function
// fails leaves nothing, before and after reopening.
func TestDriverDurable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	d, err := boltmeta.OpenDriver(path)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Update(ctx, "repo:a", func(tx driver.Tx) error {
		if err := tx.Put(tags, "latest", []byte("sha256:1")); err != nil {
			return err
		}
		return tx.Put(tags, "v1", []byte("sha256:2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = d.Update(ctx, "repo:a", func(tx driver.Tx) error {
		if err := tx.Put(tags, "v2", []byte("sha256:3")); err != nil {
			return err
		}
		if err := tx.Delete(tags, "latest"); err != nil {
			return err
		}
		if err := tx.Put(blobs, "sha256:3", []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing Update returned %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = boltmeta.OpenDriver(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	kvs, more, err := d.Range(ctx, "repo:a", tags, "", "", -1)
	if err != nil || more || len(kvs) != 2 || kvs[0].Key != "latest" || string(kvs[0].Value) != "sha256:1" || kvs[1].Key != "v1" {
		t.Fatalf("after reopen: %v, %v, %v; want latest and v1 only", kvs, more, err)
	}
	if _, ok, err := d.Get(ctx, driver.Ref{Shard: "repo:a", Table: blobs, Key: "sha256:3"}); err != nil || ok {
		t.Fatalf("the failed Update wrote a blob record: %v, %v", ok, err)
	}
	// The clock keeps going forward across a reopen (the wall clock).
	if now, err := d.Now(ctx); err != nil || time.Since(now) > time.Minute || time.Until(now) > time.Minute {
		t.Fatalf("Now after reopen = %v, %v", now, err)
	}
}

// TestDriverEmptyNames: the empty shard and the empty key are records
// like any other.
func TestDriverEmptyNames(t *testing.T) {
	ctx := t.Context()
	d, err := boltmeta.OpenDriver(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Update(ctx, "", func(tx driver.Tx) error { return tx.Put(tags, "", []byte("root")) })
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := d.Get(ctx, driver.Ref{Table: tags}); err != nil || !ok || string(v) != "root" {
		t.Fatalf("Get of the empty key in the empty shard = %q, %v, %v", v, ok, err)
	}
	if kvs, _, err := d.Range(ctx, "x", tags, "", "", -1); err != nil || len(kvs) != 0 {
		t.Fatalf("another shard sees the empty shard: %v, %v", kvs, err)
	}
	err = d.Update(ctx, "s", func(tx driver.Tx) error { return tx.Put(driver.Table{Name: "bad.name"}, "k", nil) })
	if err == nil {
		t.Fatal("a table name with a '.' was accepted")
	}
}

func TestDriverTimestampsIncrease(t *testing.T) {
	d, err := boltmeta.OpenDriver(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var prev time.Time
	for i := range 1000 {
		var now time.Time
		if i%2 == 0 {
			now, err = d.Now(t.Context())
		} else {
			err = d.Update(t.Context(), "s", func(tx driver.Tx) error { now = tx.Now(); return nil })
		}
		if err != nil {
			t.Fatal(err)
		}
		if !now.After(prev) {
			t.Fatalf("time %d: %v after %v", i, now, prev)
		}
		prev = now
	}
}

// writeBolt makes a bbolt file with the given top-level buckets, each
// with one record.
func writeBolt(t *testing.T, path string, buckets ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("format"), []byte("something/else")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDriverFormat(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db") // the layout of the boltmeta Store before the driver
	writeBolt(t, old, "blobs", "catalog", "repos", "uploads", "uploads-by-time")
	other := filepath.Join(dir, "other.db")
	writeBolt(t, other, "settings")
	future := filepath.Join(dir, "future.db")
	writeBolt(t, future, "regkit:format")
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, says string }{
		{old, "older regkit"},
		{other, "not written by regkit"},
		{future, `"something/else"`},
		{garbage, "not a regkit metadata file"},
	} {
		d, err := boltmeta.OpenDriver(c.path, boltmeta.WithTimeout(100*time.Millisecond))
		if err == nil {
			d.Close()
			t.Fatalf("%s opened", c.path)
		}
		t.Log(err)
		if !errors.Is(err, boltmeta.ErrFormat) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), c.path) {
			t.Fatalf("open %s: %v; want ErrFormat saying %q and naming the file", c.path, err, c.says)
		}
	}
	// A refused file is left as it was: still refused, still a database.
	if _, err := boltmeta.OpenDriver(old); !errors.Is(err, boltmeta.ErrFormat) {
		t.Fatalf("second open of the old file: %v", err)
	}

	// A new file gets the marker and opens again.
	fresh := filepath.Join(dir, "fresh.db")
	for range 2 {
		d, err := boltmeta.OpenDriver(fresh, boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDriverLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	d, err := boltmeta.OpenDriver(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	_, err = boltmeta.OpenDriver(path, boltmeta.WithTimeout(100*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || errors.Is(err, boltmeta.ErrFormat) {
		t.Fatalf("second OpenDriver: %v; want a lock error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("second OpenDriver failed after %v; want about the 100ms timeout", waited)
	}
}
