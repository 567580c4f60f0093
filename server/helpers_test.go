package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage"
)

// metaKinds are the metadata stores every end-to-end test runs on.
var metaKinds = []string{"mem", "bolt", "redis"}

// newMeta opens a metadata store of kind for one test.
func newMeta(t *testing.T, kind string) metadata.Store {
	t.Helper()
	var (
		m   metadata.Store
		err error
	)
	switch kind {
	case "mem":
		m = memmeta.New()
	case "bolt":
		m, err = boltmeta.Open(t.TempDir() + "/meta.db")
	case "redis":
		addr := redistest.Start(t)
		m = redismeta.New(redis.NewClient(&redis.Options{Addr: addr}))
	default:
		t.Fatalf("unknown metadata kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// newServer starts an in-process registry over meta and the bucket at
// bucketURL and returns its base URL.
func newServer(t *testing.T, meta metadata.Store, bucketURL string, opts ...server.Option) string {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, bucketURL, meta, storage.WithLogger(testLog()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	opts = append([]server.Option{server.WithLogger(testLog())}, opts...)
	ts := httptest.NewServer(server.New(meta, st, opts...))
	t.Cleanup(ts.Close)
	return ts.URL
}

// fileBucket returns a file:// bucket URL in a fresh temporary directory.
func fileBucket(t *testing.T) (url, dir string) {
	dir = t.TempDir()
	return "file://" + dir, dir
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, method, url string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// testLog discards the server's log, unless REGKIT_TEST_LOG is set: then
// warnings and errors go to stderr.
func testLog() *slog.Logger {
	if os.Getenv("REGKIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return quiet()
}

// quiet is a logger that discards everything.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
