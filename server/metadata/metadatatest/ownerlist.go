package metadatatest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
)

// ownerModel is what an owner listing must show, kept by the tests of
// ListOwner: package versions and tags of the owner's repositories.
type ownerModel struct {
	owner    string
	versions map[string]metadata.PackageVersion // type/name/version → version as stored
	tags     map[string]time.Time               // repo NUL tag → its manifest's Created
}

func newOwnerModel(owner string) *ownerModel {
	return &ownerModel{owner: owner, versions: map[string]metadata.PackageVersion{}, tags: map[string]time.Time{}}
}

type ownerEntry struct {
	created  time.Time
	tag      bool
	name, id string // tag: tag NUL repo; version: its ID, descending
	show     string
}

// list returns the model's entries passing f, in ListOwner's order.
func (m *ownerModel) list(f metadata.OwnerFilter) []string {
	var es []ownerEntry
	if f.Packages {
		for _, v := range m.versions {
			if (metadata.PackageFilter{Type: f.Type, Query: f.Query}).Match(v.Package.Type, v.Package.Name) {
				es = append(es, ownerEntry{created: v.Created, id: fmt.Sprintf("%016x", 1<<62-v.ID), show: v.Package.Name + "/" + v.Version})
			}
		}
	}
	if f.Containers {
		for k, c := range m.tags {
			repo, tag, _ := strings.Cut(k, "\x00")
			name := strings.TrimPrefix(repo, m.owner+"/")
			if !strings.Contains(name, strings.ToLower(f.Query)) || (f.Repository != nil && !f.Repository(repo)) {
				continue
			}
			es = append(es, ownerEntry{created: c, tag: true, name: tag + "\x00" + repo, show: repo + ":" + tag})
		}
	}
	// Without tags of the owner, ListOwner is ListPackageVersions: by ID.
	onlyVersions := !f.Containers || len(m.tags) == 0
	slices.SortFunc(es, func(a, b ownerEntry) int {
		if onlyVersions { // ListPackageVersions: by ID
			return strings.Compare(a.id, b.id)
		}
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name+a.id, b.name+b.id)
	})
	out := []string{}
	for _, e := range es {
		out = append(out, e.show)
	}
	return out
}

func ownerItemNames(items []metadata.OwnerItem) []string {
	out := []string{}
	for _, it := range items {
		if it.Version != nil {
			out = append(out, it.Version.Package.Name+"/"+it.Version.Version)
		} else {
			out = append(out, it.Repository+":"+it.Tag.Tag)
		}
	}
	return out
}

// ownerFilters are the filters every owner listing test checks.
func ownerFilters() []metadata.OwnerFilter {
	return []metadata.OwnerFilter{
		{Packages: true, Type: "generic", Containers: true},
		{Packages: true, Containers: true},
		{Containers: true},
		{Packages: true, Type: "generic"},
		{Packages: true, Type: "other", Containers: true},
		{Packages: true, Type: "generic", Containers: true, Query: "B"},
		{Containers: true, Repository: func(repo string) bool { return repo != "mix/b" }},
		{Packages: true, Containers: true, Query: "a"},
		{Packages: true, Containers: true, Repository: func(repo string) bool { return repo != "mix/a" }},
		{Packages: true, Type: "other", Containers: true, Query: "l"},
		{Packages: true, Type: "generic", Containers: true, Repository: func(repo string) bool { return repo == "mix/c/d" }},
		{Containers: true, Query: "c/"},
		{Packages: true, Containers: true, Query: "zzz"},
	}
}

// checkOwner compares every listing of ownerFilters with the model.
func checkOwner(t *testing.T, db *metadata.DB, m *ownerModel, what string) {
	t.Helper()
	for _, f := range ownerFilters() {
		checkPages(t, fmt.Sprintf("%s: ListOwner %+v", what, f), m.list(f), func(offset, limit int) ([]string, int, error) {
			items, total, err := db.ListOwner(t.Context(), strings.ToUpper(m.owner), f, offset, limit)
			return ownerItemNames(items), total, err
		})
	}
}

// putVersion stores a version and records it in the model.
func (m *ownerModel) putVersion(t *testing.T, db *metadata.DB, typ, name, version string) {
	t.Helper()
	r := metadata.PackageRef{Owner: m.owner, Type: typ, Name: name, Version: version}
	v, err := db.PutPackageFile(t.Context(), r, pkgFile("f", name+version), metadata.PutFileOptions{})
	noErr(t, err, "put version")
	m.versions[typ+"/"+name+"/"+version] = v
}

// tag points tags of repo at manifest mf and records it in the model.
func (m *ownerModel) tag(t *testing.T, db *metadata.DB, repo string, mf metadata.Manifest, tags ...string) {
	t.Helper()
	noErr(t, db.PutManifest(t.Context(), repo, mf, tags...), "PutManifest "+repo)
	for _, tag := range tags {
		m.tags[repo+"\x00"+tag] = mf.Created
	}
}

func testOwnerPages(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	m := newOwnerModel("mix")
	rng := rand.New(rand.NewPCG(5, 6))
	ms := make([]metadata.Manifest, 30)
	for i := range ms {
		ms[i] = newManifest(fmt.Sprint("om", i))
		ms[i].Created = time.Now().Add(time.Duration(rng.IntN(40)-20) * time.Second).UTC().Truncate(time.Second) // ties
	}
	repos := []string{"mix/a", "mix/b", "mix/c/d"}
	names := []string{"tool", "Beta", "lib"}
	for i := range 700 {
		switch i % 3 {
		case 0:
			typ := "generic"
			if i%21 == 0 {
				typ = "other"
			}
			m.putVersion(t, w, typ, names[rng.IntN(len(names))], fmt.Sprint("1.", i))
		default:
			m.tag(t, w, repos[rng.IntN(len(repos))], ms[rng.IntN(len(ms))], fmt.Sprint("t", i), fmt.Sprint("u", i))
		}
	}
	// Neighbours that are not the owner's repositories.
	noErr(t, w.PutManifest(ctx, "mixer/x", ms[0], "t1"), "PutManifest mixer/x")
	noErr(t, w.PutManifest(ctx, "mix", ms[0], "t1"), "PutManifest mix")
	checkOwner(t, r, m, "after writes")

	// Moves, deletes of tags, manifests, versions and a repository,
	// through the store that reads.
	for i := range 60 {
		repo := repos[rng.IntN(len(repos))]
		tag := fmt.Sprint("t", 3*rng.IntN(233)+1+rng.IntN(2))
		if _, ok := m.tags[repo+"\x00"+tag]; !ok {
			continue
		}
		if i%2 == 0 {
			m.tag(t, r, repo, ms[rng.IntN(len(ms))], tag)
			continue
		}
		noErr(t, r.DeleteTag(ctx, repo, tag), "DeleteTag")
		delete(m.tags, repo+"\x00"+tag)
	}
	noErr(t, r.DeleteManifest(ctx, "mix/a", ms[3].Digest), "DeleteManifest")
	for k := range m.tags {
		if strings.HasPrefix(k, "mix/a\x00") {
			// DeleteManifest removed the tags on ms[3]; read them back.
			repo, tag, _ := strings.Cut(k, "\x00")
			if _, err := r.GetManifest(ctx, repo, tag); errors.Is(err, metadata.ErrNotFound) {
				delete(m.tags, k)
			}
		}
	}
	for k, v := range m.versions {
		if v.ID%4 == 0 {
			_, err := r.DeletePackageVersion(ctx, metadata.PackageRef{Owner: "mix", Type: v.Package.Type, Name: v.Package.Name, Version: v.Version})
			noErr(t, err, "DeletePackageVersion")
			delete(m.versions, k)
		}
	}
	checkOwner(t, r, m, "after moves and deletes")

	// Pushes of what is there (nothing to write: db_repush.go), alone and
	// with a new tag beside them, through the store that reads (the legacy
	// writer keeps no indexes).
	n := 0
	for _, k := range slices.Sorted(maps.Keys(m.tags)) {
		if n++; n > 24 {
			break
		}
		repo, tag, _ := strings.Cut(k, "\x00")
		cur, err := r.GetManifest(ctx, repo, tag)
		noErr(t, err, "GetManifest "+k)
		if n%2 == 0 {
			m.tag(t, r, repo, cur, tag)
		} else {
			m.tag(t, r, repo, cur, tag, fmt.Sprint("again", n))
		}
	}
	checkOwner(t, r, m, "after pushes of what is there")
	// A tag that the legacy writer wrote after the indexes were built has
	// no owner entries: pushing it again through r enters them.
	noErr(t, w.PutManifest(ctx, "mix/a", ms[7], "late"), "PutManifest late")
	m.tag(t, r, "mix/a", ms[7], "late")
	checkOwner(t, r, m, "after a push of a tag without entries")
	noErr(t, r.DeleteRepository(ctx, "mix/b"), "DeleteRepository")
	for k := range m.tags {
		if strings.HasPrefix(k, "mix/b\x00") {
			delete(m.tags, k)
		}
	}
	m.tag(t, r, "mix/new", ms[5], "n1", "n2")
	checkOwner(t, r, m, "after DeleteRepository")

	// An owner with only tags, and one with nothing.
	o := newOwnerModel("only")
	o.tag(t, w, "only/x", ms[1], "a", "b")
	o.tag(t, w, "only/y", ms[1], "a")
	checkOwner(t, r, o, "an owner with tags only")
	items, total, err := r.ListOwner(ctx, "nobody", metadata.OwnerFilter{Packages: true, Containers: true}, 0, 10)
	if err != nil || total != 0 || items == nil || len(items) != 0 {
		t.Fatalf("unknown owner: %v, %d, %v", items, total, err)
	}
}

// faulty is a driver whose Updates fail (as a crash of the process would
// leave them: not run) or run a hook first, as fault says for each call.
type faulty struct {
	driver.Driver
	mu      sync.Mutex
	fault   func(shard string) (fail bool, before func())
	updates map[string]int // shard → Updates
}

var errCrash = errors.New("metadatatest: simulated crash")

func (d *faulty) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	d.mu.Lock()
	f := d.fault
	d.updates[shard]++
	d.mu.Unlock()
	if f != nil {
		fail, before := f(shard)
		if before != nil {
			before()
		}
		if fail {
			return errCrash
		}
	}
	return d.Driver.Update(ctx, shard, fn)
}

// arm makes the n-th next Update of shard fail (fail) or run before
// first; other calls run as usual.
func (d *faulty) arm(shard string, n int, fail bool, before func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := 0
	d.fault = func(s string) (bool, func()) {
		if s != shard {
			return false, nil
		}
		if seen++; seen != n {
			return false, nil
		}
		return fail, before
	}
}

// testOwnerCrashes: a process that dies between the steps of a tag write
// or delete never leaves the owner listing wrong, and a reader that meets
// a write in flight neither shows its tag early nor loses it.
func testOwnerCrashes(t *testing.T, newDriver func(t *testing.T) driver.Driver) {
	t.Parallel()
	d := &faulty{Driver: newDriver(t), updates: map[string]int{}}
	db := metadata.New(d, metadata.WithRepairGrace(0)) // repairs at once
	t.Cleanup(func() { db.Close() })
	graceful := metadata.New(d) // leaves young entries alone
	ctx := t.Context()
	m := newOwnerModel("mix")
	ms := []metadata.Manifest{newManifest("c0"), newManifest("c1"), newManifest("c2")}
	for i := range ms {
		ms[i].Created = base.Add(time.Duration(i) * time.Minute)
	}
	m.putVersion(t, db, "generic", "tool", "1.0")
	m.tag(t, db, "mix/a", ms[0], "latest", "v0")
	m.tag(t, db, "mix/b", ms[1], "v1")
	checkOwner(t, db, m, "before the crashes")

	// Crash after the owner entries, before the tags: nothing shows.
	d.arm("repo:mix/a", 1, true, nil)
	if err := db.PutManifest(ctx, "mix/a", ms[2], "crashed"); !errors.Is(err, errCrash) {
		t.Fatalf("PutManifest with a crash: %v", err)
	}
	d.arm("", 0, false, nil)
	checkOwner(t, db, m, "a crash before the tags")

	// Crash after the tags moved, before their old entries went.
	d.arm("owner:mix", 2, true, nil)
	noErr(t, db.PutManifest(ctx, "mix/a", ms[2], "latest"), "PutManifest moving latest")
	m.tags["mix/a\x00latest"] = ms[2].Created
	d.arm("", 0, false, nil)
	checkOwner(t, db, m, "a crash before the old entries went")

	// Crash after DeleteTag and DeleteRepository committed.
	d.arm("owner:mix", 1, true, nil)
	noErr(t, db.DeleteTag(ctx, "mix/a", "v0"), "DeleteTag")
	delete(m.tags, "mix/a\x00v0")
	d.arm("owner:mix", 1, true, nil)
	noErr(t, db.DeleteRepository(ctx, "mix/b"), "DeleteRepository")
	delete(m.tags, "mix/b\x00v1")
	d.arm("", 0, false, nil)
	checkOwner(t, db, m, "crashes after deletes")

	// A reader between a write's entries and its tags repairs (refuses)
	// the write, which then starts again: the tag shows once it is there.
	var during []string
	d.arm("repo:mix/a", 1, false, func() {
		items, _, err := db.ListOwner(ctx, "mix", metadata.OwnerFilter{Containers: true}, 0, -1)
		noErr(t, err, "ListOwner during a write")
		during = ownerItemNames(items)
	})
	noErr(t, db.PutManifest(ctx, "mix/a", ms[1], "raced"), "PutManifest raced by a reader")
	d.arm("", 0, false, nil)
	if slices.Contains(during, "mix/a:raced") {
		t.Fatalf("a reader saw the tag of a write in flight: %v", during)
	}
	m.tags["mix/a\x00raced"] = ms[1].Created
	checkOwner(t, db, m, "a write raced by a reader")

	// With the grace, a reader in the middle of a write neither lists its
	// tag nor refuses it: the write commits at its first attempt.
	d.arm("repo:mix/a", 1, false, func() {
		items, _, err := graceful.ListOwner(ctx, "mix", metadata.OwnerFilter{Containers: true}, 0, -1)
		noErr(t, err, "ListOwner during a write")
		during = ownerItemNames(items)
	})
	d.mu.Lock()
	d.updates["repo:mix/a"] = 0
	d.mu.Unlock()
	noErr(t, graceful.PutManifest(ctx, "mix/a", ms[0], "polite"), "PutManifest next to a graceful reader")
	d.arm("", 0, false, nil)
	if slices.Contains(during, "mix/a:polite") || d.updates["repo:mix/a"] != 1 {
		t.Fatalf("a graceful reader saw %v and the write took %d repository transactions", during, d.updates["repo:mix/a"])
	}
	m.tags["mix/a\x00polite"] = ms[0].Created
	checkOwner(t, graceful, m, "a write next to a graceful reader")

	// A new repository of the owner after the crashes.
	noErr(t, db.PutManifest(ctx, "mix/c", ms[0], "x"), "PutManifest mix/c")
	m.tags["mix/c\x00x"] = ms[0].Created
	checkOwner(t, db, m, "after all")
}

// testCatalogOf: RepositoriesOf lists, in catalog order and page after
// page from any last, the repositories of the owners of a set — also
// where owner names are prefixes of each other ("k", "k-x", "k.y") and
// repositories are named like their owner.
func testCatalogOf(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	vis := map[string]metadata.Visibility{}
	for i, name := range []string{"k", "k-x", "k.y", "k-x-z", "ka", "k_b", "pub", "lim", "priv", "org", "z"} {
		v := []metadata.Visibility{metadata.VisibilityPublic, metadata.VisibilityLimited, metadata.VisibilityPrivate}[i%3]
		typ := metadata.AccountUser
		if name == "org" {
			typ = metadata.AccountOrganization
		}
		_, err := w.CreateAccount(ctx, metadata.Account{Name: strings.ToUpper(name[:1]) + name[1:], Type: typ, Visibility: v})
		noErr(t, err, "CreateAccount "+name)
		vis[name] = v
	}
	noErr(t, w.SetMember(ctx, "org", "k", metadata.RoleRead), "SetMember")
	var repos []string
	for owner := range vis {
		repos = append(repos, owner, owner+"/a", owner+"/b/c", owner+"/z")
	}
	repos = append(repos, "z/x", "noaccount/x", "k-x-/y")
	for _, repo := range repos {
		noErr(t, w.PutManifest(ctx, repo, newManifest("c"+repo)), "PutManifest "+repo)
	}
	slices.Sort(repos)
	orgs, err := r.Memberships(ctx, "K")
	if noErr(t, err, "Memberships"); !slices.Equal(orgs, []string{"org"}) {
		t.Fatalf("Memberships = %v", orgs)
	}
	check := func(what string) {
		t.Helper()
		for _, s := range []metadata.OwnerSet{
			{Visibilities: []metadata.Visibility{metadata.VisibilityPublic}},
			{Visibilities: []metadata.Visibility{metadata.VisibilityPublic, metadata.VisibilityLimited}, Owners: []string{"K", "org", "k-x"}},
			{Owners: []string{"noaccount", "k.y"}},
			{Visibilities: []metadata.Visibility{metadata.VisibilityLimited}},
			{All: true},
			{},
		} {
			in := map[string]bool{}
			for _, o := range s.Owners {
				in[strings.ToLower(o)] = true
			}
			want := []string{}
			for _, repo := range repos {
				owner, _, _ := strings.Cut(repo, "/")
				v, ok := vis[owner]
				if s.All || in[owner] || ok && slices.Contains(s.Visibilities, v) {
					want = append(want, repo)
				}
			}
			lasts := append([]string{"", "k-", "k/", "k-x/a", "k.y/zz", "k/b", "zzz", "k-x-/y"}, want...)
			for _, last := range lasts {
				exp := []string{}
				for _, repo := range want {
					if repo > last {
						exp = append(exp, repo)
					}
				}
				for _, n := range []int{-1, 0, 1, 2, 5, 100} {
					got, more, err := r.RepositoriesOf(ctx, s, last, n)
					noErr(t, err, "RepositoriesOf")
					e, emore := exp, false
					if n >= 0 && len(e) > n {
						e, emore = e[:n], true
					}
					if !slices.Equal(got, e) || more != emore {
						t.Fatalf("%s: RepositoriesOf(%+v, %q, %d) = %v (more %v), want %v (more %v)", what, s, last, n, got, more, e, emore)
					}
				}
			}
		}
	}
	check("as written")
	// Visibility changes and a deleted account, through the reading store.
	noErr(t, r.UpdateAccount(ctx, metadata.Account{Name: "pub", Visibility: metadata.VisibilityPrivate}), "UpdateAccount")
	vis["pub"] = metadata.VisibilityPrivate
	noErr(t, r.UpdateAccount(ctx, metadata.Account{Name: "priv", Visibility: metadata.VisibilityPublic}), "UpdateAccount")
	vis["priv"] = metadata.VisibilityPublic
	noErr(t, r.DeleteAccount(ctx, "z"), "DeleteAccount")
	delete(vis, "z")
	check("after visibility changes")

}

// testOwnerConcurrent: tag writes to several repositories of one owner,
// moves among them, and a reader listing all along (which may refuse
// writes in flight) end with the listing of exactly the tags written.
func testOwnerConcurrent(t *testing.T, open listOpener) {
	_, db := open(t)
	ctx := t.Context()
	ms := []metadata.Manifest{newManifest("p0"), newManifest("p1"), newManifest("p2")}
	for i := range ms {
		ms[i].Created = base.Add(time.Duration(i) * time.Second)
	}
	const writers, each = 4, 20
	m := newOwnerModel("conc")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = make(chan error, writers+1)
		stop = make(chan struct{})
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprintf("conc/r%d", w%2)
			for i := range each {
				mf, tag := ms[i%3], fmt.Sprintf("w%d-%d", w, i%7) // tags move
				if err := db.PutManifest(ctx, repo, mf, tag); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				m.tags[repo+"\x00"+tag] = mf.Created
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := db.ListOwner(ctx, "conc", metadata.OwnerFilter{Containers: true}, 0, 10); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	for err := range errs {
		noErr(t, err, "concurrent writes and reads")
	}
	checkOwner(t, db, m, "after concurrent writes")
}
