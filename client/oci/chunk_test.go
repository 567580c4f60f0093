package oci

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// TestChunkMinLength pushes a blob through Repository with 1 MiB chunks
// to a registry that asks for at least 3 MiB: every chunk but the last is
// 3 MiB.
func TestChunkMinLength(t *testing.T) {
	reg := newRegistry(t)
	var mu sync.Mutex
	var sizes []int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			mu.Lock()
			sizes = append(sizes, r.ContentLength)
			mu.Unlock()
		}
		if r.Method == http.MethodPost {
			w.Header().Set(ocispec.OCIChunkMinLength, "3145728")
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	blob := fixtures.Blob(3, 10<<20)
	desc := v1.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	r := NewRepository(NewClient(ts.URL), "chunks/min")
	r.ChunkSize = 1 << 20
	src := func(_ context.Context, off, length int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob[off:])), nil
	}
	if err := r.PushBlob(context.Background(), desc, src, nil); err != nil {
		t.Fatal(err)
	}
	want := []int64{3 << 20, 3 << 20, 3 << 20, 1 << 20}
	if len(sizes) != len(want) {
		t.Fatalf("chunks %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("chunks %v, want %v", sizes, want)
		}
	}
	if ok, err := r.HasBlob(context.Background(), desc); !ok || err != nil {
		t.Errorf("blob missing after the upload: %v", err)
	}
}
