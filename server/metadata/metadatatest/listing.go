package metadatatest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/pkgversion"
)

// RunListings runs the contract of the paged listings (package versions
// of an owner, a type and a package; tags with their manifests; an
// owner's versions and tags together, also across crashes) and of latest, over metadata.New on the drivers newDriver returns, against a
// model kept by the test. Enough entries are written that the indexes
// split and merge their chunks. Legacy runs the same on a store written
// with metadata.WithoutListIndexes (as before the indexes existed) and
// then opened normally, Unselected on one written with
// metadata.WithoutSelectionIndexes (as before the selection indexes).
// FilteredListingsCostTheSameDeep counts the calls and rows of filtered
// listings at offset 0 and deep in them.
func RunListings(t *testing.T, newDriver func(t *testing.T) driver.Driver) {
	for _, name := range []string{"Indexed", "Legacy", "Unselected"} {
		open := func(t *testing.T) (write, read *metadata.DB) {
			t.Helper()
			t.Parallel()
			d := newDriver(t)
			read = metadata.New(d)
			t.Cleanup(func() { read.Close() })
			switch name {
			case "Legacy":
				return metadata.New(d, metadata.WithoutListIndexes()), read
			case "Unselected":
				return metadata.New(d, metadata.WithoutSelectionIndexes()), read
			}
			return read, read
		}
		t.Run(name, func(t *testing.T) {
			t.Run("PackagePages", func(t *testing.T) { testPackagePages(t, open) })
			t.Run("PackageLatest", func(t *testing.T) { testPackageLatest(t, open) })
			t.Run("TagPages", func(t *testing.T) { testTagPages(t, open) })
			t.Run("OwnerPages", func(t *testing.T) { testOwnerPages(t, open) })
			t.Run("CatalogOf", func(t *testing.T) { testCatalogOf(t, open) })
			t.Run("OwnerConcurrent", func(t *testing.T) { testOwnerConcurrent(t, open) })
			t.Run("OwnerSelect", func(t *testing.T) { testOwnerSelect(t, open) })
		})
	}
	t.Run("OwnerCrashes", func(t *testing.T) { testOwnerCrashes(t, newDriver) })
	t.Run("FilteredListingsCostTheSameDeep", func(t *testing.T) { testFilteredCost(t, newDriver) })
}

type listOpener func(t *testing.T) (write, read *metadata.DB)

func versionNames(vs []metadata.PackageVersion) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Package.Name+"/"+v.Version)
	}
	return out
}

// checkPages reads want through list in pages of several sizes (and
// from offsets past the end) and fails on any difference.
func checkPages(t *testing.T, what string, want []string, list func(offset, limit int) ([]string, int, error)) {
	t.Helper()
	for _, limit := range []int{-1, 1, 7, 50, 600} {
		for offset := 0; offset <= len(want)+1; offset += max(limit, 1) * 3 {
			got, total, err := list(offset, limit)
			noErr(t, err, what)
			end := len(want)
			if limit >= 0 {
				end = min(offset+limit, len(want))
			}
			exp := []string{}
			if offset < len(want) {
				exp = want[offset:end]
			}
			if total != len(want) || !slices.Equal(got, exp) {
				t.Fatalf("%s offset %d limit %d: got %d %v, want %d %v", what, offset, limit, total, got, len(want), exp)
			}
			if limit < 0 {
				break
			}
		}
	}
}

func testPackagePages(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	type ver struct{ typ, name, version string }
	var all []ver // oldest first
	names := []string{"alpha", "Beta", "alphabet", "gamma"}
	for i := range 1300 {
		v := ver{"generic", names[rng.IntN(len(names))], fmt.Sprintf("1.%d.0", i)}
		if i%5 == 0 {
			v.typ = "other"
		}
		_, err := w.PutPackageFile(ctx, metadata.PackageRef{Owner: "Lister", Type: v.typ, Name: v.name, Version: v.version}, pkgFile("f", v.name+v.version), metadata.PutFileOptions{SemVer: true})
		noErr(t, err, "put")
		all = append(all, v)
	}
	// Delete a third, at random (chunks shrink and go).
	for i := 0; i < len(all); {
		if rng.IntN(3) == 0 {
			v := all[i]
			_, err := w.DeletePackageVersion(ctx, metadata.PackageRef{Owner: "lister", Type: v.typ, Name: v.name, Version: v.version})
			noErr(t, err, "delete")
			all = slices.Delete(all, i, i+1)
			continue
		}
		i++
	}
	model := func(keep func(ver) bool) []string {
		out := []string{}
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i].name+"/"+all[i].version)
			}
		}
		return out
	}
	for _, f := range []metadata.PackageFilter{{}, {Type: "generic"}, {Type: "OTHER"}, {Query: "ALPH"}, {Type: "generic", Query: "et"}, {Type: "nope"}} {
		want := model(func(v ver) bool { return f.Match(v.typ, v.name) })
		checkPages(t, fmt.Sprintf("ListPackageVersions %+v", f), want, func(offset, limit int) ([]string, int, error) {
			vs, total, err := r.ListPackageVersions(ctx, "LISTER", f, offset, limit)
			return versionNames(vs), total, err
		})
	}
	for _, n := range names {
		want := model(func(v ver) bool { return v.typ == "generic" && strings.EqualFold(v.name, n) })
		checkPages(t, "PackageVersions "+n, want, func(offset, limit int) ([]string, int, error) {
			vs, total, err := r.PackageVersions(ctx, metadata.PackageRef{Owner: "lister", Type: "generic", Name: strings.ToUpper(n)}, offset, limit)
			return versionNames(vs), total, err
		})
	}
	// After writes through the indexed store, the lists still agree.
	_, err := r.PutPackageFile(ctx, metadata.PackageRef{Owner: "lister", Type: "generic", Name: "gamma", Version: "9.0.0"}, pkgFile("f", "late"), metadata.PutFileOptions{SemVer: true})
	noErr(t, err, "put after reopen")
	all = append(all, ver{"generic", "gamma", "9.0.0"})
	want := model(func(ver) bool { return true })
	checkPages(t, "ListPackageVersions after a late put", want, func(offset, limit int) ([]string, int, error) {
		vs, total, err := r.ListPackageVersions(ctx, "lister", metadata.PackageFilter{}, offset, limit)
		return versionNames(vs), total, err
	})
	_, _, err = r.PackageVersions(ctx, metadata.PackageRef{Owner: "lister", Type: "generic", Name: "nope"}, 0, 1)
	wantErr(t, err, metadata.ErrNotFound, "PackageVersions of a missing package")
	vs, total, err := r.ListPackageVersions(ctx, "nobody", metadata.PackageFilter{}, 0, 10)
	noErr(t, err, "unknown owner")
	if total != 0 || vs == nil || len(vs) != 0 {
		t.Fatalf("unknown owner: %v, %d", vs, total)
	}
}

func testPackageLatest(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	ref := func(name, v string) metadata.PackageRef {
		return metadata.PackageRef{Owner: "o", Type: "generic", Name: name, Version: v}
	}
	put := func(db *metadata.DB, name, v string) {
		t.Helper()
		_, err := db.PutPackageFile(ctx, ref(name, v), pkgFile("f", name+v), metadata.PutFileOptions{SemVer: pkgversion.IsSemVer(v)})
		noErr(t, err, "put "+name+" "+v)
	}
	latest := func(name, want string, wantSemVer bool) {
		t.Helper()
		v, semver, err := r.LatestPackageVersion(ctx, ref(name, ""))
		noErr(t, err, "latest of "+name)
		if v.Version != want || semver != wantSemVer || len(v.Files) != 1 || v.Package.Name != name {
			t.Fatalf("latest of %s = %s (semver %v, %d files), want %s (semver %v)", name, v.Version, semver, len(v.Files), want, wantSemVer)
		}
	}
	for _, v := range []string{"1.0.0", "2.0.0-rc.1", "1.10.0", "v1.9.0", "1.10.0-beta"} {
		put(w, "sem", v)
	}
	for _, v := range []string{"b", "1.0.0", "a"} {
		put(w, "mixed", v)
	}
	latest("sem", "1.10.0", true)
	latest("mixed", "a", false)
	del := func(name, v string) {
		t.Helper()
		_, err := r.DeletePackageVersion(ctx, ref(name, v))
		noErr(t, err, "delete "+name+" "+v)
	}
	del("sem", "1.10.0")
	latest("sem", "v1.9.0", true)
	del("sem", "1.0.0")
	del("sem", "v1.9.0")
	latest("sem", "2.0.0-rc.1", true)
	del("mixed", "a")
	latest("mixed", "1.0.0", false)
	del("mixed", "b")
	latest("mixed", "1.0.0", true) // every version left is SemVer
	put(r, "mixed", "c")
	latest("mixed", "c", false)
	_, _, err := r.LatestPackageVersion(ctx, ref("none", ""))
	wantErr(t, err, metadata.ErrNotFound, "latest of a missing package")
}

func testTagPages(t *testing.T, open listOpener) {
	w, r := open(t)
	ctx := t.Context()
	const repo = "lister/app"
	rng := rand.New(rand.NewPCG(3, 4))
	created := map[string]time.Time{} // tag → its manifest's Created
	digestOf := map[string]string{}
	ms := make([]metadata.Manifest, 40)
	for i := range ms {
		ms[i] = newManifest(fmt.Sprint("m", i))
		ms[i].Created = base.Add(time.Duration(rng.IntN(20)) * time.Second) // ties by tag
	}
	tagOn := func(db *metadata.DB, m metadata.Manifest, tags ...string) {
		t.Helper()
		noErr(t, db.PutManifest(ctx, repo, m, tags...), "PutManifest")
		for _, tag := range tags {
			created[tag], digestOf[tag] = m.Created, string(m.Digest)
		}
	}
	for i := range 1200 {
		tagOn(w, ms[rng.IntN(len(ms))], fmt.Sprintf("1.0.%d", i))
	}
	for i := range 100 { // moves
		tagOn(w, ms[rng.IntN(len(ms))], fmt.Sprintf("1.0.%d", rng.IntN(1200)), fmt.Sprint("t", i))
	}
	for i := range 200 {
		tag := fmt.Sprintf("1.0.%d", rng.IntN(1200))
		if _, ok := created[tag]; !ok {
			continue
		}
		noErr(t, w.DeleteTag(ctx, repo, tag), "DeleteTag "+fmt.Sprint(i))
		delete(created, tag)
	}
	noErr(t, w.DeleteManifest(ctx, repo, ms[7].Digest), "DeleteManifest")
	for tag, d := range digestOf {
		if d == string(ms[7].Digest) {
			delete(created, tag)
		}
	}
	model := func() []string {
		out := []string{}
		for tag := range created {
			out = append(out, tag)
		}
		slices.SortFunc(out, func(a, b string) int {
			if c := created[b].Compare(created[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		return out
	}
	check := func(what string) {
		t.Helper()
		checkPages(t, what, model(), func(offset, limit int) ([]string, int, error) {
			tms, total, err := r.TagPage(ctx, repo, offset, limit)
			out := []string{}
			for _, tm := range tms {
				if string(tm.Digest) != digestOf[tm.Tag] || !tm.Created.Equal(created[tm.Tag]) {
					t.Fatalf("%s: tag %s with manifest %s created %v, want %s %v", what, tm.Tag, tm.Digest, tm.Created, digestOf[tm.Tag], created[tm.Tag])
				}
				out = append(out, tm.Tag)
			}
			return out, total, err
		})
	}
	check("TagPage")
	latest := func(want string, wantSemVer bool) {
		t.Helper()
		tm, semver, err := r.LatestTag(ctx, repo)
		noErr(t, err, "LatestTag")
		if tm.Tag != want || semver != wantSemVer || string(tm.Digest) != digestOf[want] {
			t.Fatalf("LatestTag = %s (%s, semver %v), want %s (%s, semver %v)", tm.Tag, tm.Digest, semver, want, digestOf[want], wantSemVer)
		}
	}
	latest(model()[0], false) // t0… are not SemVer: the newest
	for tag := range created {
		if strings.HasPrefix(tag, "t") {
			noErr(t, r.DeleteTag(ctx, repo, tag), "DeleteTag")
			delete(created, tag)
		}
	}
	left := model()
	i, ok := pkgversion.LatestSemVer(left)
	if !ok {
		t.Fatalf("tags left are not all SemVer: %v", left)
	}
	latest(left[i], true)
	tagOn(r, ms[3], "9.9.9")
	latest("9.9.9", true)
	check("TagPage after writes")

	_, _, err := r.TagPage(ctx, "lister/none", 0, 10)
	wantErr(t, err, metadata.ErrNotFound, "TagPage of a missing repository")
	_, _, err = r.LatestTag(ctx, "lister/none")
	wantErr(t, err, metadata.ErrNotFound, "LatestTag of a missing repository")
	noErr(t, r.PutManifest(ctx, "lister/untagged", ms[1]), "untagged")
	tms, total, err := r.TagPage(ctx, "lister/untagged", 0, 10)
	if err != nil || total != 0 || tms == nil || len(tms) != 0 {
		t.Fatalf("TagPage of an untagged repository: %v, %d, %v", tms, total, err)
	}
	_, _, err = r.LatestTag(ctx, "lister/untagged")
	wantErr(t, err, metadata.ErrNotFound, "LatestTag of an untagged repository")
	noErr(t, r.DeleteRepository(ctx, repo), "DeleteRepository")
	_, _, err = r.TagPage(ctx, repo, 0, 10)
	wantErr(t, err, metadata.ErrNotFound, "TagPage after DeleteRepository")
	tagOn(r, ms[2], "again")
	created = map[string]time.Time{"again": ms[2].Created}
	check("TagPage of a repository made again")
}
