package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/regkit/regkit/server/metadata"
)

// S3: one multipart upload per session, at the session's object
// objects/<id>, created by the first PATCH that fills a part. PATCHes
// upload parts of s3PartSize bytes (the only bytes buffered in memory);
// what is left of a PATCH under S3's 5 MiB minimum is staged as a small
// object under _uploads/<id>/ and merged into the next part (read back
// once: at most 5 MiB), so every part but the last meets the minimum.
// Part numbers and ETags are kept in the session state; a stale writer
// that re-uploads a part number changes its ETag, so
// CompleteMultipartUpload refuses it and nothing wrong becomes visible.
// The final PUT uploads the staged tail as the last part and completes
// the upload; an upload of less than 5 MiB in all never starts one and is
// written with one PutObject. The blob record maps the digest to the
// session's key.

const (
	// S3MinPartSize is S3's smallest part but the last.
	S3MinPartSize = 5 << 20
	s3PartSize    = 8 << 20
	s3MaxParts    = 10000
)

type s3Backend struct {
	c      *s3.Client
	bucket string
}

func (*s3Backend) sessionKeyed() bool { return true }

// splitTail returns the uploaded parts and the staged tail of parts.
func splitTail(parts []part) (uploaded, tail []part) {
	i := slices.IndexFunc(parts, func(p part) bool { return p.ETag == "" })
	if i < 0 {
		return parts, nil
	}
	return parts[:i], parts[i:]
}

func sizeOf(parts []part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}

// s3Writer buffers bytes into parts and uploads each full one.
type s3Writer struct {
	ctx   context.Context
	b     *s3Backend
	s     *Store
	id    string
	g     *staging
	tail  []part // staged objects not merged yet
	buf   []byte
	added int64
}

func (w *s3Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := s3PartSize - int(sizeOf(w.tail)) - len(w.buf)
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		w.added += int64(k)
		if int(sizeOf(w.tail))+len(w.buf) >= s3PartSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush uploads the tail and buf as the next part.
func (w *s3Writer) flush() error {
	body := w.buf
	if len(w.tail) > 0 {
		t, err := w.s.readParts(w.ctx, w.tail)
		if err != nil {
			return err
		}
		body = append(t, w.buf...)
	}
	p, err := w.b.uploadPart(w.ctx, w.id, w.g, body)
	if err != nil {
		return err
	}
	w.g.parts = append(w.g.parts[:len(w.g.parts)-len(w.tail)], p)
	w.tail = nil
	w.buf = w.buf[:0]
	return nil
}

// readParts reads the staged objects ps into memory.
func (s *Store) readParts(ctx context.Context, ps []part) ([]byte, error) {
	out := make([]byte, 0, sizeOf(ps))
	for _, p := range ps {
		b, err := s.bucket.ReadAll(ctx, p.Key)
		if err != nil {
			return nil, fmt.Errorf("read staged %s: %w", p.Key, err)
		}
		if int64(len(b)) != p.Size {
			return nil, fmt.Errorf("%w: staged %s has %d bytes, want %d", ErrUploadBroken, p.Key, len(b), p.Size)
		}
		out = append(out, b...)
	}
	return out, nil
}

// uploadPart uploads body as the next part of g's multipart upload,
// creating it first if needed.
func (b *s3Backend) uploadPart(ctx context.Context, id string, g *staging, body []byte) (part, error) {
	key := objectsPrefix + id
	if g.mpu == "" {
		out, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(b.bucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"),
		})
		if err != nil {
			return part{}, fmt.Errorf("create multipart upload %s: %w", key, err)
		}
		g.mpu = aws.ToString(out.UploadId)
	}
	up, _ := splitTail(g.parts)
	num := int32(len(up) + 1)
	if num > s3MaxParts {
		return part{}, fmt.Errorf("storage: upload %s exceeds %d parts of S3", id, s3MaxParts)
	}
	out, err := b.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(g.mpu),
		PartNumber: aws.Int32(num), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return part{}, fmt.Errorf("upload part %d of %s: %w", num, key, err)
	}
	return part{Num: num, ETag: aws.ToString(out.ETag), Size: int64(len(body))}, nil
}

func (b *s3Backend) appendParts(ctx context.Context, s *Store, id string, st *state, token string, hs []hash.Hash, r io.Reader) (*staging, error) {
	g := &staging{parts: slices.Clone(st.Parts), mpu: st.MPU}
	_, tail := splitTail(g.parts)
	bufp := partPool.Get().(*[]byte)
	defer partPool.Put(bufp)
	w := &s3Writer{ctx: ctx, b: b, s: s, id: id, g: g, tail: tail, buf: (*bufp)[:0]}
	if _, err := s.copyHashed(ctx, w, r, hs); err != nil {
		return nil, err
	}
	g.n = w.added
	switch {
	case sizeOf(w.tail)+int64(len(w.buf)) >= S3MinPartSize:
		if err := w.flush(); err != nil {
			return nil, err
		}
	case len(w.buf) > 0:
		key := fmt.Sprintf("%s%s/%08d-%s", uploadsPrefix, id, st.Seq, token[:8])
		if err := s.bucket.WriteAll(ctx, key, w.buf, octetStream); err != nil {
			return nil, fmt.Errorf("stage %s: %w", key, err)
		}
		g.parts = append(g.parts, part{Key: key, Size: int64(len(w.buf))})
	}
	return g, nil
}

func (b *s3Backend) commit(ctx context.Context, s *Store, id string, st *state, size int64, key string) error {
	if sizeOf(st.Parts) != size {
		return fmt.Errorf("%w: parts hold %d bytes, offset %d", ErrUploadBroken, sizeOf(st.Parts), size)
	}
	if st.MPU != "" {
		// Completed already: by hashCommitted (a digest the session did
		// not hash) or an attempt that failed after completing. Only this
		// session writes its key.
		if a, err := s.bucket.Attributes(ctx, key); err == nil && a.Size == size {
			return nil
		} else if err != nil && !isNotFound(err) {
			return err
		}
	}
	up, tail := splitTail(st.Parts)
	t, err := s.readParts(ctx, tail)
	if err != nil {
		return err
	}
	if st.MPU == "" {
		// Under 5 MiB in all: one PutObject of at most that much.
		return s.bucket.WriteAll(ctx, key, t, octetStream)
	}
	g := &staging{parts: slices.Clone(up), mpu: st.MPU}
	if len(t) > 0 {
		p, err := b.uploadPart(ctx, id, g, t)
		if err != nil {
			return err
		}
		g.parts = append(g.parts, p)
	}
	done := &types.CompletedMultipartUpload{}
	for _, p := range g.parts {
		done.Parts = append(done.Parts, types.CompletedPart{PartNumber: aws.Int32(p.Num), ETag: aws.String(p.ETag)})
	}
	_, err = b.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(st.MPU), MultipartUpload: done,
	})
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) {
		// Completed by an earlier attempt that failed afterwards.
		if a, aerr := s.bucket.Attributes(ctx, key); aerr == nil && a.Size == size {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("complete multipart upload %s: %w", key, err)
	}
	return nil
}

// abort aborts every multipart upload of session id's object (found by
// listing: a stale writer's is aborted too).
func (b *s3Backend) abort(ctx context.Context, id string) error {
	return b.abortWhere(ctx, objectsPrefix+id, func(types.MultipartUpload) (bool, error) { return true, nil })
}

func (b *s3Backend) abortWhere(ctx context.Context, prefix string, ok func(types.MultipartUpload) (bool, error)) error {
	p := s3.NewListMultipartUploadsPaginator(b.c, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, m := range page.Uploads {
			if yes, err := ok(m); err != nil {
				return err
			} else if !yes {
				continue
			}
			_, err := b.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.bucket), Key: m.Key, UploadId: m.UploadId})
			var nsu *types.NoSuchUpload
			if err != nil && !errors.As(err, &nsu) {
				return fmt.Errorf("abort multipart upload %s: %w", aws.ToString(m.Key), err)
			}
		}
	}
	return nil
}

// sweepOrphans aborts multipart uploads begun before before whose
// session does not exist.
func (b *s3Backend) sweepOrphans(ctx context.Context, s *Store, before time.Time) error {
	return b.abortWhere(ctx, objectsPrefix, func(m types.MultipartUpload) (bool, error) {
		if m.Initiated == nil || !m.Initiated.Before(before) {
			return false, nil
		}
		id := aws.ToString(m.Key)[len(objectsPrefix):]
		_, err := s.meta.GetUpload(ctx, id)
		if errors.Is(err, metadata.ErrNotFound) {
			return true, nil
		}
		return false, err
	})
}

// partPool holds S3 part buffers.
var partPool = sync.Pool{New: func() any { b := make([]byte, 0, s3PartSize); return &b }}

// ChunkMinLength is the smallest chunk, in bytes, that appends as fast as
// it can on this bucket (the server advertises it as
// OCI-Chunk-Min-Length): S3's minimum part size, 0 elsewhere. Smaller
// chunks still work; on S3 they are staged and merged into a part.
func (s *Store) ChunkMinLength() int64 {
	if _, ok := s.native.(*s3Backend); ok {
		return S3MinPartSize
	}
	return 0
}
