package boltmeta_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

// TestContract runs every contract of package metadata (Store,
// Identity, Packages, Counter) over the rules layer on this driver.
func TestContract(t *testing.T) {
	metadatatest.RunDriver(t, func(t *testing.T) driver.Driver {
		d, err := boltmeta.OpenDriver(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2}`)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body, Subject: digest.FromString("s")}
	b := metadata.Blob{Digest: digest.FromString("b"), Size: 1, Key: "k"}
	u := metadata.Upload{ID: "u1", Repo: "r", Offset: 5, State: []byte("state")}
	steps := []struct {
		name string
		err  error
	}{
		{"PutManifest", s.PutManifest(ctx, "r", m, "latest")},
		{"PutBlob", func() error { _, err := s.PutBlob(ctx, b); return err }()},
		{"LinkBlob", s.LinkBlob(ctx, "r", b)},
		{"CreateUpload", s.CreateUpload(ctx, u)},
	}
	for _, st := range steps {
		if st.err != nil {
			t.Fatalf("%s: %v", st.name, st.err)
		}
	}
	if _, err := s.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetManifest(ctx, "r", "latest")
	if err != nil || string(got.Body) != string(body) || got.Created.IsZero() {
		t.Fatalf("GetManifest after reopen: %+v, %v", got, err)
	}
	if refs, err := s.Referrers(ctx, "r", m.Subject); err != nil || len(refs) != 1 {
		t.Fatalf("Referrers after reopen: %v, %v", refs, err)
	}
	if _, err := s.RepoBlob(ctx, "r", b.Digest); err != nil {
		t.Fatalf("RepoBlob after reopen: %v", err)
	}
	if _, err := s.GetBlob(ctx, b.Digest); err != nil {
		t.Fatalf("GetBlob after reopen: %v", err)
	}
	if gu, err := s.GetUpload(ctx, "u1"); err != nil || gu.Offset != 5 || string(gu.State) != "state" {
		t.Fatalf("GetUpload after reopen: %+v, %v", gu, err)
	}
	if repos, _, err := s.Repositories(ctx, "", -1); err != nil || len(repos) != 1 || repos[0] != "r" {
		t.Fatalf("Repositories after reopen: %v, %v", repos, err)
	}
	if exp, err := s.ExpiredUploads(ctx, time.Now().Add(time.Hour), -1); err != nil || len(exp) != 1 {
		t.Fatalf("ExpiredUploads after reopen: %v, %v", exp, err)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = boltmeta.Open(path, boltmeta.WithTimeout(100*time.Millisecond))
	if err == nil {
		t.Fatal("second Open succeeded")
	}
	if !strings.Contains(err.Error(), "locked") || time.Since(start) > 5*time.Second {
		t.Fatalf("second Open: %v after %v; want a lock error after the timeout", err, time.Since(start))
	}
	if errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("lock error is ErrNotFound: %v", err)
	}
}

// TestConcurrentLinks: writers linking one blob into one repository at
// once all succeed (bolt runs their transactions interleaved, which an
// in-memory driver rarely does), and the usage counts the blob once.
func TestConcurrentLinks(t *testing.T) {
	ctx := t.Context()
	s, err := boltmeta.Open(filepath.Join(t.TempDir(), "meta.db"), boltmeta.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.PutBlob(ctx, metadata.Blob{Digest: digest.FromString("shared"), Size: 7, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if err := s.LinkBlob(ctx, "r", b); err != nil {
				t.Errorf("LinkBlob: %v", err)
			}
		})
	}
	wg.Wait()
	if n, err := s.RepoUsage(ctx, "r"); err != nil || n != 7 {
		t.Fatalf("RepoUsage = %d, %v; want 7", n, err)
	}
}

// TestLeasesEndWithTheProcess: upload leases of the embedded store live
// in the process (driver.Local), so a session leased when the process
// stopped without releasing it (a crash) is free at once in the next
// one, without a takeover, and the lease was never written to the file.
func TestLeasesEndWithTheProcess(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "r"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireUpload(ctx, "u1", 0, "dead", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireUpload(ctx, "u1", 0, "other", time.Hour); !errors.Is(err, metadata.ErrConflict) {
		t.Fatalf("AcquireUpload while leased: %v, want ErrConflict", err)
	}
	if err := s.Close(); err != nil { // the holder never released it
		t.Fatal(err)
	}
	s, err = boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.AcquireUpload(ctx, "u1", 0, "next", time.Hour)
	if err != nil {
		t.Fatalf("AcquireUpload after a restart: %v, want the lease (its holder is gone)", err)
	}
	if u.Epoch != 0 {
		t.Errorf("epoch after a restart: %d, want 0 (no takeover)", u.Epoch)
	}
	if err := s.ReleaseUpload(ctx, u, "next"); err != nil {
		t.Fatal(err)
	}
}
