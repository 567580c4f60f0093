package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// catalogRanges counts the driver Ranges of the catalog shard.
type catalogRanges struct {
	driver.Driver
	n atomic.Int64
}

func (d *catalogRanges) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	if shard == "catalog" {
		d.n.Add(1)
	}
	return d.Driver.Range(ctx, shard, t, prefix, after, n)
}

// TestCatalogSkipsHiddenOwners: the catalog under auth lists what the
// caller may see, and jumps past the repositories of an owner it may not
// see instead of reading them page by page.
func TestCatalogSkipsHiddenOwners(t *testing.T) {
	d := &catalogRanges{Driver: memdriver.New()}
	meta := metadata.New(d)
	t.Cleanup(func() { meta.Close() })
	e := newAuthServer(t, meta, "", nil, nil)
	e.user("alice", "pw-alice-1", metadata.VisibilityPublic, false)
	e.org("hidden", metadata.VisibilityPrivate, nil)
	e.user("zed", "pw-zed-1", metadata.VisibilityPublic, false)
	ctx := t.Context()
	put := func(repo string) {
		t.Helper()
		m := metadata.Manifest{Digest: digest.FromString(repo), MediaType: "application/json", Body: []byte("{}")}
		if err := meta.PutManifest(ctx, repo, m, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	put("alice/app")
	for i := range 2000 {
		put(fmt.Sprintf("hidden/r%04d", i))
	}
	put("zed/a")
	put("zed/b")
	d.n.Store(0)
	got, resp := e.catalog(client{})
	if want := []string{"alice/app", "zed/a", "zed/b"}; !slices.Equal(got, want) {
		t.Fatalf("catalog = %v (%s), want %v", got, resp, want)
	}
	// 2,003 repositories, 100 a page: without the jump 21 Ranges.
	if n := d.n.Load(); n > 3 {
		t.Errorf("catalog read the catalog %d times, want at most 3", n)
	}
}
