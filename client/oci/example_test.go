package oci_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	ocispec "github.com/regkit/regkit/spec/oci"
)

func Example() {
	ctx := context.Background()

	// An in-process registry; any registry URL works the same way.
	meta := memmeta.New()
	store, _ := storage.Open(ctx, "mem://", meta)
	defer store.Close()
	ts := httptest.NewServer(server.New(meta, store, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	defer ts.Close()

	c := oci.NewClient(ts.URL)
	if err := c.Ping(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// Push a blob in chunks; the client hashes it on the way.
	d, err := c.BlobPutChunked(ctx, "team/app", strings.NewReader("hello, registry"), 4)
	fmt.Println(d, err)

	// Read part of it back.
	rc, size, _ := c.BlobGetRange(ctx, "team/app", d, 7, 8)
	part, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%q of %d bytes\n", part, size)

	// Errors are OCI error codes.
	_, err = c.BlobHead(ctx, "team/app", digest.FromString("missing"))
	fmt.Println(errors.Is(err, ocispec.ErrBlobUnknown))
	// Output:
	// sha256:d4ceac3b8b759b17b86618c4165bb23a506c157c81a034147cf8e3510691aa1c <nil>
	// "registry" of 15 bytes
	// true
}
