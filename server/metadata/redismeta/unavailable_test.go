package redismeta_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// TestUnavailable kills a real redis-server under a store opened by URL:
// every kind of call (single reads, Follow, ranges, transactions with
// reads and blind ones) fails with metadata.ErrUnavailable, not an
// anonymous error; a missing record is still ErrNotFound, not
// unavailable; and once the server is back the same store works again.
func TestUnavailable(t *testing.T) {
	p := redistest.StartProcess(t)
	ctx := t.Context()
	s, err := redismeta.Open(ctx, "redis://"+p.Addr+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	body := []byte(`{"schemaVersion":2}`)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
	if err := s.PutManifest(ctx, "r", m, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetManifest(ctx, "r", "nope"); !errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("missing tag: %v, want ErrNotFound only", err)
	}
	calls := map[string]func(context.Context) error{
		"GetManifest (Follow)": func(ctx context.Context) error { _, err := s.GetManifest(ctx, "r", "v1"); return err },
		"GetBlob (Get)":        func(ctx context.Context) error { _, err := s.GetBlob(ctx, m.Digest); return err },
		"Tags":                 func(ctx context.Context) error { _, _, err := s.Tags(ctx, "r", "", 10); return err },
		"Repositories":         func(ctx context.Context) error { _, _, err := s.Repositories(ctx, "", 10); return err },
		"PutManifest (transactions)": func(ctx context.Context) error {
			return s.PutManifest(ctx, "r", m, "v2")
		},
		"CreateAccount": func(ctx context.Context) error {
			_, err := s.CreateAccount(ctx, metadata.Account{Name: "alice", Type: metadata.AccountUser})
			return err
		},
		"PutPackageFile": func(ctx context.Context) error {
			_, err := s.PutPackageFile(ctx, metadata.PackageRef{Owner: "o", Type: "generic", Name: "n", Version: "1"},
				metadata.PackageFile{Name: "f", Size: 1, SHA256: m.Digest.Encoded()}, metadata.PutFileOptions{})
			return err
		},
		"GetUpload": func(ctx context.Context) error { _, err := s.GetUpload(ctx, "u"); return err },
	}
	p.Kill()
	for round := range 3 { // the later rounds hit go-redis's dial circuit breaker
		for name, call := range calls {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := call(cctx)
			cancel()
			if !errors.Is(err, metadata.ErrUnavailable) {
				t.Errorf("round %d, %s with Redis down: %v, want metadata.ErrUnavailable", round, name, err)
			}
		}
	}
	p.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.GetManifest(ctx, "r", "v1")
		if err == nil {
			break
		}
		if !errors.Is(err, metadata.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, call := range calls {
		if err := call(ctx); err != nil && !errors.Is(err, metadata.ErrNotFound) && !errors.Is(err, metadata.ErrExists) {
			t.Errorf("%s after restart: %v", name, err)
		}
	}
}

// TestOpenUnreachable: Open of an address where nothing listens fails
// with ErrUnavailable.
func TestOpenUnreachable(t *testing.T) {
	_, err := redismeta.Open(t.Context(), "redis://127.0.0.1:1/0")
	if !errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("Open: %v, want metadata.ErrUnavailable", err)
	}
}
