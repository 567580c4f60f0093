package storage_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// A chunked upload: start a session, append chunks (any replica may take
// any of these calls), finish with the digest, then read a range back.
func Example() {
	ctx := context.Background()
	meta := memmeta.New()
	s, err := storage.Open(ctx, "mem://", meta)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	u, err := s.StartUpload(ctx, "library/hello")
	if err != nil {
		panic(err)
	}
	if u, err = s.AppendUpload(ctx, "", u.ID, 0, strings.NewReader("hello, ")); err != nil {
		panic(err)
	}
	fmt.Println("offset:", u.Offset)
	b, err := s.FinishUpload(ctx, "", u.ID, strings.NewReader("world"), digest.FromString("hello, world"))
	if err != nil {
		panic(err)
	}
	fmt.Println("stored:", b.Size, "bytes at", b.Key[:19]+"...")

	rc, err := s.ReadBlob(ctx, b, 7, -1)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	rest, _ := io.ReadAll(rc)
	fmt.Printf("range: %q\n", rest)
	// Output:
	// offset: 7
	// stored: 12 bytes at blobs/sha256/09/ca/...
	// range: "world"
}
