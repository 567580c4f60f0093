package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

func TestBlobPushPull(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	push := map[string]func(repo string, data []byte) (digest.Digest, error){
		"monolithic": func(repo string, data []byte) (digest.Digest, error) {
			d := digest.FromBytes(data)
			return d, c.BlobPut(ctx, repo, d, bytes.NewReader(data), int64(len(data)))
		},
		"monolithic non-seekable": func(repo string, data []byte) (digest.Digest, error) {
			d := digest.FromBytes(data)
			return d, c.BlobPut(ctx, repo, d, iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)))
		},
		"chunked": func(repo string, data []byte) (digest.Digest, error) {
			return c.BlobPutChunked(ctx, repo, bytes.NewReader(data), 64<<10)
		},
		"chunked default size": func(repo string, data []byte) (digest.Digest, error) {
			return c.BlobPutChunked(ctx, repo, iotest.HalfReader(bytes.NewReader(data)), 0)
		},
	}
	tests := []struct {
		name string
		size int
	}{
		{name: "empty", size: 0},
		{name: "one byte", size: 1},
		{name: "one chunk", size: 64 << 10},
		{name: "several chunks", size: 200<<10 + 7},
	}
	for how, put := range push {
		for i, tt := range tests {
			t.Run(how+"/"+tt.name, func(t *testing.T) {
				data := fixtures.Blob(uint64(100+i), tt.size)
				d, err := put("blobs/test", data)
				if err != nil {
					t.Fatal(err)
				}
				if want := digest.FromBytes(data); d != want {
					t.Fatalf("digest %s, want %s", d, want)
				}
				size, err := c.BlobHead(ctx, "blobs/test", d)
				if err != nil || size != int64(tt.size) {
					t.Fatalf("BlobHead = %d, %v; want %d", size, err, tt.size)
				}
				rc, size, err := c.BlobGet(ctx, "blobs/test", d)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || size != int64(tt.size) || !bytes.Equal(got, data) {
					t.Fatalf("BlobGet: %d bytes (size %d), err %v; want %d bytes", len(got), size, err, tt.size)
				}
			})
		}
	}
}

func TestBlobGetRange(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	data := fixtures.Blob(7, 1000)
	d := digest.FromBytes(data)
	if err := c.BlobPut(ctx, "r", d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		offset, length int64
		want           []byte
		err            error
	}{
		{name: "start", offset: 0, length: 10, want: data[:10]},
		{name: "middle", offset: 500, length: 100, want: data[500:600]},
		{name: "to the end", offset: 990, length: 0, want: data[990:]},
		{name: "clamped", offset: 995, length: 100, want: data[995:]},
		{name: "last byte", offset: 999, length: 1, want: data[999:]},
		{name: "beyond the end", offset: 1000, length: 1, err: ocispec.ErrRangeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, size, err := c.BlobGetRange(ctx, "r", d, tt.offset, tt.length)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || size != 1000 || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, size %d, err %v; want %d bytes, size 1000", len(got), size, err, len(tt.want))
			}
		})
	}
}

func TestBlobErrors(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	data := []byte("hello")
	d := digest.FromBytes(data)
	if err := c.BlobPut(ctx, "known", d, bytes.NewReader(data), 5); err != nil {
		t.Fatal(err)
	}
	missing := digest.FromString("missing")
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"head unknown blob", func() error { _, err := c.BlobHead(ctx, "known", missing); return err }, ocispec.ErrBlobUnknown},
		{"get unknown blob", func() error { _, _, err := c.BlobGet(ctx, "known", missing); return err }, ocispec.ErrBlobUnknown},
		{"get from another repository", func() error { _, _, err := c.BlobGet(ctx, "other", d); return err }, ocispec.ErrBlobUnknown},
		{"range of unknown blob", func() error { _, _, err := c.BlobGetRange(ctx, "known", missing, 0, 1); return err }, ocispec.ErrBlobUnknown},
		{"put with wrong digest", func() error { return c.BlobPut(ctx, "known", missing, bytes.NewReader(data), 5) }, ocispec.ErrDigestInvalid},
		{"invalid repository name", func() error { _, err := c.BlobHead(ctx, "Upper/Case", d); return err }, ocispec.ErrNameInvalid},
		{"invalid digest", func() error { _, err := c.BlobHead(ctx, "known", "sha256:abc"); return err }, ocispec.ErrDigestInvalid},
		{"delete unknown blob", func() error { return c.BlobDelete(ctx, "known", missing) }, ocispec.ErrBlobUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var oe *ocispec.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err %T is not an *ocispec.Error", err)
			}
		})
	}
}

func TestBlobDeleteAndMount(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	data := fixtures.Blob(3, 4096)
	d := digest.FromBytes(data)
	if err := c.BlobPut(ctx, "src", d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	mounted, u, err := c.BlobMount(ctx, "dst", d, "src")
	if err != nil || !mounted || u != nil {
		t.Fatalf("BlobMount = %v, %v, %v; want mounted", mounted, u, err)
	}
	if _, err := c.BlobHead(ctx, "dst", d); err != nil {
		t.Fatalf("mounted blob: %v", err)
	}
	// Not mountable: the registry opens a session instead.
	mounted, u, err = c.BlobMount(ctx, "dst", digest.FromString("nope"), "src")
	if err != nil || mounted || u == nil || u.Location == "" {
		t.Fatalf("BlobMount of unknown blob = %v, %+v, %v; want an upload session", mounted, u, err)
	}
	if err := c.UploadCancel(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := c.BlobDelete(ctx, "dst", d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BlobHead(ctx, "dst", d); !errors.Is(err, ocispec.ErrBlobUnknown) {
		t.Fatalf("after delete: %v, want BLOB_UNKNOWN", err)
	}
	if _, err := c.BlobHead(ctx, "src", d); err != nil {
		t.Fatalf("source after delete in dst: %v", err)
	}
}

func TestBlobGetVerifies(t *testing.T) {
	v := &verifier{rc: io.NopCloser(bytes.NewReader([]byte("tampered"))), d: digest.FromString("original"), size: -1}
	v.h = v.d.Algorithm().Hash()
	if _, err := io.ReadAll(v); !errors.Is(err, ocispec.ErrDigestInvalid) {
		t.Fatalf("err = %v, want DIGEST_INVALID", err)
	}
}
