package boltmeta

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
)

// TestMigrateGC opens a database as written before the link index and the
// usage counters existed: both are rebuilt.
func TestMigrateGC(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path, WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.PutBlob(ctx, metadata.Blob{Digest: digest.FromString("b"), Size: 100, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	m := metadata.Manifest{Digest: digest.FromString("m"), Body: []byte("12345")}
	steps := []error{
		s.LinkBlob(ctx, "team/a", b),
		s.LinkBlob(ctx, "team/b", b),
		s.PutManifest(ctx, "team/a", m, "v1"),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Turn the database into an old one.
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketBlobLinks); err != nil {
			return err
		}
		for _, name := range []string{"team/a", "team/b"} {
			if err := tx.Bucket(bucketRepos).Bucket([]byte(name)).Delete(keyUsage); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.NamespaceUsage(ctx, "team"); n != 0 {
		t.Fatalf("usage of the old database = %d, want 0", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for repo, want := range map[string]int64{"team/a": 105, "team/b": 100} {
		if n, err := s.RepoUsage(ctx, repo); err != nil || n != want {
			t.Fatalf("RepoUsage(%s) after migration = %d, %v; want %d", repo, n, err, want)
		}
	}
	cur, err := s.GetBlob(ctx, b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteBlobIfUnused(ctx, b.Digest, time.Now().Add(time.Hour), cur.Gen); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"team/a", "team/b"} {
		if _, err := s.RepoBlob(ctx, repo, b.Digest); err == nil {
			t.Fatalf("link in %s survived the delete: the index was not rebuilt", repo)
		}
	}
	if n, _ := s.NamespaceUsage(ctx, "team"); n != 5 {
		t.Fatalf("usage after the delete = %d, want 5", n)
	}
}
