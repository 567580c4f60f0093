package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// DownloadOptions are the knobs of Download. A nil *DownloadOptions
// downloads in 4 parallel ranges of 16 MiB with DefaultRetryPolicy.
type DownloadOptions struct {
	// Parallel is how many ranges are fetched at once (1: one stream).
	Parallel int
	// PartSize is the size of one range.
	PartSize int64
	// Progress, when not nil, is told the number of bytes written so far.
	Progress func(done int64)
	// Retry says how often a range that failed is fetched again from
	// where it stopped (DefaultRetryPolicy when nil); a range that makes
	// progress before failing starts its count again.
	Retry *RetryPolicy
}

// Download writes blob desc, read from src, into dst, in parallel ranges
// (one stream when the blob is smaller than two parts or Parallel is 1).
// A range that fails is fetched again from the byte where it stopped, so
// no byte that arrived is asked for twice. The content is verified
// against desc's digest and size: while it streams with one stream,
// by reading dst back after parallel ranges.
func Download(ctx context.Context, src BlobSource, desc v1.Descriptor, dst interface {
	io.WriterAt
	io.ReaderAt
}, opts *DownloadOptions) error {
	o := DownloadOptions{Parallel: 4, PartSize: 16 << 20}
	if opts != nil {
		o = *opts
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.PartSize <= 0 {
		o.PartSize = 16 << 20
	}
	p := DefaultRetryPolicy
	if o.Retry != nil {
		p = *o.Retry
	}
	var done atomic.Int64
	report := func(n int64) {
		v := done.Add(n)
		if o.Progress != nil {
			o.Progress(v)
		}
	}
	if !desc.Digest.Algorithm().Available() {
		return ocispec.CodeDigestInvalid.Errorf("unsupported digest %s", desc.Digest)
	}
	if o.Parallel == 1 || desc.Size < 2*o.PartSize {
		h := desc.Digest.Algorithm().Hash()
		if err := fetchRange(ctx, src, p, dst, 0, desc.Size, h, report); err != nil {
			return err
		}
		if got := digest.NewDigest(desc.Digest.Algorithm(), h); got != desc.Digest {
			return ocispec.CodeDigestInvalid.Errorf("downloaded blob has digest %s, not %s", got, desc.Digest)
		}
		return nil
	}
	// The parts land in any order; a hasher follows the contiguous prefix
	// (reading back what is in the page cache), so the digest is ready
	// soon after the last byte instead of after a second pass.
	nparts := int((desc.Size + o.PartSize - 1) / o.PartSize)
	landed := make([]chan struct{}, nparts)
	for i := range landed {
		landed[i] = make(chan struct{})
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hashed := make(chan error, 1)
	h := desc.Digest.Algorithm().Hash()
	go func() {
		for i := range nparts {
			select {
			case <-landed[i]:
			case <-hctx.Done():
				hashed <- hctx.Err()
				return
			}
			off := int64(i) * o.PartSize
			if _, err := io.Copy(h, io.NewSectionReader(dst, off, min(o.PartSize, desc.Size-off))); err != nil {
				hashed <- err
				return
			}
		}
		hashed <- nil
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallel)
	for i := range nparts {
		off := int64(i) * o.PartSize
		n := min(o.PartSize, desc.Size-off)
		g.Go(func() error {
			if err := fetchRange(gctx, src, p, dst, off, n, nil, report); err != nil {
				return err
			}
			close(landed[i])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		cancel()
		<-hashed
		return err
	}
	if err := <-hashed; err != nil {
		return err
	}
	if got := digest.NewDigest(desc.Digest.Algorithm(), h); got != desc.Digest {
		return ocispec.CodeDigestInvalid.Errorf("downloaded blob has digest %s, not %s", got, desc.Digest)
	}
	return nil
}

// fetchRange copies n bytes from off of src into dst at off, hashing
// them into h when h is not nil, resuming after failures.
func fetchRange(ctx context.Context, src BlobSource, p RetryPolicy, dst io.WriterAt, off, n int64, h io.Writer, report func(int64)) error {
	pos, end := off, off+n
	failures := 0
	for pos < end || n == 0 {
		length := end - pos
		if h != nil && pos == 0 {
			length = 0 // the whole blob in one stream: a plain GET
		}
		rc, err := src(ctx, pos, length)
		if err == nil {
			var got int64
			got, err = copyAt(dst, pos, io.LimitReader(rc, end-pos), h, report)
			_ = rc.Close()
			pos += got
			if got > 0 {
				failures = 0
			}
			if err == nil && pos < end {
				err = io.ErrUnexpectedEOF
			}
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var hs interface{ HTTPStatus() int }
		if errors.As(err, &hs) && !Retryable(hs.HTTPStatus()) && !errors.Is(err, ocispec.ErrSizeInvalid) {
			return err
		}
		if errors.Is(err, ErrNotFound) {
			return err
		}
		failures++
		if failures > p.Attempts {
			return fmt.Errorf("range %d-%d: giving up after %d failures: %w", pos, end-1, failures, err)
		}
		if err := Sleep(ctx, p.Wait(failures-1, nil)); err != nil {
			return err
		}
	}
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyAt copies r into dst from off, returning the bytes written.
func copyAt(dst io.WriterAt, off int64, r io.Reader, h io.Writer, report func(int64)) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := dst.WriteAt(buf[:n], off+total); err != nil {
				return total, err
			}
			if h != nil {
				h.Write(buf[:n])
			}
			total += int64(n)
			report(int64(n))
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// BlobDownload writes blob desc of repo into dst (see Download).
func (c *Client) BlobDownload(ctx context.Context, repo string, desc v1.Descriptor, dst interface {
	io.WriterAt
	io.ReaderAt
}, opts *DownloadOptions) error {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	if opts.Retry == nil {
		p := c.retry
		opts.Retry = &p
	}
	return Download(ctx, SourceOf(NewRepository(c, repo), desc), desc, dst, opts)
}
