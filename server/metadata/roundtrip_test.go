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

// counting is a driver that counts the calls of each method (each is one
// round trip on the remote drivers).
type counting struct {
	driver.Driver
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[m]++
}

func (c *counting) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *counting) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	c.count("Update")
	return c.Driver.Update(ctx, shard, fn)
}

func (c *counting) View(ctx context.Context, shard string, fn func(driver.Reader) error) error {
	c.count("View")
	return c.Driver.View(ctx, shard, fn)
}

func (c *counting) Get(ctx context.Context, ref driver.Ref) ([]byte, bool, error) {
	c.count("Get")
	return c.Driver.Get(ctx, ref)
}

func (c *counting) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	c.count("GetMany")
	return c.Driver.GetMany(ctx, refs)
}

func (c *counting) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) ([]byte, bool, error) {
	c.count("Follow")
	return c.Driver.Follow(ctx, shard, from, key, to)
}

func (c *counting) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	c.count("Range")
	return c.Driver.Range(ctx, shard, t, prefix, after, n)
}

// TestRoundTrips pins the driver calls of the hot paths.
func TestRoundTrips(t *testing.T) {
	ctx := t.Context()
	c := &counting{Driver: memdriver.New(), calls: map[string]int{}}
	db := metadata.New(c)
	b := metadata.Blob{Digest: digest.FromString("layer"), Size: 5, Key: "blobs/layer"}
	if _, err := db.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkBlob(ctx, "lib/app", b); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2}`)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
	if err := db.PutManifest(ctx, "lib/app", m, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutManifest(ctx, "app", m, "v1"); err != nil {
		t.Fatal(err)
	}
	body2 := []byte(`{"schemaVersion":2,"n":2}`)
	m2 := metadata.Manifest{Digest: digest.FromBytes(body2), MediaType: m.MediaType, Body: body2}
	if err := db.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "lib/app"}); err != nil {
		t.Fatal(err)
	}
	c.take()
	for _, step := range []struct {
		name string
		do   func() error
		want map[string]int
	}{
		{"GetManifest by tag", func() error { _, err := db.GetManifest(ctx, "lib/app", "v1"); return err }, map[string]int{"Follow": 1}},
		{"GetManifest by digest", func() error { _, err := db.GetManifest(ctx, "lib/app", m.Digest.String()); return err }, map[string]int{"Get": 1}},
		{"GetBlob", func() error { _, err := db.GetBlob(ctx, b.Digest); return err }, map[string]int{"Get": 1}},
		{"RepoBlob", func() error { _, err := db.RepoBlob(ctx, "lib/app", b.Digest); return err }, map[string]int{"Get": 1}},
		{"Tags", func() error { _, _, err := db.Tags(ctx, "lib/app", "", 10); return err }, map[string]int{"Range": 1}},
		{"Repositories", func() error { _, _, err := db.Repositories(ctx, "", 10); return err }, map[string]int{"Range": 1}},
		// Tags of a repository with an owner: the manifest's Created and
		// the tags' digests, the owner entries, the tags (db_ownertags.go);
		// one more Update when a tag moved. A push of what is there reads
		// the owner entries too, and writes nothing (db_repush.go).
		{"PutManifest of a listed repository", func() error { return db.PutManifest(ctx, "lib/app", m, "v2") }, map[string]int{"GetMany": 1, "Update": 2}},
		{"PutManifest again", func() error { return db.PutManifest(ctx, "lib/app", m, "v2", "v1") }, map[string]int{"GetMany": 2}},
		{"PutManifest moving a tag", func() error { return db.PutManifest(ctx, "lib/app", m2, "v2") }, map[string]int{"GetMany": 1, "Update": 3}},
		{"PutManifest with one tag new", func() error { return db.PutManifest(ctx, "lib/app", m2, "v2", "v3") }, map[string]int{"GetMany": 1, "Update": 2}},
		{"PutManifest without tags", func() error { return db.PutManifest(ctx, "lib/app", m2) }, map[string]int{"Update": 1}},
		{"PutManifest of a listed repository without owner", func() error { return db.PutManifest(ctx, "app", m, "v2") }, map[string]int{"Update": 1}},
		{"AcquireUpload", func() error { _, err := db.AcquireUpload(ctx, "u1", 0, "tok", time.Minute); return err }, map[string]int{"Update": 1}},
		{"ReleaseUpload", func() error { return db.ReleaseUpload(ctx, metadata.Upload{ID: "u1", Offset: 3}, "tok") }, map[string]int{"Update": 1}},
		{"TouchBlob", func() error { _, err := db.TouchBlob(ctx, b.Digest); return err }, map[string]int{"Update": 1}},
		{"ClaimBlob of a live blob", func() error { _, _, err := db.ClaimBlob(ctx, b); return err }, map[string]int{"Update": 1}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := c.take()
		if len(got) != len(step.want) {
			t.Errorf("%s: calls %v, want %v", step.name, got, step.want)
			continue
		}
		for k, v := range step.want {
			if got[k] != v {
				t.Errorf("%s: calls %v, want %v", step.name, got, step.want)
			}
		}
	}
}

// unavailable is a driver whose every call fails as an unreachable store.
type unavailable struct{ driver.Driver }

func (unavailable) Get(context.Context, driver.Ref) ([]byte, bool, error) {
	return nil, false, driver.ErrUnavailable
}

func (unavailable) Update(context.Context, string, func(driver.Tx) error) error {
	return driver.ErrConflict
}

// TestUnavailable: driver outages and endless conflicts are
// metadata.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	db := metadata.New(unavailable{memdriver.New()}, metadata.WithConflictRetries(2))
	if _, err := db.GetBlob(t.Context(), digest.FromString("x")); !errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("GetBlob on an unavailable driver: %v", err)
	}
	if _, err := db.TouchBlob(t.Context(), digest.FromString("x")); !errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("TouchBlob on a conflicting driver: %v", err)
	}
}
