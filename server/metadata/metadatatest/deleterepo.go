package metadatatest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// testDeleteRepository checks Manifests.DeleteRepository: everything of
// the repository goes, its neighbours and the global blob records stay,
// and the name can start over.
func testDeleteRepository(t *testing.T, open opener) {
	t.Run("RemovesEverything", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		const repo = "team/app"
		neighbours := []string{"team", "team/app/sub", "team/app-x", "team/ap"}
		layer := newBlob("layer", "blobs/layer", at(1))
		if _, err := s.PutBlob(ctx, layer); err != nil {
			t.Fatalf("PutBlob: %v", err)
		}
		subject := newManifest("subject")
		referrer := newManifest("referrer")
		referrer.Subject = subject.Digest
		untagged := newManifest("untagged")
		for _, r := range append([]string{repo}, neighbours...) {
			noErr(t, s.LinkBlob(ctx, r, layer), "LinkBlob "+r)
			noErr(t, s.PutManifest(ctx, r, subject, "v1", "latest"), "PutManifest subject "+r)
			noErr(t, s.PutManifest(ctx, r, referrer, "sig"), "PutManifest referrer "+r)
			noErr(t, s.PutManifest(ctx, r, untagged), "PutManifest untagged "+r)
		}
		before := map[string]int64{}
		for _, r := range neighbours {
			n, err := s.RepoUsage(ctx, r)
			noErr(t, err, "RepoUsage "+r)
			before[r] = n
		}

		noErr(t, s.DeleteRepository(ctx, repo), "DeleteRepository")

		_, _, err := s.Tags(ctx, repo, "", -1)
		wantErr(t, err, metadata.ErrNotFound, "Tags after DeleteRepository")
		for _, ref := range []string{"v1", "sig", subject.Digest.String(), referrer.Digest.String(), untagged.Digest.String()} {
			_, err := s.GetManifest(ctx, repo, ref)
			wantErr(t, err, metadata.ErrNotFound, "GetManifest "+ref+" after DeleteRepository")
		}
		_, err = s.RepoBlob(ctx, repo, layer.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob after DeleteRepository")
		refs, err := s.Referrers(ctx, repo, subject.Digest)
		noErr(t, err, "Referrers")
		if len(refs) != 0 {
			t.Fatalf("Referrers after DeleteRepository = %v, want none", refs)
		}
		if n, err := s.RepoUsage(ctx, repo); err != nil || n != 0 {
			t.Fatalf("RepoUsage after DeleteRepository = %d, %v; want 0", n, err)
		}
		got, next, err := s.ManifestReferences(ctx, repo, "", 0)
		noErr(t, err, "ManifestReferences")
		if len(got) != 0 || next != "" {
			t.Fatalf("ManifestReferences after DeleteRepository = %v, %q; want nothing", got, next)
		}
		repos, _, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		if slices.Contains(repos, repo) {
			t.Fatalf("Repositories after DeleteRepository = %q, still lists %s", repos, repo)
		}
		if _, err := s.GetBlob(ctx, layer.Digest); err != nil {
			t.Fatalf("GetBlob after DeleteRepository: %v (the global record must stay)", err)
		}

		// The neighbours, whose names share a prefix, are untouched.
		for _, r := range neighbours {
			if !slices.Contains(repos, r) {
				t.Fatalf("Repositories = %q, lost %s", repos, r)
			}
			tags, _, err := s.Tags(ctx, r, "", -1)
			noErr(t, err, "Tags "+r)
			checkStrings(t, "Tags "+r, tags, false, []string{"latest", "sig", "v1"}, false)
			if _, err := s.GetManifest(ctx, r, untagged.Digest.String()); err != nil {
				t.Fatalf("GetManifest untagged in %s: %v", r, err)
			}
			if _, err := s.RepoBlob(ctx, r, layer.Digest); err != nil {
				t.Fatalf("RepoBlob in %s: %v", r, err)
			}
			refs, err := s.Referrers(ctx, r, subject.Digest)
			noErr(t, err, "Referrers "+r)
			if len(refs) != 1 || refs[0].Digest != referrer.Digest {
				t.Fatalf("Referrers in %s = %v", r, refs)
			}
			if n, err := s.RepoUsage(ctx, r); err != nil || n != before[r] {
				t.Fatalf("RepoUsage(%s) = %d, %v; want %d", r, n, err, before[r])
			}
		}
		ns, err := s.NamespaceUsage(ctx, "team")
		noErr(t, err, "NamespaceUsage")
		var want int64 // every neighbour is in namespace team
		for _, r := range neighbours {
			want += before[r]
		}
		if ns != want {
			t.Fatalf("NamespaceUsage(team) = %d, want %d (the deleted repository must not count)", ns, want)
		}

		wantErr(t, s.DeleteRepository(ctx, repo), metadata.ErrNotFound, "DeleteRepository twice")

		// The name starts over, empty.
		fresh := newManifest("fresh")
		noErr(t, s.PutManifest(ctx, repo, fresh, "new"), "PutManifest after DeleteRepository")
		tags, _, err := s.Tags(ctx, repo, "", -1)
		noErr(t, err, "Tags of the new repository")
		checkStrings(t, "Tags of the new repository", tags, false, []string{"new"}, false)
		if n, err := s.RepoUsage(ctx, repo); err != nil || n != int64(len(fresh.Body)) {
			t.Fatalf("RepoUsage of the new repository = %d, %v; want %d", n, err, len(fresh.Body))
		}
		if _, err := s.GetManifest(ctx, repo, subject.Digest.String()); err == nil {
			t.Fatal("the new repository inherited a manifest of the deleted one")
		}
	})
	t.Run("LinksOnly", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("only-linked", "k", at(1))
		if _, err := s.PutBlob(ctx, b); err != nil {
			t.Fatalf("PutBlob: %v", err)
		}
		noErr(t, s.LinkBlob(ctx, "lib/uploads", b), "LinkBlob")
		noErr(t, s.DeleteRepository(ctx, "lib/uploads"), "DeleteRepository of a repository with links only")
		_, err := s.RepoBlob(ctx, "lib/uploads", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob after DeleteRepository")
		if n, err := s.NamespaceUsage(ctx, "lib"); err != nil || n != 0 {
			t.Fatalf("NamespaceUsage(lib) = %d, %v; want 0", n, err)
		}
		// Garbage collection can still delete the blob afterwards.
		now, err := s.Now(ctx)
		noErr(t, err, "Now")
		cur, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		if _, err := s.DeleteBlobIfUnused(ctx, b.Digest, now.Add(1<<40), cur.Gen); err != nil {
			t.Fatalf("DeleteBlobIfUnused after DeleteRepository: %v", err)
		}
		noErr(t, s.PurgeBlob(ctx, b.Digest), "PurgeBlob")
		// A link after the delete starts a new repository.
		link(t, s, "lib/uploads", newBlob("again", "k2", at(2)))
		if _, err := s.RepoBlob(ctx, "lib/uploads", digest.FromString("again")); err != nil {
			t.Fatalf("RepoBlob of the new link: %v", err)
		}
	})
	t.Run("EmptiedRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("gone")
		noErr(t, s.PutManifest(ctx, "lib/empty", m, "t"), "PutManifest")
		noErr(t, s.DeleteManifest(ctx, "lib/empty", m.Digest), "DeleteManifest")
		// Still in the catalog, with no manifests: it can be deleted.
		noErr(t, s.DeleteRepository(ctx, "lib/empty"), "DeleteRepository of an emptied repository")
		repos, _, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		checkStrings(t, "Repositories", repos, false, []string{}, false)
	})
	t.Run("RacingPuts", func(t *testing.T) {
		// A manifest put while the repository is being deleted is either
		// deleted with it or kept whole: never a referrer entry without
		// its manifest, or a manifest without its referrer entry.
		s, ctx := open(t), ctxT(t)
		const repo = "race/app"
		for i := range 30 {
			subject := digest.FromString(fmt.Sprint("subject", i))
			m := newManifest(fmt.Sprint("racer", i))
			m.Subject = subject
			noErr(t, s.PutManifest(ctx, repo, newManifest(fmt.Sprint("base", i)), "base"), "PutManifest base")
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { errs[0] = s.PutManifest(ctx, repo, m, "racer") })
			wg.Go(func() { errs[1] = s.DeleteRepository(ctx, repo) })
			wg.Wait()
			noErr(t, errs[0], "PutManifest racing DeleteRepository")
			noErr(t, errs[1], "DeleteRepository racing PutManifest")
			_, gerr := s.GetManifest(ctx, repo, m.Digest.String())
			refs, err := s.Referrers(ctx, repo, subject)
			noErr(t, err, "Referrers")
			switch {
			case gerr == nil && (len(refs) != 1 || refs[0].Digest != m.Digest):
				t.Fatalf("round %d: the manifest survived but its referrer entry is %v", i, refs)
			case gerr != nil && len(refs) != 0:
				t.Fatalf("round %d: the manifest is gone (%v) but its referrer entry stayed: %v", i, gerr, refs)
			}
			repos, _, err := s.Repositories(ctx, "", -1)
			noErr(t, err, "Repositories")
			if gerr == nil && !slices.Contains(repos, repo) {
				t.Fatalf("round %d: the manifest survived, but the catalog %q does not list its repository", i, repos)
			}
			if gerr == nil {
				noErr(t, s.DeleteRepository(ctx, repo), "DeleteRepository after the race")
			}
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		wantErr(t, s.DeleteRepository(ctx, "never/seen"), metadata.ErrNotFound, "DeleteRepository of an unknown repository")
	})
}
