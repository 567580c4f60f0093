package oci

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// recorder remembers the route of every request that reached the server.
type recorder struct {
	mu     sync.Mutex
	routes map[ocispec.RouteID]int
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if pr, err := ocispec.Parse(req.Method, req.URL); err == nil {
			r.mu.Lock()
			r.routes[pr.Route]++
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) seen() map[ocispec.RouteID]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[ocispec.RouteID]int{}
	for k, v := range r.routes {
		out[k] = v
	}
	return out
}

// newRegistry returns an in-process registry (memmeta, mem:// storage)
// as an http.Handler.
func newRegistry(t testing.TB, opts ...server.Option) http.Handler {
	t.Helper()
	meta := memmeta.New()
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(); _ = meta.Close() })
	opts = append([]server.Option{server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	return server.New(meta, st, opts...)
}

// newTestClient starts an in-process registry and returns a client for
// it and the recorder of the routes it received.
func newTestClient(t testing.TB, opts ...Option) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{routes: map[ocispec.RouteID]int{}}
	ts := httptest.NewServer(rec.wrap(newRegistry(t)))
	t.Cleanup(ts.Close)
	return NewClient(ts.URL, opts...), rec
}

// pushImage pushes m's blobs and manifests to repo, tagging m with tag
// (by digest when tag is "").
func pushImage(t testing.TB, c *Client, repo string, m fixtures.Manifest, tag string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	for _, b := range m.Blobs() {
		if err := c.BlobPut(ctx, repo, b.Digest(), bytes.NewReader(b.Data), int64(len(b.Data))); err != nil {
			t.Fatalf("push blob %s: %v", b.Digest(), err)
		}
	}
	for _, mm := range m.Manifests() {
		ref := mm.Digest().String()
		if mm.Digest() == m.Digest() && tag != "" {
			ref = tag
		}
		d, err := c.ManifestPut(ctx, repo, ref, mm.MediaType(), mm.Data)
		if err != nil {
			t.Fatalf("push manifest %s: %v", ref, err)
		}
		if d != mm.Digest() {
			t.Fatalf("push manifest %s: digest %s, want %s", ref, d, mm.Digest())
		}
	}
	return m.Digest()
}
