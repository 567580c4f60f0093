package downloads_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/downloads"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// updates counts the write transactions of a driver (one fsync each on
// the embedded store).
type updates struct {
	driver.Driver
	n atomic.Int64
}

func (u *updates) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	u.n.Add(1)
	return u.Driver.Update(ctx, shard, fn)
}

func setup(t *testing.T) (*updates, *metadata.DB, []metadata.PackageRef) {
	t.Helper()
	d := &updates{Driver: memdriver.New()}
	db := metadata.New(d)
	var refs []metadata.PackageRef
	for _, owner := range []string{"alice", "bob"} {
		for _, v := range []string{"1.0.0", "2.0.0"} {
			ref := metadata.PackageRef{Owner: owner, Type: "generic", Name: "tool", Version: v}
			sum := sha256.Sum256([]byte(owner + v))
			f := metadata.PackageFile{Name: "a.txt", Size: 1, SHA256: hex.EncodeToString(sum[:])}
			if _, err := db.PutPackageFile(t.Context(), ref, f, metadata.PutFileOptions{SemVer: true}); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
	}
	d.n.Store(0)
	return d, db, refs
}

func count(t *testing.T, db *metadata.DB, ref metadata.PackageRef) int64 {
	t.Helper()
	v, err := db.GetPackageVersion(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return v.Downloads
}

// TestBatcher: counted downloads write nothing until a flush, which
// writes one transaction per owner; Close writes what is pending.
func TestBatcher(t *testing.T) {
	ctx := t.Context()
	d, db, refs := setup(t)
	b := downloads.New(db, downloads.Options{FlushEvery: time.Hour, FlushAt: 1 << 20})
	for i := range 1000 {
		if err := b.CountPackageDownload(ctx, refs[i%len(refs)]); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.n.Load(); n != 0 {
		t.Fatalf("1000 counted downloads made %d write transactions, want 0", n)
	}
	if got := b.Pending(); got != 1000 {
		t.Fatalf("Pending = %d, want 1000", got)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.n.Load(); n != 2 {
		t.Fatalf("a flush of two owners' counts made %d write transactions, want 2", n)
	}
	for _, ref := range refs {
		if got := count(t, db, ref); got != 250 {
			t.Errorf("%v: %d downloads, want 250", ref, got)
		}
	}
	// A deleted version's pending counts are dropped, the others kept.
	_ = b.CountPackageDownload(ctx, refs[0])
	_ = b.CountPackageDownload(ctx, refs[1])
	if _, err := db.DeletePackageVersion(ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, refs[1]); got != 251 {
		t.Errorf("after Close: %d downloads, want 251", got)
	}
	if got := b.Pending(); got != 0 {
		t.Errorf("Pending after Close = %d", got)
	}
}

// TestBatcherFlushAt: FlushAt pending counts are written without waiting
// for FlushEvery, so a crash loses at most that many.
func TestBatcherFlushAt(t *testing.T) {
	ctx := t.Context()
	_, db, refs := setup(t)
	b := downloads.New(db, downloads.Options{FlushEvery: time.Hour, FlushAt: 10})
	defer b.Close(ctx)
	for range 10 {
		_ = b.CountPackageDownload(ctx, refs[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, db, refs[0]) != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("10 pending counts with FlushAt 10 not written: %d, pending %d", count(t, db, refs[0]), b.Pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatcherFlushEvery: counts are written within FlushEvery.
func TestBatcherFlushEvery(t *testing.T) {
	ctx := t.Context()
	_, db, refs := setup(t)
	b := downloads.New(db, downloads.Options{FlushEvery: 20 * time.Millisecond, FlushAt: 1 << 20})
	defer b.Close(ctx)
	_ = b.CountPackageDownload(ctx, refs[2])
	deadline := time.Now().Add(5 * time.Second)
	for count(t, db, refs[2]) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a count was not written by the periodic flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
