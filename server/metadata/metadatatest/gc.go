package metadatatest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// storeNow returns the store's clock.
func storeNow(t *testing.T, s metadata.Store) time.Time {
	t.Helper()
	now, err := s.Now(ctxT(t))
	noErr(t, err, "Now")
	return now
}

// checkRecent fails unless got lies in [from, to] (one millisecond of
// slack either side for clock granularity).
func checkRecent(t *testing.T, what string, got, from, to time.Time) {
	t.Helper()
	if got.Before(from.Add(-time.Millisecond)) || got.After(to.Add(time.Millisecond)) {
		t.Fatalf("%s = %v, want between %v and %v", what, got, from, to)
	}
}

// listAll pages through ListBlobs n at a time.
func listAll(t *testing.T, s metadata.Store, n int) []metadata.BlobInfo {
	t.Helper()
	var (
		all   []metadata.BlobInfo
		after digest.Digest
	)
	for range 1000 {
		page, more, err := s.ListBlobs(ctxT(t), after, n)
		noErr(t, err, "ListBlobs")
		if page == nil {
			t.Fatal("ListBlobs returned a nil slice")
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatal("ListBlobs: empty page with more")
		}
		after = page[len(page)-1].Digest
	}
	t.Fatal("ListBlobs never ended")
	return nil
}

func testGC(t *testing.T, open opener) {
	t.Run("PutBlobSetsUsed", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		before := storeNow(t, s)
		b, err := s.PutBlob(ctx, newBlob("used", "k", at(1)))
		noErr(t, err, "PutBlob")
		after := storeNow(t, s)
		checkRecent(t, "Used after PutBlob", b.Used, before, after)
		if !b.Created.Equal(at(1)) {
			t.Fatalf("Created = %v, want %v", b.Created, at(1))
		}
		got, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		if !got.Used.Equal(b.Used) {
			t.Fatalf("GetBlob Used = %v, want %v", got.Used, b.Used)
		}

		time.Sleep(5 * time.Millisecond)
		again, err := s.PutBlob(ctx, newBlob("used", "other-key", at(2)))
		noErr(t, err, "PutBlob again")
		checkBlob(t, "PutBlob again keeps the record", again, newBlob("used", "k", at(1)))
		if !again.Used.After(b.Used) {
			t.Fatalf("PutBlob again: Used %v, want after %v", again.Used, b.Used)
		}
	})
	t.Run("TouchBlob", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		_, err := s.TouchBlob(ctx, digest.FromString("missing"))
		wantErr(t, err, metadata.ErrNotFound, "TouchBlob missing")
		b, err := s.PutBlob(ctx, newBlob("touch", "k", at(1)))
		noErr(t, err, "PutBlob")
		time.Sleep(5 * time.Millisecond)
		touched, err := s.TouchBlob(ctx, b.Digest)
		noErr(t, err, "TouchBlob")
		checkBlob(t, "TouchBlob", touched, b)
		if !touched.Used.After(b.Used) {
			t.Fatalf("TouchBlob: Used %v, want after %v", touched.Used, b.Used)
		}
		got, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		if !got.Used.Equal(touched.Used) {
			t.Fatalf("GetBlob Used = %v, want %v", got.Used, touched.Used)
		}
	})
	t.Run("LinkBlobTouches", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b, err := s.PutBlob(ctx, newBlob("link-touch", "k", at(1)))
		noErr(t, err, "PutBlob")
		time.Sleep(5 * time.Millisecond)
		noErr(t, s.LinkBlob(ctx, "r", b), "LinkBlob")
		got, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		if !got.Used.After(b.Used) {
			t.Fatalf("Used after LinkBlob = %v, want after %v", got.Used, b.Used)
		}
	})
	t.Run("ListBlobs", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		empty, more, err := s.ListBlobs(ctx, "", -1)
		noErr(t, err, "ListBlobs empty")
		if empty == nil || len(empty) != 0 || more {
			t.Fatalf("ListBlobs of an empty store = %v, %v", empty, more)
		}
		var want []digest.Digest
		for i := range 7 {
			b, err := s.PutBlob(ctx, newBlob(fmt.Sprintf("list-%d", i), fmt.Sprintf("k%d", i), at(i)))
			noErr(t, err, "PutBlob")
			want = append(want, b.Digest)
		}
		slices.Sort(want)
		for _, n := range []int{-1, 1, 3, 7, 100} {
			all := listAll(t, s, n)
			var got []digest.Digest
			for _, b := range all {
				if b.Deleting || b.Used.IsZero() || b.Key == "" {
					t.Fatalf("ListBlobs(n=%d): unexpected entry %+v", n, b)
				}
				got = append(got, b.Digest)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ListBlobs(n=%d) = %v, want %v", n, got, want)
			}
		}
		page, more, err := s.ListBlobs(ctx, want[5], -1)
		noErr(t, err, "ListBlobs after")
		if len(page) != 1 || page[0].Digest != want[6] || more {
			t.Fatalf("ListBlobs after %s = %+v, %v", want[5], page, more)
		}
		page, more, err = s.ListBlobs(ctx, "", 0)
		noErr(t, err, "ListBlobs n=0")
		if len(page) != 0 || !more {
			t.Fatalf("ListBlobs n=0 = %+v, %v; want empty, more", page, more)
		}
	})
	t.Run("DeleteBlobIfUnused", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b, err := s.PutBlob(ctx, newBlob("doomed", "blobs/doomed", at(1)))
		noErr(t, err, "PutBlob")
		keep, err := s.PutBlob(ctx, newBlob("kept", "blobs/kept", at(1)))
		noErr(t, err, "PutBlob kept")
		noErr(t, s.LinkBlob(ctx, "team/a", b), "LinkBlob a")
		noErr(t, s.LinkBlob(ctx, "team/b", b), "LinkBlob b")
		noErr(t, s.LinkBlob(ctx, "team/b", keep), "LinkBlob kept")
		cur, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")

		_, err = s.DeleteBlobIfUnused(ctx, digest.FromString("missing"), storeNow(t, s).Add(time.Hour), 0)
		wantErr(t, err, metadata.ErrNotFound, "DeleteBlobIfUnused missing")
		got, err := s.DeleteBlobIfUnused(ctx, b.Digest, cur.Used, cur.Gen)
		wantErr(t, err, metadata.ErrConflict, "DeleteBlobIfUnused of a blob used at the cutoff")
		if got.Digest != b.Digest {
			t.Fatalf("DeleteBlobIfUnused conflict returned %+v, want the record", got)
		}
		got, err = s.DeleteBlobIfUnused(ctx, b.Digest, cur.Used.Add(time.Hour), cur.Gen-1)
		wantErr(t, err, metadata.ErrConflict, "DeleteBlobIfUnused of a blob used since its Gen was seen")
		if got.Digest != b.Digest {
			t.Fatalf("DeleteBlobIfUnused conflict returned %+v, want the record", got)
		}
		_, err = s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob after a refused delete")
		_, err = s.RepoBlob(ctx, "team/a", b.Digest)
		noErr(t, err, "RepoBlob after a refused delete")

		got, err = s.DeleteBlobIfUnused(ctx, b.Digest, cur.Used.Add(time.Nanosecond), cur.Gen)
		noErr(t, err, "DeleteBlobIfUnused")
		checkBlob(t, "DeleteBlobIfUnused", got, b)
		_, err = s.GetBlob(ctx, b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "GetBlob of a tombstone")
		for _, repo := range []string{"team/a", "team/b"} {
			_, err = s.RepoBlob(ctx, repo, b.Digest)
			wantErr(t, err, metadata.ErrNotFound, "RepoBlob in "+repo+" after delete")
		}
		_, err = s.RepoBlob(ctx, "team/b", keep.Digest)
		noErr(t, err, "RepoBlob of another blob")
		for repo, want := range map[string]int64{"team/a": 0, "team/b": keep.Size} {
			n, err := s.RepoUsage(ctx, repo)
			noErr(t, err, "RepoUsage")
			if n != want {
				t.Fatalf("RepoUsage(%s) after delete = %d, want %d", repo, n, want)
			}
		}
		_, err = s.TouchBlob(ctx, b.Digest)
		wantErr(t, err, metadata.ErrConflict, "TouchBlob of a tombstone")
		_, err = s.PutBlob(ctx, b)
		wantErr(t, err, metadata.ErrConflict, "PutBlob of a tombstone")
		wantErr(t, s.LinkBlob(ctx, "team/c", b), metadata.ErrConflict, "LinkBlob of a tombstone")
		_, err = s.RepoBlob(ctx, "team/c", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob after a refused LinkBlob")

		all := listAll(t, s, -1)
		var deleting []digest.Digest
		for _, info := range all {
			if info.Deleting {
				deleting = append(deleting, info.Digest)
				checkBlob(t, "ListBlobs tombstone", info.Blob, b)
			}
		}
		if len(all) != 2 || !slices.Equal(deleting, []digest.Digest{b.Digest}) {
			t.Fatalf("ListBlobs = %+v, want 2 entries with %s deleting", all, b.Digest)
		}

		// A collector that crashed calls again to finish.
		got, err = s.DeleteBlobIfUnused(ctx, b.Digest, at(0), 0)
		noErr(t, err, "DeleteBlobIfUnused of a tombstone")
		checkBlob(t, "DeleteBlobIfUnused of a tombstone", got, b)

		wantErr(t, s.PurgeBlob(ctx, keep.Digest), metadata.ErrNotFound, "PurgeBlob of a live record")
		_, err = s.GetBlob(ctx, keep.Digest)
		noErr(t, err, "GetBlob after PurgeBlob of a live record")
		noErr(t, s.PurgeBlob(ctx, b.Digest), "PurgeBlob")
		wantErr(t, s.PurgeBlob(ctx, b.Digest), metadata.ErrNotFound, "PurgeBlob twice")
		if all := listAll(t, s, -1); len(all) != 1 || all[0].Digest != keep.Digest {
			t.Fatalf("ListBlobs after purge = %+v", all)
		}

		// The content may come back.
		again := newBlob("doomed", "blobs/doomed-2", at(9))
		got, err = s.PutBlob(ctx, again)
		noErr(t, err, "PutBlob after purge")
		checkBlob(t, "PutBlob after purge", got, again)
		noErr(t, s.LinkBlob(ctx, "team/a", got), "LinkBlob after purge")
		if all := listAll(t, s, -1); len(all) != 2 || all[0].Deleting || all[1].Deleting {
			t.Fatalf("ListBlobs after re-put = %+v", all)
		}
	})
	t.Run("LinkNeedsALiveRecord", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("early", "k", at(1))
		wantErr(t, s.LinkBlob(ctx, "x/early", b), metadata.ErrNotFound, "LinkBlob before PutBlob")
		_, err := s.RepoBlob(ctx, "x/early", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob after a refused LinkBlob")
		n, err := s.RepoUsage(ctx, "x/early")
		noErr(t, err, "RepoUsage")
		if n != 0 {
			t.Fatalf("RepoUsage after a refused LinkBlob = %d", n)
		}
		_, _, err = s.ClaimBlob(ctx, b)
		noErr(t, err, "ClaimBlob")
		wantErr(t, s.LinkBlob(ctx, "x/early", b), metadata.ErrNotFound, "LinkBlob of a pending record")
	})
	testClaims(t, open)
	t.Run("ManifestReferences", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		refs, next, err := s.ManifestReferences(ctx, "never/seen", "", 10)
		noErr(t, err, "ManifestReferences of an unknown repository")
		if len(refs) != 0 || next != "" {
			t.Fatalf("ManifestReferences of an unknown repository = %v, %q", refs, next)
		}
		want := map[digest.Digest]bool{}
		for i := range 25 {
			m := newManifest(fmt.Sprintf("m%02d", i))
			if i%5 == 0 {
				m.Subject = digest.FromString(fmt.Sprintf("subject-%d", i))
				want[m.Subject] = true
			}
			for _, r := range m.References {
				want[r] = true
			}
			noErr(t, s.PutManifest(ctx, "lib/refs", m), "PutManifest")
		}
		noErr(t, s.PutManifest(ctx, "lib/other", newManifest("elsewhere")), "PutManifest elsewhere")
		for _, n := range []int{0, 1, 7, 1000} {
			got := map[digest.Digest]bool{}
			cursor := ""
			for i := 0; ; i++ {
				if i > 1000 {
					t.Fatalf("ManifestReferences(n=%d) never ended", n)
				}
				refs, next, err := s.ManifestReferences(ctx, "lib/refs", cursor, n)
				noErr(t, err, "ManifestReferences")
				for _, r := range refs {
					got[r] = true
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if len(got) != len(want) {
				t.Fatalf("ManifestReferences(n=%d): %d digests, want %d", n, len(got), len(want))
			}
			for d := range want {
				if !got[d] {
					t.Fatalf("ManifestReferences(n=%d) lacks %s", n, d)
				}
			}
		}
	})
	t.Run("AllRepositories", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		noErr(t, s.PutManifest(ctx, "b/manifest", newManifest("x")), "PutManifest")
		link(t, s, "a/links-only", newBlob("a", "k", at(1)))
		link(t, s, "c", newBlob("c", "k", at(1)))
		link(t, s, "b/manifest", newBlob("b", "k", at(1)))
		want := []string{"a/links-only", "b/manifest", "c"}
		got, more, err := s.AllRepositories(ctx, "", -1)
		noErr(t, err, "AllRepositories")
		checkStrings(t, "AllRepositories", got, more, want, false)
		got, more, err = s.AllRepositories(ctx, "", 2)
		noErr(t, err, "AllRepositories n=2")
		checkStrings(t, "AllRepositories n=2", got, more, want[:2], true)
		got, more, err = s.AllRepositories(ctx, "b/manifest", 2)
		noErr(t, err, "AllRepositories after")
		checkStrings(t, "AllRepositories after", got, more, want[2:], false)
		cat, _, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		checkStrings(t, "Repositories", cat, false, []string{"b/manifest"}, false)
	})
}

func testLeases(t *testing.T, open opener) {
	t.Run("AcquireRelease", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		ok, err := s.AcquireLease(ctx, "gc", "a", time.Minute)
		noErr(t, err, "AcquireLease a")
		if !ok {
			t.Fatal("AcquireLease of a free lease: not acquired")
		}
		ok, err = s.AcquireLease(ctx, "gc", "b", time.Minute)
		noErr(t, err, "AcquireLease b")
		if ok {
			t.Fatal("AcquireLease of a held lease succeeded")
		}
		ok, err = s.AcquireLease(ctx, "other", "b", time.Minute)
		noErr(t, err, "AcquireLease other")
		if !ok {
			t.Fatal("leases of different names interfere")
		}
		ok, err = s.AcquireLease(ctx, "gc", "a", time.Minute)
		noErr(t, err, "AcquireLease renew")
		if !ok {
			t.Fatal("the holder could not renew")
		}
		noErr(t, s.ReleaseLease(ctx, "gc", "b"), "ReleaseLease by a non-holder")
		ok, err = s.AcquireLease(ctx, "gc", "b", time.Minute)
		noErr(t, err, "AcquireLease b after a foreign release")
		if ok {
			t.Fatal("a non-holder released the lease")
		}
		noErr(t, s.ReleaseLease(ctx, "gc", "a"), "ReleaseLease")
		noErr(t, s.ReleaseLease(ctx, "gc", "a"), "ReleaseLease twice")
		ok, err = s.AcquireLease(ctx, "gc", "b", time.Minute)
		noErr(t, err, "AcquireLease b after release")
		if !ok {
			t.Fatal("AcquireLease after release: not acquired")
		}
		_, err = s.AcquireLease(ctx, "gc", "", time.Minute)
		if err == nil {
			t.Fatal("AcquireLease with an empty token succeeded")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		ok, err := s.AcquireLease(ctx, "gc", "a", 50*time.Millisecond)
		noErr(t, err, "AcquireLease")
		if !ok {
			t.Fatal("not acquired")
		}
		time.Sleep(120 * time.Millisecond)
		ok, err = s.AcquireLease(ctx, "gc", "b", time.Minute)
		noErr(t, err, "AcquireLease after expiry")
		if !ok {
			t.Fatal("an expired lease was not taken over")
		}
		ok, err = s.AcquireLease(ctx, "gc", "a", time.Minute)
		noErr(t, err, "AcquireLease by the old holder")
		if ok {
			t.Fatal("the old holder took the lease back")
		}
	})
	t.Run("Race", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		const n = 16
		won := make(chan string, n)
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				token := fmt.Sprintf("t%d", i)
				ok, err := s.AcquireLease(ctx, "gc", token, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					won <- token
				}
				errs <- nil
			}()
		}
		close(start)
		for range n {
			noErr(t, <-errs, "AcquireLease")
		}
		close(won)
		var winners []string
		for w := range won {
			winners = append(winners, w)
		}
		if len(winners) != 1 {
			t.Fatalf("winners %v, want exactly one", winners)
		}
	})
}

func testUsage(t *testing.T, open opener) {
	testPackageUsage(t, open)
	t.Run("LinksAndManifests", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		usage := func(repo string, want int64) {
			t.Helper()
			n, err := s.RepoUsage(ctx, repo)
			noErr(t, err, "RepoUsage")
			if n != want {
				t.Fatalf("RepoUsage(%s) = %d, want %d", repo, n, want)
			}
		}
		usage("team/app", 0)
		big := metadata.Blob{Digest: digest.FromString("big"), Size: 5 << 40, Key: "k", Created: at(1)} // beyond 2^32 and float32
		small := newBlob("small", "k", at(1))
		link(t, s, "team/app", big)
		noErr(t, s.LinkBlob(ctx, "team/app", big), "LinkBlob big twice")
		link(t, s, "team/app", small)
		usage("team/app", big.Size+small.Size)
		m := newManifest("usage")
		noErr(t, s.PutManifest(ctx, "team/app", m, "v1"), "PutManifest")
		noErr(t, s.PutManifest(ctx, "team/app", m, "v2"), "PutManifest again")
		usage("team/app", big.Size+small.Size+int64(len(m.Body)))
		noErr(t, s.UnlinkBlob(ctx, "team/app", big.Digest), "UnlinkBlob")
		wantErr(t, s.UnlinkBlob(ctx, "team/app", big.Digest), metadata.ErrNotFound, "UnlinkBlob twice")
		usage("team/app", small.Size+int64(len(m.Body)))
		noErr(t, s.DeleteManifest(ctx, "team/app", m.Digest), "DeleteManifest")
		usage("team/app", small.Size)
	})
	t.Run("Namespace", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		sizes := map[string]int64{
			"team": 1, "team/a": 10, "team/b/c": 100, "team/b": 1000,
			"teams/x": 10000, "team-x": 100000, "team.y/z": 1000000, "tea": 10000000, "other/team": 100000000,
		}
		for repo, size := range sizes {
			b := metadata.Blob{Digest: digest.FromString(repo), Size: size, Key: "k", Created: at(1)}
			link(t, s, repo, b)
		}
		// A repository in the catalog only through a manifest counts too.
		m := newManifest("ns")
		noErr(t, s.PutManifest(ctx, "team/manifest-only", m), "PutManifest")
		for ns, want := range map[string]int64{
			"team":    1111 + int64(len(m.Body)),
			"teams":   10000,
			"team-x":  100000,
			"team.y":  1000000,
			"tea":     10000000,
			"other":   100000000,
			"unknown": 0,
		} {
			got, err := s.NamespaceUsage(ctx, ns)
			noErr(t, err, "NamespaceUsage "+ns)
			if got != want {
				t.Errorf("NamespaceUsage(%q) = %d, want %d", ns, got, want)
			}
		}
		for repo, want := range map[string]string{"team/b/c": "team", "nginx": "nginx", "": ""} {
			if got := metadata.Namespace(repo); got != want {
				t.Errorf("Namespace(%q) = %q, want %q", repo, got, want)
			}
		}
	})
}
