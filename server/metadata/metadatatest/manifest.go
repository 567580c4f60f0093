package metadatatest

import (
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

func testManifests(t *testing.T, open opener) {
	t.Run("GetByTagAndDigest", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("one")
		m.Subject = digest.FromString("subject")
		noErr(t, s.PutManifest(ctx, "lib/app", m, "v1", "latest"), "PutManifest")
		for _, ref := range []string{"v1", "latest", m.Digest.String()} {
			got, err := s.GetManifest(ctx, "lib/app", ref)
			noErr(t, err, "GetManifest "+ref)
			checkManifest(t, "GetManifest "+ref, got, m)
		}
	})
	t.Run("BodyByteExact", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		body := []byte("  {\"b\":1,\n\"a\":\"\\u00e9\xc3\xa9\"}\r\n\x00\x01\xfe\xff   ")
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.docker.distribution.manifest.v2+json", Body: body, Created: at(1)}
		noErr(t, s.PutManifest(ctx, "r", m, "t"), "PutManifest")
		got, err := s.GetManifest(ctx, "r", "t")
		noErr(t, err, "GetManifest")
		checkManifest(t, "GetManifest", got, m)
	})
	t.Run("Sha512Digest", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("sha512")
		m.Digest = digest.SHA512.FromBytes(m.Body)
		noErr(t, s.PutManifest(ctx, "r", m), "PutManifest")
		got, err := s.GetManifest(ctx, "r", m.Digest.String())
		noErr(t, err, "GetManifest")
		checkManifest(t, "GetManifest", got, m)
	})
	t.Run("MinimalFields", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		body := []byte("{}")
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.index.v1+json", Body: body, Created: at(5)}
		noErr(t, s.PutManifest(ctx, "r", m, "t"), "PutManifest")
		got, err := s.GetManifest(ctx, "r", "t")
		noErr(t, err, "GetManifest")
		checkManifest(t, "GetManifest", got, m)
	})
	t.Run("CreatedDefaultsToNow", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("now")
		m.Created = time.Time{}
		before := time.Now().Add(-time.Second)
		noErr(t, s.PutManifest(ctx, "r", m), "PutManifest")
		got, err := s.GetManifest(ctx, "r", m.Digest.String())
		noErr(t, err, "GetManifest")
		if got.Created.Before(before) || got.Created.After(time.Now().Add(time.Second)) {
			t.Fatalf("Created = %v, want about now", got.Created)
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		for _, ref := range []string{"latest", m.Digest.String()} {
			_, err := s.GetManifest(ctx, "unknown", ref)
			wantErr(t, err, metadata.ErrNotFound, "GetManifest in unknown repository "+ref)
		}
		noErr(t, s.PutManifest(ctx, "r", m, "v1"), "PutManifest")
		for _, ref := range []string{"v2", digest.FromString("other").String(), digest.SHA512.FromBytes(m.Body).String()} {
			_, err := s.GetManifest(ctx, "r", ref)
			wantErr(t, err, metadata.ErrNotFound, "GetManifest "+ref)
		}
		for _, ref := range []string{"v1", m.Digest.String()} {
			_, err := s.GetManifest(ctx, "r/sub", ref)
			wantErr(t, err, metadata.ErrNotFound, "GetManifest in another repository "+ref)
		}
	})
	t.Run("RetagMovesTag", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m1, m2 := newManifest("m1"), newManifest("m2")
		noErr(t, s.PutManifest(ctx, "r", m1, "latest", "v1"), "PutManifest m1")
		noErr(t, s.PutManifest(ctx, "r", m2, "latest", "v2"), "PutManifest m2")
		got, err := s.GetManifest(ctx, "r", "latest")
		noErr(t, err, "GetManifest latest")
		checkManifest(t, "latest after retag", got, m2)
		got, err = s.GetManifest(ctx, "r", "v1")
		noErr(t, err, "GetManifest v1")
		checkManifest(t, "v1", got, m1)
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", tags, more, []string{"latest", "v1", "v2"}, false)

		// Deleting m1 must not take the moved tag with it.
		noErr(t, s.DeleteManifest(ctx, "r", m1.Digest), "DeleteManifest m1")
		got, err = s.GetManifest(ctx, "r", "latest")
		noErr(t, err, "GetManifest latest after deleting m1")
		checkManifest(t, "latest after deleting m1", got, m2)
		tags, more, err = s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags after deleting m1", tags, more, []string{"latest", "v2"}, false)
	})
	t.Run("RePutKeepsRecordAndAppliesTags", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		noErr(t, s.PutManifest(ctx, "r", m, "v1"), "PutManifest")
		again := m
		again.Created = at(1000)
		again.MediaType = "application/vnd.other"
		again.Annotations = map[string]string{"changed": "yes"}
		noErr(t, s.PutManifest(ctx, "r", again, "v2"), "PutManifest again")
		noErr(t, s.PutManifest(ctx, "r", again, "v2"), "PutManifest a third time")
		for _, ref := range []string{"v1", "v2", m.Digest.String()} {
			got, err := s.GetManifest(ctx, "r", ref)
			noErr(t, err, "GetManifest "+ref)
			checkManifest(t, "GetManifest "+ref, got, m)
		}
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", tags, more, []string{"v1", "v2"}, false)
	})
	t.Run("ManyTagsAtOnce", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		tags := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		noErr(t, s.PutManifest(ctx, "r", m, tags...), "PutManifest")
		for _, tag := range tags {
			got, err := s.GetManifest(ctx, "r", tag)
			noErr(t, err, "GetManifest "+tag)
			checkManifest(t, "GetManifest "+tag, got, m)
		}
		got, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", got, more, tags, false)
	})
	t.Run("RepositoriesAreIsolated", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m1, m2 := newManifest("m1"), newManifest("m2")
		noErr(t, s.PutManifest(ctx, "a", m1, "latest"), "PutManifest a")
		noErr(t, s.PutManifest(ctx, "a/b", m2, "latest"), "PutManifest a/b")
		got, err := s.GetManifest(ctx, "a", "latest")
		noErr(t, err, "GetManifest a")
		checkManifest(t, "a:latest", got, m1)
		got, err = s.GetManifest(ctx, "a/b", "latest")
		noErr(t, err, "GetManifest a/b")
		checkManifest(t, "a/b:latest", got, m2)
		_, err = s.GetManifest(ctx, "a", m2.Digest.String())
		wantErr(t, err, metadata.ErrNotFound, "m2 in a")
		noErr(t, s.DeleteManifest(ctx, "a", m1.Digest), "DeleteManifest a")
		_, err = s.GetManifest(ctx, "a/b", "latest")
		noErr(t, err, "GetManifest a/b after deleting from a")
	})
	t.Run("DeleteManifest", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m1, m2 := newManifest("m1"), newManifest("m2")
		noErr(t, s.PutManifest(ctx, "r", m1, "a", "b"), "PutManifest m1")
		noErr(t, s.PutManifest(ctx, "r", m2, "c"), "PutManifest m2")
		noErr(t, s.DeleteManifest(ctx, "r", m1.Digest), "DeleteManifest")
		for _, ref := range []string{"a", "b", m1.Digest.String()} {
			_, err := s.GetManifest(ctx, "r", ref)
			wantErr(t, err, metadata.ErrNotFound, "GetManifest after delete "+ref)
		}
		got, err := s.GetManifest(ctx, "r", "c")
		noErr(t, err, "GetManifest c")
		checkManifest(t, "c", got, m2)
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags after delete", tags, more, []string{"c"}, false)
		wantErr(t, s.DeleteManifest(ctx, "r", m1.Digest), metadata.ErrNotFound, "DeleteManifest twice")
		wantErr(t, s.DeleteManifest(ctx, "unknown", m1.Digest), metadata.ErrNotFound, "DeleteManifest unknown repository")

		// The digest can be pushed again, with its old tags gone.
		noErr(t, s.PutManifest(ctx, "r", m1, "d"), "PutManifest m1 again")
		tags, more, err = s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags after re-push", tags, more, []string{"c", "d"}, false)
	})
	t.Run("DeleteTag", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		noErr(t, s.PutManifest(ctx, "r", m, "a", "b"), "PutManifest")
		noErr(t, s.DeleteTag(ctx, "r", "a"), "DeleteTag")
		_, err := s.GetManifest(ctx, "r", "a")
		wantErr(t, err, metadata.ErrNotFound, "GetManifest deleted tag")
		for _, ref := range []string{"b", m.Digest.String()} {
			got, err := s.GetManifest(ctx, "r", ref)
			noErr(t, err, "GetManifest "+ref)
			checkManifest(t, "GetManifest "+ref, got, m)
		}
		wantErr(t, s.DeleteTag(ctx, "r", "a"), metadata.ErrNotFound, "DeleteTag twice")
		wantErr(t, s.DeleteTag(ctx, "r", "never"), metadata.ErrNotFound, "DeleteTag unknown tag")
		wantErr(t, s.DeleteTag(ctx, "unknown", "b"), metadata.ErrNotFound, "DeleteTag unknown repository")
		// Deleting the last tag keeps the manifest, too.
		noErr(t, s.DeleteTag(ctx, "r", "b"), "DeleteTag b")
		_, err = s.GetManifest(ctx, "r", m.Digest.String())
		noErr(t, err, "GetManifest by digest after deleting all tags")
	})
}

// tagSet is deliberately unsorted; tagOrder is its ascending byte order.
var (
	tagSet   = []string{"b", "a.b", "A", "_x", "aa", "1", "a", "a-b", "Z", "a_"}
	tagOrder = []string{"1", "A", "Z", "_x", "a", "a-b", "a.b", "a_", "aa", "b"}
)

func testTags(t *testing.T, open opener) {
	t.Run("ByteOrder", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		// Tags arrive in several puts, so no store can rely on one batch.
		for i, tag := range tagSet {
			noErr(t, s.PutManifest(ctx, "r", newManifest(tag), tag), "PutManifest")
			if i == 3 {
				noErr(t, s.PutManifest(ctx, "other", newManifest(tag), "zzz-other"), "PutManifest other")
			}
		}
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", tags, more, tagOrder, false)
	})
	t.Run("Pagination", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		noErr(t, s.PutManifest(ctx, "r", m, tagSet...), "PutManifest")
		tests := []struct {
			name     string
			last     string
			n        int
			want     []string
			wantMore bool
		}{
			{name: "all", n: -1, want: tagOrder},
			{name: "n=0", n: 0, want: []string{}, wantMore: true},
			{name: "first page", n: 3, want: tagOrder[:3], wantMore: true},
			{name: "n equals count", n: len(tagOrder), want: tagOrder},
			{name: "n above count", n: 100, want: tagOrder},
			{name: "last is exclusive", last: "a", n: 2, want: []string{"a-b", "a.b"}, wantMore: true},
			{name: "last exclusive no limit", last: "a_", n: -1, want: []string{"aa", "b"}},
			{name: "last not existing", last: "a0", n: -1, want: []string{"a_", "aa", "b"}},
			{name: "last before all", last: "0", n: 1, want: []string{"1"}, wantMore: true},
			{name: "exactly the rest", last: "aa", n: 1, want: []string{"b"}},
			{name: "last is the last tag", last: "b", n: 5, want: []string{}},
			{name: "last after all", last: "zzz", n: -1, want: []string{}},
			{name: "n=0 after all", last: "zzz", n: 0, want: []string{}},
			{name: "last is a prefix", last: "a-", n: 1, want: []string{"a-b"}, wantMore: true},
		}
		for _, tt := range tests {
			got, more, err := s.Tags(ctx, "r", tt.last, tt.n)
			noErr(t, err, tt.name)
			checkStrings(t, tt.name, got, more, tt.want, tt.wantMore)
		}
	})
	t.Run("WalkPages", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		noErr(t, s.PutManifest(ctx, "r", newManifest("m"), tagSet...), "PutManifest")
		for n := 1; n <= 4; n++ {
			var all []string
			last := ""
			for pages := 0; ; pages++ {
				if pages > len(tagOrder) {
					t.Fatalf("n=%d: pagination does not end", n)
				}
				page, more, err := s.Tags(ctx, "r", last, n)
				noErr(t, err, "Tags")
				if len(page) > n {
					t.Fatalf("n=%d: page of %d", n, len(page))
				}
				all = append(all, page...)
				if !more {
					break
				}
				last = page[len(page)-1]
			}
			checkStrings(t, "walked tags", all, false, tagOrder, false)
		}
	})
	t.Run("UnknownRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		_, _, err := s.Tags(ctx, "unknown", "", -1)
		wantErr(t, err, metadata.ErrNotFound, "Tags of unknown repository")
		noErr(t, s.PutManifest(ctx, "known", newManifest("m"), "t"), "PutManifest")
		_, _, err = s.Tags(ctx, "unknown", "", 10)
		wantErr(t, err, metadata.ErrNotFound, "Tags of unknown repository")
		_, _, err = s.Tags(ctx, "known/sub", "", 10)
		wantErr(t, err, metadata.ErrNotFound, "Tags of unknown sub-repository")
	})
	t.Run("UntaggedRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		noErr(t, s.PutManifest(ctx, "r", newManifest("m")), "PutManifest without tags")
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", tags, more, []string{}, false)
	})
	t.Run("EmptiedRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m1, m2 := newManifest("m1"), newManifest("m2")
		noErr(t, s.PutManifest(ctx, "r", m1, "a"), "PutManifest m1")
		noErr(t, s.PutManifest(ctx, "r", m2, "b"), "PutManifest m2")
		noErr(t, s.DeleteTag(ctx, "r", "a"), "DeleteTag")
		noErr(t, s.DeleteManifest(ctx, "r", m2.Digest), "DeleteManifest")
		for _, n := range []int{-1, 0, 5} {
			tags, more, err := s.Tags(ctx, "r", "", n)
			noErr(t, err, "Tags of emptied repository")
			checkStrings(t, "Tags of emptied repository", tags, more, []string{}, false)
		}
		noErr(t, s.DeleteManifest(ctx, "r", m1.Digest), "DeleteManifest m1")
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags of repository without manifests")
		checkStrings(t, "Tags of repository without manifests", tags, more, []string{}, false)
	})
}

func checkDescriptors(t *testing.T, what string, s metadata.Store, repo string, subject digest.Digest, want ...metadata.Manifest) {
	t.Helper()
	got, err := s.Referrers(t.Context(), repo, subject)
	noErr(t, err, what)
	if got == nil {
		t.Fatalf("%s: nil slice, want non-nil", what)
	}
	wantDigests := make([]digest.Digest, len(want))
	for i, m := range want {
		wantDigests[i] = m.Digest
	}
	slices.Sort(wantDigests)
	if len(got) != len(want) {
		t.Fatalf("%s: %d descriptors %v, want %d %v", what, len(got), got, len(want), wantDigests)
	}
	byDigest := map[digest.Digest]metadata.Manifest{}
	for _, m := range want {
		byDigest[m.Digest] = m
	}
	for i, d := range got {
		if d.Digest != wantDigests[i] {
			t.Fatalf("%s: descriptor %d is %s, want %s (ordered by digest)", what, i, d.Digest, wantDigests[i])
		}
		w := byDigest[d.Digest].Descriptor()
		if d.MediaType != w.MediaType || d.Size != w.Size || d.Size != int64(len(byDigest[d.Digest].Body)) ||
			d.ArtifactType != w.ArtifactType || !sameAnnotations(d.Annotations, w.Annotations) ||
			len(d.URLs) != 0 || d.Platform != nil || len(d.Data) != 0 {
			t.Fatalf("%s: descriptor %d = %+v, want %+v", what, i, d, w)
		}
	}
}

func testReferrers(t *testing.T, open opener) {
	t.Run("Lifecycle", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		subject := newManifest("subject")
		noErr(t, s.PutManifest(ctx, "r", subject, "latest"), "PutManifest subject")
		checkDescriptors(t, "no referrers yet", s, "r", subject.Digest)

		var refs []metadata.Manifest
		for _, name := range []string{"sig", "sbom", "attestation", "scan"} {
			m := newManifest(name)
			m.Subject = subject.Digest
			refs = append(refs, m)
		}
		refs[1].Annotations = nil
		refs[2].ArtifactType = ""
		refs[3].MediaType = "application/vnd.oci.image.index.v1+json"
		for _, m := range refs {
			noErr(t, s.PutManifest(ctx, "r", m), "PutManifest referrer")
		}
		// Neither of these is a referrer of subject.
		plain := newManifest("plain")
		noErr(t, s.PutManifest(ctx, "r", plain), "PutManifest plain")
		otherRef := newManifest("other-ref")
		otherRef.Subject = plain.Digest
		noErr(t, s.PutManifest(ctx, "r", otherRef), "PutManifest other referrer")

		checkDescriptors(t, "referrers", s, "r", subject.Digest, refs...)
		checkDescriptors(t, "referrers of plain", s, "r", plain.Digest, otherRef)

		// Re-putting a referrer, tagged, does not duplicate it.
		noErr(t, s.PutManifest(ctx, "r", refs[0], "sig"), "PutManifest referrer again")
		checkDescriptors(t, "referrers after re-put", s, "r", subject.Digest, refs...)

		noErr(t, s.DeleteManifest(ctx, "r", refs[1].Digest), "DeleteManifest referrer")
		checkDescriptors(t, "referrers after delete", s, "r", subject.Digest, refs[0], refs[2], refs[3])

		// Deleting the subject leaves its referrers.
		noErr(t, s.DeleteManifest(ctx, "r", subject.Digest), "DeleteManifest subject")
		checkDescriptors(t, "referrers after deleting the subject", s, "r", subject.Digest, refs[0], refs[2], refs[3])

		for _, m := range []metadata.Manifest{refs[0], refs[2], refs[3]} {
			noErr(t, s.DeleteManifest(ctx, "r", m.Digest), "DeleteManifest referrer")
		}
		checkDescriptors(t, "referrers after deleting all", s, "r", subject.Digest)
	})
	t.Run("SubjectNeedNotExist", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		absent := digest.FromString("never pushed")
		m := newManifest("ref")
		m.Subject = absent
		noErr(t, s.PutManifest(ctx, "r", m), "PutManifest")
		checkDescriptors(t, "referrers of absent subject", s, "r", absent, m)
	})
	t.Run("Sha512", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		subject := digest.SHA512.FromString("subject")
		m := newManifest("ref")
		m.Digest = digest.SHA512.FromBytes(m.Body)
		m.Subject = subject
		noErr(t, s.PutManifest(ctx, "r", m), "PutManifest")
		checkDescriptors(t, "referrers", s, "r", subject, m)
	})
	t.Run("Unknown", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		checkDescriptors(t, "unknown repository", s, "unknown", digest.FromString("x"))
		noErr(t, s.PutManifest(ctx, "r", newManifest("m")), "PutManifest")
		checkDescriptors(t, "unknown subject", s, "r", digest.FromString("x"))
	})
	t.Run("PerRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		subject := digest.FromString("subject")
		m1, m2 := newManifest("m1"), newManifest("m2")
		m1.Subject, m2.Subject = subject, subject
		noErr(t, s.PutManifest(ctx, "a", m1), "PutManifest a")
		noErr(t, s.PutManifest(ctx, "b", m1), "PutManifest b m1")
		noErr(t, s.PutManifest(ctx, "b", m2), "PutManifest b m2")
		checkDescriptors(t, "referrers in a", s, "a", subject, m1)
		checkDescriptors(t, "referrers in b", s, "b", subject, m1, m2)
		noErr(t, s.DeleteManifest(ctx, "b", m1.Digest), "DeleteManifest b m1")
		checkDescriptors(t, "referrers in a after delete in b", s, "a", subject, m1)
		checkDescriptors(t, "referrers in b after delete in b", s, "b", subject, m2)
	})
}

func testRepositories(t *testing.T, open opener) {
	t.Run("Empty", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		for _, n := range []int{-1, 0, 10} {
			repos, more, err := s.Repositories(ctx, "", n)
			noErr(t, err, "Repositories")
			checkStrings(t, "Repositories of empty store", repos, more, []string{}, false)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		names := []string{"c/d/e", "b", "a/x", "a", "a-b", "a/x/y", "0"}
		order := []string{"0", "a", "a-b", "a/x", "a/x/y", "b", "c/d/e"}
		for _, name := range names {
			noErr(t, s.PutManifest(ctx, name, newManifest(name), "t"), "PutManifest")
			noErr(t, s.PutManifest(ctx, name, newManifest(name+"2"), "u"), "PutManifest again")
		}
		link(t, s, "blobs/only", newBlob("x", "k", at(0)))
		tests := []struct {
			name     string
			last     string
			n        int
			want     []string
			wantMore bool
		}{
			{name: "all", n: -1, want: order},
			{name: "n=0", n: 0, want: []string{}, wantMore: true},
			{name: "first page", n: 2, want: order[:2], wantMore: true},
			{name: "second page", last: order[1], n: 2, want: order[2:4], wantMore: true},
			{name: "last page", last: order[3], n: 3, want: order[4:]},
			{name: "last not existing", last: "a/w", n: -1, want: order[3:]},
			{name: "last after all", last: "z", n: 3, want: []string{}},
		}
		for _, tt := range tests {
			got, more, err := s.Repositories(ctx, tt.last, tt.n)
			noErr(t, err, tt.name)
			checkStrings(t, tt.name, got, more, tt.want, tt.wantMore)
		}
	})
	t.Run("EmptiedRepositoryStays", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		m := newManifest("m")
		noErr(t, s.PutManifest(ctx, "r", m, "t"), "PutManifest")
		noErr(t, s.DeleteManifest(ctx, "r", m.Digest), "DeleteManifest")
		repos, more, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		checkStrings(t, "Repositories", repos, more, []string{"r"}, false)
	})
}
