package metadatatest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// BenchListings measures page 1 and a deep page (rank 99,900, page 1,000
// of 100) of every listing at 100,000 entries on db: the catalog and the
// tags (by last), the container view (TagPage), the package listing of an
// owner and the versions of a package (by offset), the owner listing of
// 25,000 generic versions and the tags of 3 repositories (25,000 each;
// ListOwner, also of the tags alone, with a query matching the 7
// packages and 3 repositories, and for a bearer token naming the 3
// repositories; the package listing with a query), the catalog of the public owners
// (RepositoriesOf) past 10,000 private owners, and latest of a package
// and of a repository. Both pages must cost the same. Setup writes the
// entries through db (several minutes on Redis).
func BenchListings(b *testing.B, db *metadata.DB) {
	const entries, page = 100_000, 100
	deep := entries - page
	ctx := b.Context()
	manifest := func(i int) metadata.Manifest {
		body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d}`, i)
		return metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
	}
	parallel := func(n int, fn func(i int) error) {
		if err := inParallel(n, fn); err != nil {
			b.Fatal(err)
		}
	}
	repoName := func(i int) string { return fmt.Sprintf("o%03d/r%06d", i%1000, i) }
	parallel(entries, func(i int) error { return db.PutManifest(ctx, repoName(i), manifest(i), "v1") })
	const repo, owner = "big/app", "big"
	tag := func(i int) string { return fmt.Sprintf("1.%d.%d", i/1000, i%1000) }
	for i := 0; i < entries; i += 1000 {
		tags := make([]string, 1000)
		for j := range tags {
			tags[j] = tag(i + j)
		}
		if err := db.PutManifest(ctx, repo, manifest(entries+i/1000), tags...); err != nil {
			b.Fatal(err)
		}
	}
	pkg := metadata.PackageRef{Owner: owner, Type: "generic", Name: "tool"}
	for i := range entries {
		r := pkg
		r.Version = tag(i)
		f := metadata.PackageFile{Name: "f", Size: 1, SHA256: fmt.Sprintf("%064x", i)}
		if _, err := db.PutPackageFile(ctx, r, f, metadata.PutFileOptions{SemVer: true}); err != nil {
			b.Fatal(err)
		}
	}
	// The mixed owner: a quarter generic versions, the rest tags of three
	// repositories, a thousand tags to a manifest.
	const mixed = "mix"
	for i := range entries / 4 {
		r := metadata.PackageRef{Owner: mixed, Type: "generic", Name: fmt.Sprint("tool", i%7), Version: tag(i)}
		f := metadata.PackageFile{Name: "f", Size: 1, SHA256: fmt.Sprintf("%064x", i)}
		if _, err := db.PutPackageFile(ctx, r, f, metadata.PutFileOptions{SemVer: true}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < entries*3/4; i += 1000 {
		tags := make([]string, 1000)
		for j := range tags {
			tags[j] = tag(i + j)
		}
		if err := db.PutManifest(ctx, fmt.Sprintf("%s/tool-c%d", mixed, i/1000%3), manifest(2*entries+i/1000), tags...); err != nil {
			b.Fatal(err)
		}
	}
	// The owners o000 … o999 of the repositories are public accounts;
	// 10,000 private owners o000-h0 … o999-h9, one repository each, sort
	// among them.
	for i := range 1000 {
		if _, err := db.CreateAccount(ctx, metadata.Account{Name: fmt.Sprintf("o%03d", i), Type: metadata.AccountUser, Visibility: metadata.VisibilityPublic}); err != nil {
			b.Fatal(err)
		}
		for h := range 10 {
			o := fmt.Sprintf("o%03d-h%d", i, h)
			if _, err := db.CreateAccount(ctx, metadata.Account{Name: o, Type: metadata.AccountOrganization, Visibility: metadata.VisibilityPrivate}); err != nil {
				b.Fatal(err)
			}
		}
	}
	parallel(10_000, func(i int) error {
		return db.PutManifest(ctx, fmt.Sprintf("o%03d-h%d/r", i/10, i%10), manifest(3*entries+i), "v1")
	})
	repos, _, err := db.Repositories(ctx, "", -1)
	if err != nil || len(repos) != entries+1+3+10_000 {
		b.Fatalf("repositories: %d, %v", len(repos), err)
	}
	public := metadata.OwnerSet{Visibilities: []metadata.Visibility{metadata.VisibilityPublic}}
	visible, _, err := db.RepositoriesOf(ctx, public, "", -1)
	if err != nil || len(visible) != entries {
		b.Fatalf("visible repositories: %d, %v", len(visible), err)
	}
	both := metadata.OwnerFilter{Packages: true, Type: "generic", Containers: true}
	if _, total, err := db.ListOwner(ctx, mixed, both, 0, 1); err != nil || total != entries {
		b.Fatalf("mixed owner: %d, %v", total, err)
	}
	tags, _, err := db.Tags(ctx, repo, "", -1)
	if err != nil || len(tags) != entries {
		b.Fatalf("tags: %d, %v", len(tags), err)
	}
	type list struct {
		name string
		page func(first bool) (int, error)
	}
	at := func(first bool) int {
		if first {
			return 0
		}
		return deep
	}
	lists := []list{
		{"catalog", func(first bool) (int, error) {
			last := ""
			if !first {
				last = repos[deep-1]
			}
			rs, _, err := db.Repositories(ctx, last, page)
			return len(rs), err
		}},
		{"catalog-public-owners", func(first bool) (int, error) {
			last := ""
			if !first {
				last = visible[deep-1]
			}
			rs, _, err := db.RepositoriesOf(ctx, public, last, page)
			return len(rs), err
		}},
		{"owner-mixed", func(first bool) (int, error) {
			items, _, err := db.ListOwner(ctx, mixed, both, at(first), page)
			return len(items), err
		}},
		{"owner-tags-3-repos", func(first bool) (int, error) {
			off := 0
			if !first {
				off = entries*3/4 - page
			}
			items, _, err := db.ListOwner(ctx, mixed, metadata.OwnerFilter{Containers: true}, off, page)
			return len(items), err
		}},
		{"owner-query", func(first bool) (int, error) {
			q := both
			q.Query = "TOOL" // the 7 packages and the 3 repositories
			items, _, err := db.ListOwner(ctx, mixed, q, at(first), page)
			return len(items), err
		}},
		{"owner-token-repos", func(first bool) (int, error) {
			f := metadata.OwnerFilter{Packages: true, Containers: true, Repository: func(repo string) bool { return strings.HasPrefix(repo, mixed+"/tool-c") }}
			items, _, err := db.ListOwner(ctx, mixed, f, at(first), page)
			return len(items), err
		}},
		{"package-query", func(first bool) (int, error) {
			vs, _, err := db.ListPackageVersions(ctx, owner, metadata.PackageFilter{Query: "oo"}, at(first), page)
			return len(vs), err
		}},
		{"tags", func(first bool) (int, error) {
			last := ""
			if !first {
				last = tags[deep-1]
			}
			ts, _, err := db.Tags(ctx, repo, last, page)
			return len(ts), err
		}},
		{"container-view", func(first bool) (int, error) {
			tms, _, err := db.TagPage(ctx, repo, at(first), page)
			return len(tms), err
		}},
		{"package-listing", func(first bool) (int, error) {
			vs, _, err := db.ListPackageVersions(ctx, owner, metadata.PackageFilter{Type: "generic"}, at(first), page)
			return len(vs), err
		}},
		{"generic-versions", func(first bool) (int, error) {
			vs, _, err := db.PackageVersions(ctx, pkg, at(first), page)
			return len(vs), err
		}},
	}
	for _, l := range lists {
		for _, first := range []bool{true, false} {
			name := l.name + "/page-1"
			if !first {
				name = l.name + "/page-1000"
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					if n, err := l.page(first); err != nil || n != page {
						b.Fatalf("%s: %d entries, %v", name, n, err)
					}
				}
			})
		}
	}
	b.Run("latest/package", func(b *testing.B) {
		for range b.N {
			if v, _, err := db.LatestPackageVersion(ctx, pkg); err != nil || v.Version != tag(entries-1) {
				b.Fatalf("latest %s, %v", v.Version, err)
			}
		}
	})
	b.Run("latest/container", func(b *testing.B) {
		for range b.N {
			if tm, _, err := db.LatestTag(ctx, repo); err != nil || tm.Tag != tag(entries-1) {
				b.Fatalf("latest %s, %v", tm.Tag, err)
			}
		}
	})
}

// inParallel runs fn(0) … fn(n-1) on 4 goroutines and returns the first
// error (each goroutine stops at its own first one).
func inParallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
