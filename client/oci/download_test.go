package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// brokenReader returns n bytes of r, then an error.
type brokenReader struct {
	r io.Reader
	n int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errors.New("connection reset")
	}
	p = p[:min(len(p), b.n)]
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

func TestDownloadRangesResumeAndVerify(t *testing.T) {
	blob := fixtures.Blob(9, 10<<10+17)
	desc := v1.Descriptor{Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	p := RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	for _, parallel := range []int{1, 4} {
		var served atomic.Int64
		var calls atomic.Int32
		src := func(_ context.Context, off, length int64) (io.ReadCloser, error) {
			end := int64(len(blob))
			if length > 0 {
				end = off + length
			}
			var r io.Reader = bytes.NewReader(blob[off:end])
			if calls.Add(1)%3 == 1 {
				r = &brokenReader{r: r, n: 300} // every third request breaks after 300 bytes
			}
			return io.NopCloser(io.TeeReader(r, countWriter{&served})), nil
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := Download(context.Background(), src, desc, f, &DownloadOptions{Parallel: parallel, PartSize: 1 << 10, Retry: &p}); err != nil {
			t.Fatalf("parallel %d: %v", parallel, err)
		}
		got, _ := os.ReadFile(f.Name())
		_ = f.Close()
		if !bytes.Equal(got, blob) {
			t.Errorf("parallel %d: content differs", parallel)
		}
		if served.Load() != int64(len(blob)) {
			t.Errorf("parallel %d: %d bytes served for %d: resumed ranges asked for bytes again", parallel, served.Load(), len(blob))
		}

		// Wrong bytes fail the digest check.
		bad := func(_ context.Context, off, length int64) (io.ReadCloser, error) {
			b := bytes.Clone(blob)
			b[len(b)/2] ^= 1
			end := int64(len(b))
			if length > 0 {
				end = off + length
			}
			return io.NopCloser(bytes.NewReader(b[off:end])), nil
		}
		f2, _ := os.Create(filepath.Join(t.TempDir(), "bad"))
		err = Download(context.Background(), bad, desc, f2, &DownloadOptions{Parallel: parallel, PartSize: 1 << 10, Retry: &p})
		_ = f2.Close()
		if !errors.Is(err, ocispec.ErrDigestInvalid) {
			t.Errorf("parallel %d: corrupted content: %v, want ErrDigestInvalid", parallel, err)
		}
	}
}

type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }
