package metadata_test

import (
	"errors"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// localCounting is counting over a local driver, passing its lease table
// on (counting alone hides it, as any wrapper that does not forward it).
type localCounting struct{ *counting }

func (c localCounting) LocalLeases() *driver.LeaseTable {
	return c.Driver.(driver.Local).LocalLeases()
}

// TestLocalUploadLeases pins the writes of an upload PATCH on a local
// store (bbolt, memory): the lease is taken without a write, the release
// is the one transaction that stores the session, and only a takeover
// writes (its Epoch). Stores over the same driver share its leases.
func TestLocalUploadLeases(t *testing.T) {
	ctx := t.Context()
	md := memdriver.New()
	c := localCounting{&counting{Driver: md, calls: map[string]int{}}}
	db := metadata.New(c)
	if err := db.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "r"}); err != nil {
		t.Fatal(err)
	}
	c.take()

	u, err := db.AcquireUpload(ctx, "u1", 0, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.take(); got["Update"] != 0 {
		t.Errorf("AcquireUpload on a local store: %v, want no Update", got)
	}
	if n := md.LocalLeases().Len(); n != 1 {
		t.Errorf("leases held after AcquireUpload: %d, want 1", n)
	}
	other := metadata.New(md) // another store over the same driver
	if _, err := other.AcquireUpload(ctx, "u1", 0, "b", time.Minute); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("AcquireUpload by another store over the driver while leased: %v, want ErrConflict", err)
	}
	u.Offset = 5
	if err := db.ReleaseUpload(ctx, u, "a"); err != nil {
		t.Fatal(err)
	}
	if got := c.take(); got["Update"] != 1 {
		t.Errorf("ReleaseUpload on a local store: %v, want one Update", got)
	}
	if n := md.LocalLeases().Len(); n != 0 {
		t.Errorf("leases held after ReleaseUpload: %d, want 0", n)
	}
	if got, err := other.GetUpload(ctx, "u1"); err != nil || got.Offset != 5 || got.Epoch != 0 {
		t.Errorf("GetUpload after the release: %+v, %v; want offset 5, epoch 0", got, err)
	}

	// A takeover of an expired lease writes the new Epoch.
	if _, err := db.AcquireUpload(ctx, "u1", 5, "a", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	c.take()
	taken, err := db.AcquireUpload(ctx, "u1", 5, "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.take(); got["Update"] != 1 || taken.Epoch != 1 {
		t.Errorf("takeover: %v, epoch %d; want one Update, epoch 1", got, taken.Epoch)
	}
	if stored, _ := other.GetUpload(ctx, "u1"); stored.Epoch != 1 {
		t.Errorf("stored epoch after the takeover: %d, want 1", stored.Epoch)
	}
	if err := db.ReleaseUpload(ctx, u, "a"); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("ReleaseUpload by the stale holder: %v, want ErrConflict", err)
	}
	if err := db.DeleteUpload(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := md.LocalLeases().Len(); n != 0 {
		t.Errorf("leases held after DeleteUpload: %d, want 0", n)
	}
	if err := db.ReleaseUpload(ctx, taken, "b"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("ReleaseUpload after DeleteUpload: %v, want ErrNotFound", err)
	}

}
