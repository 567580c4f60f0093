package metadatatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
)

// selFilters are the filtered owner listings of testOwnerSelect and
// testFilteredCost: a query matching several packages and repositories,
// a bearer token naming single repositories (with and without the
// versions of every type), one type among others, and a query that
// matches nothing.
func selFilters() []metadata.OwnerFilter {
	return []metadata.OwnerFilter{
		{Packages: true, Containers: true, Query: "a"},
		{Packages: true, Type: "generic", Containers: true, Query: "A"},
		{Containers: true, Repository: func(repo string) bool { return repo != "sel/beta" }},
		{Packages: true, Containers: true, Repository: func(repo string) bool { return strings.HasSuffix(repo, "a") }},
		{Packages: true, Type: "generic", Containers: true},
		{Packages: true, Type: "other", Containers: true, Query: "t"},
		{Packages: true, Containers: true, Query: "zzz"},
	}
}

// checkDeep compares pages of the listing f of m at the start, in the
// middle and at the end (and past it) with the model.
func checkDeep(t *testing.T, db *metadata.DB, m *ownerModel, f metadata.OwnerFilter, what string) {
	t.Helper()
	want := m.list(f)
	n := len(want)
	for _, p := range [][2]int{{0, 50}, {n / 2, 50}, {n - 60, 100}, {n - 1, 7}, {n, 10}, {n + 5, 10}, {max(n-700, 0), -1}, {n / 3, 1}} {
		offset, limit := max(p[0], 0), p[1]
		items, total, err := db.ListOwner(t.Context(), m.owner, f, offset, limit)
		noErr(t, err, what)
		got := ownerItemNames(items)
		end := n
		if limit >= 0 {
			end = min(offset+limit, n)
		}
		exp := []string{}
		if offset < n {
			exp = want[offset:end]
		}
		if total != n || strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Fatalf("%s: ListOwner %+v offset %d limit %d: got %d %v, want %d %v", what, f, offset, limit, total, got, n, exp)
		}
	}
}

// testOwnerSelect: filtered owner listings (selFilters) at deep offsets
// over indexes of several chunks each, also after names are added and
// removed, tags move, versions, packages and a repository are deleted
// between the pages.
func testOwnerSelect(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	m := newOwnerModel("sel")
	rng := rand.New(rand.NewPCG(7, 8))
	now := time.Now().UTC().Truncate(time.Second)
	ms := make([]metadata.Manifest, 12)
	for i := range ms {
		ms[i] = newManifest(fmt.Sprint("sel", i))
		ms[i].Created = now.Add(time.Duration(rng.IntN(600)-300) * time.Second)
	}
	tags := func(prefix string, from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(prefix, from+i)
		}
		return out
	}
	// Repositories of 1,400, 700 and 60 tags; packages of 600, 300 and
	// 20 versions (one of type other).
	for i, n := range map[string]int{"sel/alpha": 1400, "sel/beta": 700, "sel/c/ta": 60} {
		for j := 0; j < n; j += 100 {
			m.tag(t, w, i, ms[rng.IntN(len(ms))], tags("t", j, min(100, n-j))...)
		}
	}
	for _, p := range []struct {
		typ, name string
		n         int
	}{{"generic", "tool", 600}, {"generic", "data", 300}, {"other", "beta", 20}} {
		for j := range p.n {
			m.putVersion(t, w, p.typ, p.name, fmt.Sprint("1.", j))
		}
	}
	check := func(what string) {
		t.Helper()
		for _, f := range selFilters() {
			checkDeep(t, r, m, f, what)
		}
	}
	check("as written")

	// Between pages: a new repository and package that match, tag moves,
	// deletes of tags, versions, a package and a repository.
	m.tag(t, r, "sel/gamma", ms[0], tags("n", 0, 30)...)
	m.putVersion(t, r, "generic", "banana", "1.0")
	for i := range 40 {
		m.tag(t, r, "sel/alpha", ms[rng.IntN(len(ms))], fmt.Sprint("t", rng.IntN(1400)), fmt.Sprint("m", i))
	}
	for i := range 30 {
		tag := fmt.Sprint("t", rng.IntN(700))
		if _, ok := m.tags["sel/beta\x00"+tag]; ok {
			noErr(t, r.DeleteTag(ctx, "sel/beta", tag), "DeleteTag "+fmt.Sprint(i))
			delete(m.tags, "sel/beta\x00"+tag)
		}
	}
	for k, v := range m.versions {
		if v.Package.Name == "data" || (v.Package.Name == "tool" && v.ID%3 == 0) {
			_, err := r.DeletePackageVersion(ctx, metadata.PackageRef{Owner: "sel", Type: v.Package.Type, Name: v.Package.Name, Version: v.Version})
			noErr(t, err, "DeletePackageVersion")
			delete(m.versions, k)
		}
	}
	check("after moves and deletes")
	noErr(t, r.DeleteRepository(ctx, "sel/alpha"), "DeleteRepository")
	for k := range m.tags {
		if strings.HasPrefix(k, "sel/alpha\x00") {
			delete(m.tags, k)
		}
	}
	check("after DeleteRepository")
	m.tag(t, r, "sel/alpha", ms[1], "again")
	check("a repository made again")
}

// costing is a driver that counts calls (round trips on the remote
// drivers) and rows read (records returned by Get, GetMany, Follow and
// Range, also inside View and Update).
type costing struct {
	driver.Driver
	mu          sync.Mutex
	calls, rows int
}

func (c *costing) add(calls, rows int) {
	c.mu.Lock()
	c.calls += calls
	c.rows += rows
	c.mu.Unlock()
}

func (c *costing) take() (calls, rows int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, rows = c.calls, c.rows
	c.calls, c.rows = 0, 0
	return calls, rows
}

type costReader struct {
	driver.Reader
	c *costing
}

func (r costReader) Get(t driver.Table, key string) ([]byte, bool, error) {
	r.c.add(1, 1)
	return r.Reader.Get(t, key)
}

func (r costReader) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	kvs, more, err := r.Reader.Range(t, prefix, after, n)
	r.c.add(1, len(kvs))
	return kvs, more, err
}

type costTx struct {
	driver.Tx
	costReader
}

func (x costTx) Get(t driver.Table, key string) ([]byte, bool, error) {
	return x.costReader.Get(t, key)
}
func (x costTx) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	return x.costReader.Range(t, prefix, after, n)
}

func (c *costing) View(ctx context.Context, shard string, fn func(driver.Reader) error) error {
	return c.Driver.View(ctx, shard, func(r driver.Reader) error { return fn(costReader{r, c}) })
}

func (c *costing) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	c.add(1, 0)
	return c.Driver.Update(ctx, shard, func(tx driver.Tx) error { return fn(costTx{tx, costReader{tx, c}}) })
}

func (c *costing) Get(ctx context.Context, ref driver.Ref) ([]byte, bool, error) {
	c.add(1, 1)
	return c.Driver.Get(ctx, ref)
}

func (c *costing) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	c.add(1, len(refs))
	return c.Driver.GetMany(ctx, refs)
}

func (c *costing) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) ([]byte, bool, error) {
	c.add(1, 2)
	return c.Driver.Follow(ctx, shard, from, key, to)
}

func (c *costing) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	kvs, more, err := c.Driver.Range(ctx, shard, t, prefix, after, n)
	c.add(1, len(kvs))
	return kvs, more, err
}

// RangeMany is the driver's RangeMany (one call), or its Ranges one by
// one where it has none.
func (c *costing) RangeMany(ctx context.Context, qs []driver.RangeQuery) ([]driver.RangeResult, error) {
	rm, ok := c.Driver.(driver.RangeManyer)
	if !ok {
		out := make([]driver.RangeResult, len(qs))
		for i, q := range qs {
			kvs, more, err := c.Range(ctx, q.Shard, q.Table, q.Prefix, q.After, q.N)
			if err != nil {
				return nil, err
			}
			out[i] = driver.RangeResult{KVs: kvs, More: more}
		}
		return out, nil
	}
	res, err := rm.RangeMany(ctx, qs)
	rows := 0
	for _, r := range res {
		rows += len(r.KVs)
	}
	c.add(1, rows)
	return res, err
}

// costSlack is how many more rows than at offset 0 a page deep in a
// filtered listing may read: two chunks of the indexes merged, whatever
// the offset (a walk from the start read every entry before the page).
const costSlack = 2048

// costCalls is how many more calls it may take: a Range more for each
// index merged that the first page ends before (on drivers without
// RangeMany).
const costCalls = 5

// testFilteredCost (FilteredListingsCostTheSameDeep): a page of 100 at
// rank 4,650 to 12,050 of every filtered owner listing (selFilters) and of a
// package listing with a query costs about as many calls as the first page,
// and at most costSlack more rows (and costCalls more calls).
func testFilteredCost(t *testing.T, newDriver func(t *testing.T) driver.Driver) {
	t.Parallel()
	c := &costing{Driver: newDriver(t)}
	db := metadata.New(c)
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	ms := make([]metadata.Manifest, 8)
	for i := range ms {
		ms[i] = newManifest(fmt.Sprint("cost", i))
		ms[i].Created = time.Now().UTC().Add(time.Duration(i*37%8-4) * time.Hour)
	}
	for i, repo := range []string{"sel/alpha", "sel/beta", "sel/gamma"} {
		for j := range 16 {
			tags := make([]string, 150)
			for k := range tags {
				tags[k] = fmt.Sprint("t", j*150+k)
			}
			noErr(t, db.PutManifest(ctx, repo, ms[(i+j)%len(ms)], tags...), "PutManifest")
		}
	}
	noErr(t, inParallel(2500, func(j int) error {
		for _, name := range []string{"tool", "data"} {
			ref := metadata.PackageRef{Owner: "sel", Type: "generic", Name: name, Version: fmt.Sprint("1.", j)}
			if _, err := db.PutPackageFile(ctx, ref, pkgFile("f", fmt.Sprint(name, j)), metadata.PutFileOptions{}); err != nil {
				return err
			}
		}
		return nil
	}), "PutPackageFile")
	_, err := db.PutPackageFile(ctx, metadata.PackageRef{Owner: "sel", Type: "other", Name: "beta", Version: "1"}, pkgFile("f", "beta"), metadata.PutFileOptions{})
	noErr(t, err, "PutPackageFile")
	cost := func(what string, list func(offset int) (int, int, error)) {
		t.Helper()
		_, total, err := list(0) // builds what is not built yet
		noErr(t, err, what)
		c.take()
		n, _, err := list(0)
		calls0, rows0 := c.take()
		if noErr(t, err, what); n != min(100, total) {
			t.Fatalf("%s: first page of %d entries (of %d)", what, n, total)
		}
		deep := total - 150
		if deep < 4000 {
			t.Fatalf("%s: %d entries, too few to tell", what, total)
		}
		n, _, err = list(deep)
		calls, rows := c.take()
		if noErr(t, err, what); n != 100 {
			t.Fatalf("%s: page at %d of %d entries", what, deep, n)
		}
		t.Logf("%s: offset 0: %d calls, %d rows; offset %d: %d calls, %d rows", what, calls0, rows0, deep, calls, rows)
		if calls > calls0+costCalls || rows > rows0+costSlack {
			t.Fatalf("%s: the page at %d costs %d calls and %d rows, the first %d and %d", what, deep, calls, rows, calls0, rows0)
		}
	}
	for _, f := range selFilters() {
		if f.Query == "zzz" || f.Query == "t" {
			continue // too few entries to tell
		}
		cost(fmt.Sprintf("ListOwner %+v", f), func(offset int) (int, int, error) {
			items, total, err := db.ListOwner(ctx, "sel", f, offset, 100)
			return len(items), total, err
		})
	}
	for _, f := range []metadata.PackageFilter{{Query: "t"}, {Type: "generic", Query: "T"}} {
		cost(fmt.Sprintf("ListPackageVersions %+v", f), func(offset int) (int, int, error) {
			vs, total, err := db.ListPackageVersions(ctx, "sel", f, offset, 100)
			return len(vs), total, err
		})
	}
}
