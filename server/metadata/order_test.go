package metadata_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// hooked calls before(shard) ahead of every Update.
type hooked struct {
	driver.Driver
	mu     sync.Mutex
	before func(shard string)
}

func (h *hooked) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	h.mu.Lock()
	f := h.before
	h.mu.Unlock()
	if f != nil {
		f(shard)
	}
	return h.Driver.Update(ctx, shard, fn)
}

func (h *hooked) set(f func(shard string)) {
	h.mu.Lock()
	h.before = f
	h.mu.Unlock()
}

// TestSlowLinkAfterCollection: a LinkBlob that stalls after entering the
// repository among the blob's linkers, while a collector tombstones,
// unlinks and purges the blob, must not write its link when it resumes —
// however long it stalled.
func TestSlowLinkAfterCollection(t *testing.T) {
	ctx := t.Context()
	h := &hooked{Driver: memdriver.New()}
	db := metadata.New(h)
	b := metadata.Blob{Digest: digest.FromString("slow"), Size: 4, Key: "blobs/slow"}
	if _, err := db.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	repoUpdates := 0
	collected := false
	h.set(func(shard string) {
		if shard != "repo:lib/app" {
			return
		}
		if repoUpdates++; repoUpdates != 2 || collected {
			return
		}
		// LinkBlob's last step is about to run: collect the blob first.
		collected = true
		h.set(nil)
		cur, _, err := db.ListBlobs(ctx, "", -1)
		if err != nil || len(cur) != 1 {
			t.Errorf("ListBlobs = %v, %v", cur, err)
			return
		}
		now, _ := db.Now(ctx)
		if _, err := db.DeleteBlobIfUnused(ctx, b.Digest, now.Add(time.Hour), cur[0].Gen); err != nil {
			t.Errorf("DeleteBlobIfUnused: %v", err)
		}
		if err := db.PurgeBlob(ctx, b.Digest); err != nil {
			t.Errorf("PurgeBlob: %v", err)
		}
	})
	err := db.LinkBlob(ctx, "lib/app", b)
	if !collected {
		t.Fatal("the collection did not run between the steps of LinkBlob")
	}
	if !errors.Is(err, metadata.ErrConflict) {
		t.Fatalf("LinkBlob resumed after the collection: %v, want ErrConflict", err)
	}
	if _, err := db.RepoBlob(ctx, "lib/app", b.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("RepoBlob after the refused link: %v, want ErrNotFound", err)
	}
	if n, err := db.RepoUsage(ctx, "lib/app"); err != nil || n != 0 {
		t.Fatalf("RepoUsage = %d, %v; want 0", n, err)
	}
}

// TestIndexBeforeRecord: a claim interrupted between its index entry and
// its record leaves an entry ListBlobs skips, and a later claim works.
func TestIndexBeforeRecord(t *testing.T) {
	ctx := t.Context()
	h := &hooked{Driver: memdriver.New()}
	db := metadata.New(h)
	d := digest.FromString("interrupted")
	dead, cancel := context.WithCancel(ctx)
	blobUpdates := 0
	h.set(func(shard string) {
		if shard == "blob:"+string(d) {
			if blobUpdates++; blobUpdates == 2 {
				cancel() // the process "dies" before the record is written
			}
		}
	})
	// The first Update of the blob's shard finds no record (and writes
	// nothing); the index entry follows; the claim then dies.
	_, _, err := db.ClaimBlob(dead, metadata.Blob{Digest: d, Key: "k"})
	if err == nil {
		t.Fatal("ClaimBlob survived its cancelled context")
	}
	h.set(nil)
	list, more, err := db.ListBlobs(ctx, "", -1)
	if err != nil || len(list) != 0 || more {
		t.Fatalf("ListBlobs after the interrupted claim = %v, %v, %v", list, more, err)
	}
	rec, live, err := db.ClaimBlob(ctx, metadata.Blob{Digest: d, Key: "k"})
	if err != nil || live || rec.Inc == "" {
		t.Fatalf("ClaimBlob after the interrupted one = %+v, %v, %v", rec, live, err)
	}
	if list, _, _ := db.ListBlobs(ctx, "", -1); len(list) != 1 || !list[0].Pending {
		t.Fatalf("ListBlobs = %+v, want the pending record", list)
	}
}

// TestInterleavedLinks: linkers of one blob into one repository do not
// refuse each other (a second LinkBlob runs whole between the steps of a
// first), and the usage counts the blob once.
func TestInterleavedLinks(t *testing.T) {
	ctx := t.Context()
	h := &hooked{Driver: memdriver.New()}
	db := metadata.New(h)
	b := metadata.Blob{Digest: digest.FromString("shared"), Size: 7, Key: "blobs/shared"}
	if _, err := db.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	repoUpdates, inner := 0, error(nil)
	ran := false
	h.set(func(shard string) {
		if shard != "repo:lib/app" {
			return
		}
		if repoUpdates++; repoUpdates == 2 {
			h.set(nil)
			ran = true
			inner = db.LinkBlob(ctx, "lib/app", b)
		}
	})
	outer := db.LinkBlob(ctx, "lib/app", b)
	if !ran || inner != nil || outer != nil {
		t.Fatalf("interleaved LinkBlob: ran %v, inner %v, outer %v", ran, inner, outer)
	}
	if n, err := db.RepoUsage(ctx, "lib/app"); err != nil || n != b.Size {
		t.Fatalf("RepoUsage = %d, %v; want %d", n, err, b.Size)
	}
}
