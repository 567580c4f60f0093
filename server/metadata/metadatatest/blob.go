package metadatatest

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

func testBlobs(t *testing.T, open opener) {
	t.Run("PutGet", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("hello", "blobs/sha256/aa/bb/hello", at(1))
		got, err := s.PutBlob(ctx, b)
		noErr(t, err, "PutBlob")
		checkBlob(t, "PutBlob", got, b)
		got, err = s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		checkBlob(t, "GetBlob", got, b)
	})
	t.Run("Sha512", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := metadata.Blob{Digest: digest.SHA512.FromString("x"), Size: 1, Key: "k", Created: at(2)}
		_, err := s.PutBlob(ctx, b)
		noErr(t, err, "PutBlob")
		got, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		checkBlob(t, "GetBlob", got, b)
	})
	t.Run("FirstWriterWins", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		first := newBlob("same", "first-key", at(1))
		second := newBlob("same", "second-key", at(2))
		_, err := s.PutBlob(ctx, first)
		noErr(t, err, "PutBlob first")
		got, err := s.PutBlob(ctx, second)
		noErr(t, err, "PutBlob second")
		checkBlob(t, "PutBlob second returns", got, first)
		got, err = s.GetBlob(ctx, first.Digest)
		noErr(t, err, "GetBlob")
		checkBlob(t, "GetBlob", got, first)
	})
	t.Run("CreatedDefaultsToNow", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		before := time.Now().Add(-time.Second)
		got, err := s.PutBlob(ctx, newBlob("now", "k", time.Time{}))
		noErr(t, err, "PutBlob")
		if got.Created.Before(before) || got.Created.After(time.Now().Add(time.Second)) {
			t.Fatalf("Created = %v, want about now", got.Created)
		}
		again, err := s.GetBlob(ctx, got.Digest)
		noErr(t, err, "GetBlob")
		checkBlob(t, "GetBlob", again, got)
	})
	t.Run("GetMissing", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		_, err := s.GetBlob(ctx, digest.FromString("missing"))
		wantErr(t, err, metadata.ErrNotFound, "GetBlob missing")
	})
	t.Run("LinkUnlink", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("linked", "key/linked", at(3))
		_, err := s.PutBlob(ctx, b)
		noErr(t, err, "PutBlob")
		_, err = s.RepoBlob(ctx, "a/repo", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob before LinkBlob")

		noErr(t, s.LinkBlob(ctx, "a/repo", b), "LinkBlob")
		noErr(t, s.LinkBlob(ctx, "a/repo", b), "LinkBlob twice")
		got, err := s.RepoBlob(ctx, "a/repo", b.Digest)
		noErr(t, err, "RepoBlob")
		checkBlob(t, "RepoBlob", got, b)

		_, err = s.RepoBlob(ctx, "a/other", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob in another repository")
		_, err = s.RepoBlob(ctx, "a", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob in a prefix repository")
		_, err = s.RepoBlob(ctx, "a/repo", digest.FromString("other"))
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob of an unlinked digest")

		noErr(t, s.UnlinkBlob(ctx, "a/repo", b.Digest), "UnlinkBlob")
		_, err = s.RepoBlob(ctx, "a/repo", b.Digest)
		wantErr(t, err, metadata.ErrNotFound, "RepoBlob after UnlinkBlob")
		wantErr(t, s.UnlinkBlob(ctx, "a/repo", b.Digest), metadata.ErrNotFound, "UnlinkBlob twice")
		wantErr(t, s.UnlinkBlob(ctx, "never/seen", b.Digest), metadata.ErrNotFound, "UnlinkBlob unknown repository")

		got, err = s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob after UnlinkBlob")
		checkBlob(t, "GetBlob after UnlinkBlob", got, b)

		noErr(t, s.LinkBlob(ctx, "a/repo", b), "LinkBlob again")
		_, err = s.RepoBlob(ctx, "a/repo", b.Digest)
		noErr(t, err, "RepoBlob after relink")
	})
	t.Run("LinkDoesNotCreateRepository", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("x", "k", at(1))
		link(t, s, "only/blobs", b)
		repos, more, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		checkStrings(t, "Repositories", repos, more, []string{}, false)
		_, _, err = s.Tags(ctx, "only/blobs", "", -1)
		wantErr(t, err, metadata.ErrNotFound, "Tags of a repository with only blob links")
	})
}
