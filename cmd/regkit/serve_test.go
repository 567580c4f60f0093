package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bolt "go.etcd.io/bbolt"
)

// startServe runs serve with cfg in the background and returns its
// address and a stop function that waits for a clean shutdown.
func startServe(t *testing.T, cfg serveConfig) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log, ready) }()
	select {
	case addr := <-ready:
		return addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("serve failed to start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return "", nil
}

// TestRestartKeepsData pushes to regkit serve on its embedded defaults,
// stops it, starts it again on the same data directory and pulls.
func TestRestartKeepsData(t *testing.T) {
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()

	addr, stop := startServe(t, cfg)
	img, err := random.Image(200_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/keep/me:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	stop()

	addr2, stop2 := startServe(t, cfg)
	defer stop2()
	ref2, _ := name.ParseReference(addr2+"/keep/me:v1", name.Insecure)
	got, err := remote.Image(ref2)
	if err != nil {
		t.Fatalf("pull after restart: %v", err)
	}
	sameImage(t, "after restart", img, got)
}

// sameImage fails t unless got has want's manifest and layers, byte for
// byte.
func sameImage(t *testing.T, what string, want, got v1.Image) {
	t.Helper()
	wm, _ := want.RawManifest()
	if gm, err := got.RawManifest(); err != nil || !bytes.Equal(wm, gm) {
		t.Fatalf("%s: manifest differs (%v)", what, err)
	}
	layers, _ := want.Layers()
	glayers, err := got.Layers()
	if err != nil || len(glayers) != len(layers) {
		t.Fatalf("%s: %d layers, %v", what, len(glayers), err)
	}
	for i := range layers {
		w, _ := layers[i].Compressed()
		g, err := glayers[i].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		wb, _ := io.ReadAll(w)
		gb, err := io.ReadAll(g)
		if err != nil || !bytes.Equal(wb, gb) {
			t.Fatalf("%s: layer %d differs (%v)", what, i, err)
		}
	}
}

// TestConfigPrecedence: flags beat environment, which beats the file.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/regkit.yaml"
	if err := writeFile(file, "addr: 127.0.0.1:7000\ndata: /from/file\nlog-level: debug\nmax-manifest-size: 1234\n"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGKIT_DATA", "/from/env")
	t.Setenv("REGKIT_LOG_LEVEL", "warn")
	cfg := defaultServeConfig()
	fs := newServeFlags(&cfg)
	var configPath string
	fs.StringVar(&configPath, "config", "", "")
	if err := loadConfig(fs, []string{"--config", file, "--log-level", "error"}, &cfg, &configPath); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:7000" || cfg.Data != "/from/env" || cfg.LogLevel != "error" || cfg.MaxManifestSize != 1234 {
		t.Fatalf("config = %+v", cfg)
	}
	if _, err := newLogger(io.Discard, "loud", "text"); err == nil {
		t.Fatal("a bad log level must be refused")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// TestServeRefusesOldMetadata: a meta.db in the layout of the store
// before the metadata driver is refused with a message saying what to do,
// and left as it was.
func TestServeRefusesOldMetadata(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"blobs", "catalog", "repos", "uploads", "uploads-by-time"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, &stdout, &stderr)
	msg := stderr.String()
	if code != 1 || !strings.Contains(msg, "unsupported metadata file format") || !strings.Contains(msg, "does not migrate") || !strings.Contains(msg, "--data") || !strings.Contains(msg, path) {
		t.Fatalf("serve on an old meta.db: exit %d, stderr:\n%s", code, msg)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the refused meta.db changed (%v)", err)
	}
}
