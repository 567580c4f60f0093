package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

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

// callCounter counts every driver read and write, by shard kind.
type callCounter struct {
	driver.Driver
	mu    sync.Mutex
	calls map[string]int // shard kind (text before ':') → calls
}

func (d *callCounter) count(shard string) {
	kind, _, _ := strings.Cut(shard, ":")
	d.mu.Lock()
	d.calls[kind]++
	d.mu.Unlock()
}

func (d *callCounter) take() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls
	d.calls = map[string]int{}
	return c
}

func (d *callCounter) Get(ctx context.Context, ref driver.Ref) ([]byte, bool, error) {
	d.count(ref.Shard)
	return d.Driver.Get(ctx, ref)
}

func (d *callCounter) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	if len(refs) > 0 {
		d.count(refs[0].Shard)
	}
	return d.Driver.GetMany(ctx, refs)
}

func (d *callCounter) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) ([]byte, bool, error) {
	d.count(shard)
	return d.Driver.Follow(ctx, shard, from, key, to)
}

func (d *callCounter) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	d.count(shard)
	return d.Driver.Range(ctx, shard, t, prefix, after, n)
}

func (d *callCounter) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	d.count(shard)
	return d.Driver.Update(ctx, shard, fn)
}

func (d *callCounter) View(ctx context.Context, shard string, fn func(driver.Reader) error) error {
	d.count(shard)
	return d.Driver.View(ctx, shard, fn)
}

// TestCatalogHiddenOwnersCostNothing: 2,000 small private owners (and
// 500 repositories of owners without an account) between the owners a
// caller may see cost its catalog no read: the calls are the same as
// with none of them, for anonymous callers, members of a private
// organization and deploy tokens; and every page is what the caller may
// pull.
func TestCatalogHiddenOwnersCostNothing(t *testing.T) {
	d := &callCounter{Driver: memdriver.New(), calls: map[string]int{}}
	meta := metadata.New(d)
	t.Cleanup(func() { meta.Close() })
	e := newAuthServer(t, meta, "", nil, nil)
	ctx := t.Context()
	put := func(repo string) {
		t.Helper()
		m := metadata.Manifest{Digest: digest.FromString(repo), MediaType: "application/json", Body: []byte("{}")}
		if err := meta.PutManifest(ctx, repo, m, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	e.user("alice", "pw-alice-1", metadata.VisibilityPrivate, false)
	e.user("mid", "pw-mid-1", metadata.VisibilityPublic, false)
	e.user("zed", "pw-zed-1", metadata.VisibilityPublic, false)
	e.org("h1000", metadata.VisibilityPrivate, map[string]metadata.Role{"alice": metadata.RoleRead})
	deploy, _ := e.token(metadata.TokenDeploy, "h1000", "ci", "read:packages")
	for _, repo := range []string{"alice/a", "h1000/x", "h1000/y", "mid/a", "mid/b/c", "zed/a"} {
		put(repo)
	}
	callers := []struct {
		name string
		c    client
		want []string
	}{
		{"anonymous", client{}, []string{"mid/a", "mid/b/c", "zed/a"}},
		{"member", client{user: "alice", pass: "pw-alice-1"}, []string{"alice/a", "h1000/x", "h1000/y", "mid/a", "mid/b/c", "zed/a"}},
		{"deploy token", client{user: "h1000", pass: deploy}, []string{"h1000/x", "h1000/y", "mid/a", "mid/b/c", "zed/a"}},
	}
	measure := func() map[string]map[string]int {
		out := map[string]map[string]int{}
		for _, c := range callers {
			e.catalog(c.c) // warms the caller's caches
			d.take()
			got, resp := e.catalog(c.c)
			out[c.name] = d.take()
			if !slices.Equal(got, c.want) {
				t.Fatalf("%s: catalog = %v (%s), want %v", c.name, got, resp, c.want)
			}
			// Page by page, one repository a page.
			var paged []string
			last := ""
			for range len(c.want) + 1 {
				resp := e.oci(c.c, http.MethodGet, "/v2/_catalog?n=1&last="+last, nil)
				var body struct{ Repositories []string }
				if err := json.Unmarshal(resp.body, &body); err != nil || resp.status != http.StatusOK {
					t.Fatalf("%s: page after %q: %s", c.name, last, resp)
				}
				paged = append(paged, body.Repositories...)
				if resp.header.Get("Link") == "" {
					break
				}
				last = body.Repositories[len(body.Repositories)-1]
			}
			if !slices.Equal(paged, c.want) {
				t.Fatalf("%s: pages = %v, want %v", c.name, paged, c.want)
			}
		}
		return out
	}
	before := measure()
	for i := range 2000 {
		name := fmt.Sprintf("h%04d", i)
		if name != "h1000" {
			e.org(name, metadata.VisibilityPrivate, nil)
			put(name + "/r")
		}
	}
	for i := range 500 {
		put(fmt.Sprintf("m%04d/r", i))
	}
	after := measure()
	for name, calls := range before {
		if !maps.Equal(calls, after[name]) {
			t.Errorf("%s: the catalog made %v calls with 2,500 hidden owners, %v without", name, after[name], calls)
		}
	}
	t.Logf("calls of one catalog request by shard: %v", after)
}
