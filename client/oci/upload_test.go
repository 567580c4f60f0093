package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

func TestUploadSession(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	data := fixtures.Blob(11, 3000)
	d := digest.FromBytes(data)

	u, err := c.UploadStart(ctx, "up", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.Location == "" || u.Offset != 0 {
		t.Fatalf("new upload %+v", u)
	}
	if off, err := c.UploadStatus(ctx, u); err != nil || off != 0 {
		t.Fatalf("status of empty upload = %d, %v", off, err)
	}
	if err := c.UploadChunk(ctx, u, bytes.NewReader(data[:1000]), 1000); err != nil {
		t.Fatal(err)
	}
	if off, err := c.UploadStatus(ctx, u); err != nil || off != 1000 {
		t.Fatalf("status = %d, %v; want 1000", off, err)
	}

	// A chunk at the wrong offset is refused with 416, and the upload
	// learns where the registry is.
	bad := *u
	bad.Offset = 500
	err = c.UploadChunk(ctx, &bad, bytes.NewReader(data[500:600]), 100)
	var oe *ocispec.Error
	if !errors.As(err, &oe) || oe.HTTPStatus() != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("chunk at wrong offset: %v, want a 416", err)
	}
	if bad.Offset != 1000 {
		t.Fatalf("after 416, Offset = %d, want 1000", bad.Offset)
	}

	if err := c.UploadChunk(ctx, u, bytes.NewReader(data[1000:]), 2000); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadFinish(ctx, u, digest.FromString("wrong")); !errors.Is(err, ocispec.ErrDigestInvalid) {
		t.Fatalf("finish with wrong digest: %v, want DIGEST_INVALID", err)
	}
	// A failed finish ends the session on some registries; start over
	// when it did.
	if _, err := c.UploadStatus(ctx, u); errors.Is(err, ocispec.ErrBlobUploadUnknown) {
		if u, err = c.UploadStart(ctx, "up", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.UploadChunk(ctx, u, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.UploadFinish(ctx, u, d); err != nil {
		t.Fatal(err)
	}
	if size, err := c.BlobHead(ctx, "up", d); err != nil || size != 3000 {
		t.Fatalf("BlobHead = %d, %v", size, err)
	}
	if _, err := c.UploadStatus(ctx, u); !errors.Is(err, ocispec.ErrBlobUploadUnknown) {
		t.Fatalf("status of finished upload: %v, want BLOB_UPLOAD_UNKNOWN", err)
	}
}

func TestUploadCancel(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	u, err := c.UploadStart(ctx, "up", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadChunk(ctx, u, bytes.NewReader([]byte("abc")), 3); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadCancel(ctx, u); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"status", func() error { _, err := c.UploadStatus(ctx, u); return err }},
		{"chunk", func() error { return c.UploadChunk(ctx, u, bytes.NewReader([]byte("d")), 1) }},
		{"finish", func() error { return c.UploadFinish(ctx, u, digest.FromString("abc")) }},
		{"cancel", func() error { return c.UploadCancel(ctx, u) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ocispec.ErrBlobUploadUnknown) {
				t.Fatalf("err = %v, want BLOB_UPLOAD_UNKNOWN", err)
			}
		})
	}
}

func TestUploadWithoutLocation(t *testing.T) {
	// An Upload known only by repository and ID is addressed through the
	// route table.
	c, _ := newTestClient(t)
	ctx := context.Background()
	u, err := c.UploadStart(ctx, "up", nil)
	if err != nil {
		t.Fatal(err)
	}
	bare := &Upload{Repo: "up", ID: u.ID}
	if err := c.UploadChunk(ctx, bare, bytes.NewReader([]byte("xyz")), 3); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadFinish(ctx, bare, digest.FromString("xyz")); err != nil {
		t.Fatal(err)
	}
}

func TestUploadSHA512(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	data := fixtures.Blob(12, 5000)
	d := digest.SHA512.FromBytes(data)
	u, err := c.UploadStart(ctx, "up", &UploadOptions{Algorithm: digest.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadChunk(ctx, u, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadFinish(ctx, u, d); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.BlobGet(ctx, "up", d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("BlobGet: %d bytes, %v", len(got), err)
	}
}

func TestRangeEnd(t *testing.T) {
	tests := []struct {
		h      string
		own    int64
		want   int64
		wantOK bool
	}{
		{"0-0", 0, 0, true},
		{"0-0", 1, 1, true},
		{"0-0", 5, 1, true},
		{"0-99", 0, 100, true},
		{"bytes=0-99", 0, 100, true},
		{"", 0, 0, false},
		{"5-9", 0, 0, false},
		{"0-x", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := rangeEnd(tt.h, tt.own)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("rangeEnd(%q, %d) = %d, %v; want %d, %v", tt.h, tt.own, got, ok, tt.want, tt.wantOK)
		}
	}
}
