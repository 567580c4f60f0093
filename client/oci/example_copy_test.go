package oci_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// newExampleRegistry starts an in-process registry; any registry URL
// works the same way.
func newExampleRegistry() (string, func()) {
	meta := memmeta.New()
	store, _ := storage.Open(context.Background(), "mem://", meta)
	ts := httptest.NewServer(server.New(meta, store, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	return ts.URL, func() { ts.Close(); _ = store.Close(); _ = meta.Close() }
}

// Copy an image from a registry into an OCI layout directory and on to
// another repository, by location strings as the regkit command takes
// them.
func ExampleCopy() {
	ctx := context.Background()
	base, stop := newExampleRegistry()
	defer stop()
	host := strings.TrimPrefix(base, "http://")

	// Something to copy: a one-layer image pushed with the wire-level API.
	c := oci.NewClient(base)
	layer := []byte("layer bytes")
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{layer, config} {
		_ = c.BlobPut(ctx, "team/app", digest.FromBytes(b), strings.NewReader(string(b)), int64(len(b)))
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))
	_, _ = c.ManifestPut(ctx, "team/app", "v1", "application/vnd.oci.image.manifest.v1+json", []byte(manifest))

	dir, _ := os.MkdirTemp("", "layout")
	defer os.RemoveAll(dir)
	hops := [][2]string{
		{host + "/team/app:v1", "oci:" + filepath.Join(dir, "app") + ":v1"},
		{"oci:" + filepath.Join(dir, "app") + ":v1", host + "/mirror/app:v1"},
	}
	for _, h := range hops {
		srcLoc, _ := oci.ParseLocation(h[0])
		dstLoc, _ := oci.ParseLocation(h[1])
		src, _ := oci.Open(ctx, srcLoc, nil)
		dst, _ := oci.Open(ctx, dstLoc, nil)
		res, err := oci.Copy(ctx, src, srcLoc.Ref(), dst, dstLoc.Tag, &oci.CopyOptions{Referrers: true})
		_ = src.Close()
		_ = dst.Close()
		fmt.Println(dstLoc.Kind, res.Digest == digest.FromString(manifest), res.Copied, "blobs copied", err)
	}
	// Output:
	// oci true 2 blobs copied <nil>
	// registry true 2 blobs copied <nil>
}
