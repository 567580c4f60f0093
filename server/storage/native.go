package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/googleapis/gax-go/v2"
	"gocloud.dev/blob"
)

// Cloud-native commit, through blob.Bucket.As.
//
// GCS: every PATCH writes one part object (as on the generic path);
// finishing composes them server-side into the content-addressed key —
// 32 sources per compose call, so more parts are composed in a tree of
// intermediate objects under the session's prefix. No byte is read back
// or copied; the cost grows with the number of parts (one call per 31),
// not with their size.
//
// Azure: every PATCH stages its bytes as blocks (at most blockSize each,
// the only bytes buffered in memory) of the session's object
// objects/<id>; finishing commits the block list in one call. The final
// key is the session's, so the blob record maps the digest to it
// (metadata.Blob.Key); identical content finished twice keeps the first
// record and the second object is deleted. Staged blocks that are never
// committed are invisible and expire with the service's own collection
// of uncommitted blocks (seven days on Azure).

const (
	// objectsPrefix holds objects whose key is an upload session's (the
	// blob record names it).
	objectsPrefix = "objects/"
	// blockSize is the largest Azure block a PATCH buffers.
	blockSize = 8 << 20
	// composeMax is GCS's limit of sources per compose call.
	composeMax = 32
)

// backend is a bucket's cloud-native commit, or nil for the generic path.
type backend interface {
	// sessionKeyed reports whether an upload's final key is its
	// session's (objects/<id>) rather than the content address.
	sessionKeyed() bool
	// appendParts stages r after the parts of session id (state st),
	// feeding hs, and returns the session's new parts.
	appendParts(ctx context.Context, s *Store, id string, st *state, token string, hs []hash.Hash, r io.Reader) (*staging, error)
	// commit makes key hold the concatenation of st's parts (size bytes).
	commit(ctx context.Context, s *Store, id string, st *state, size int64, key string) error
}

// staging is the outcome of appendParts.
type staging struct {
	parts []part // every part of the session, in order
	mpu   string // S3 multipart upload ID
	n     int64  // bytes appended
}

func appended(st *state, added []part) *staging {
	g := &staging{parts: slices.Clone(st.Parts), mpu: st.MPU}
	for _, p := range added {
		g.parts = append(g.parts, p)
		g.n += p.Size
	}
	return g
}

// openBackend returns the native backend of the bucket opened from u.
func openBackend(b *blob.Bucket, u *url.URL) backend {
	switch u.Scheme {
	case "gs":
		var c *storage.Client
		if b.As(&c) {
			// The client retries idempotent calls until the context ends
			// by default: bound it, so an unreachable bucket is a 503
			// within seconds instead of a hang.
			c.SetRetry(storage.WithMaxAttempts(4), storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}))
			return &gcsBackend{bucket: c.Bucket(u.Host)}
		}
	case "s3":
		var c *s3.Client
		if b.As(&c) {
			return &s3Backend{c: c, bucket: u.Host}
		}
	case "azblob":
		var c *container.Client
		if b.As(&c) {
			return &azureBackend{c: c}
		}
	}
	return nil
}

type gcsBackend struct{ bucket *storage.BucketHandle }

func (*gcsBackend) sessionKeyed() bool { return false }

func (*gcsBackend) appendParts(ctx context.Context, s *Store, id string, st *state, token string, hs []hash.Hash, r io.Reader) (*staging, error) {
	p, err := s.appendPart(ctx, id, st.Seq, token, hs, r)
	if err != nil {
		return nil, err
	}
	if p.Key == "" {
		return appended(st, nil), nil
	}
	return appended(st, []part{p}), nil
}

func (g *gcsBackend) commit(ctx context.Context, s *Store, id string, st *state, size int64, key string) error {
	parts := st.Parts
	if ok, err := s.bucket.Exists(ctx, key); err != nil {
		return err
	} else if ok {
		return nil
	}
	if len(parts) == 0 {
		return s.bucket.WriteAll(ctx, key, nil, octetStream)
	}
	srcs := make([]string, len(parts))
	for i, p := range parts {
		srcs[i] = p.Key
	}
	for level := 0; len(srcs) > composeMax; level++ {
		var next []string
		for i := 0; i < len(srcs); i += composeMax {
			group := srcs[i:min(i+composeMax, len(srcs))]
			dst := fmt.Sprintf("%s%s/c%02d-%06d", uploadsPrefix, id, level, i/composeMax)
			if err := g.compose(ctx, dst, group); err != nil {
				return err
			}
			next = append(next, dst)
		}
		srcs = next
	}
	if err := g.compose(ctx, key, srcs); err != nil {
		return err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return err
	}
	if a.Size != size {
		return fmt.Errorf("%w: composed %d bytes, offset %d", ErrUploadBroken, a.Size, size)
	}
	return nil
}

func (g *gcsBackend) compose(ctx context.Context, dst string, srcs []string) error {
	objs := make([]*storage.ObjectHandle, len(srcs))
	for i, k := range srcs {
		objs[i] = g.bucket.Object(k)
	}
	c := g.bucket.Object(dst).ComposerFrom(objs...)
	c.ContentType = "application/octet-stream"
	if _, err := c.Run(ctx); err != nil {
		if errors.Is(err, storage.ErrObjectNotExist) {
			return fmt.Errorf("%w: compose %s: %w", ErrUploadBroken, dst, err)
		}
		return fmt.Errorf("compose %s: %w", dst, err)
	}
	return nil
}

type azureBackend struct{ c *container.Client }

func (*azureBackend) sessionKeyed() bool { return true }

// blockID is the base64 ID of block sub of part seq by writer token;
// every ID of a blob has the same length, as Azure requires.
func blockID(seq, sub int, token string) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%08d.%05d-%s", seq, sub, token[:8]))
}

func (a *azureBackend) appendParts(ctx context.Context, s *Store, id string, st *state, token string, hs []hash.Hash, r io.Reader) (*staging, error) {
	ps, err := a.stage(ctx, s, objectsPrefix+id, st.Seq, token, hs, r)
	if err != nil {
		return nil, err
	}
	return appended(st, ps), nil
}

// stage writes r as blocks of blob key, at most blockSize bytes each,
// feeding hs; the parts it returns name the block IDs.
func (a *azureBackend) stage(ctx context.Context, s *Store, key string, seq int, token string, hs []hash.Hash, r io.Reader) ([]part, error) {
	bb := a.c.NewBlockBlobClient(key)
	bufp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bufp)
	var parts []part
	for sub := 0; ; sub++ {
		buf := *bufp
		n, err := s.copyHashed(ctx, &sliceWriter{b: buf[:0:len(buf)]}, io.LimitReader(r, int64(len(buf))), hs)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return parts, nil
		}
		bid := blockID(seq, sub, token)
		if _, err := bb.StageBlock(ctx, bid, nopCloser{bytes.NewReader(buf[:n])}, nil); err != nil {
			return nil, fmt.Errorf("stage block of %s: %w", key, err)
		}
		parts = append(parts, part{Key: bid, Size: n})
		if n < int64(len(buf)) {
			return parts, nil
		}
	}
}

func (a *azureBackend) commit(ctx context.Context, s *Store, id string, st *state, size int64, key string) error {
	return a.commitBlocks(ctx, st.Parts, size, key)
}

func (a *azureBackend) commitBlocks(ctx context.Context, parts []part, size int64, key string) error {
	ids := make([]string, len(parts))
	var total int64
	for i, p := range parts {
		ids[i] = p.Key
		total += p.Size
	}
	if total != size {
		return fmt.Errorf("%w: parts hold %d bytes, offset %d", ErrUploadBroken, total, size)
	}
	ct := "application/octet-stream"
	_, err := a.c.NewBlockBlobClient(key).CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		HTTPHeaders: &blobHTTPHeaders{BlobContentType: &ct},
	})
	if err != nil {
		return fmt.Errorf("commit block list of %s: %w", key, err)
	}
	return nil
}

// put writes a monolithic upload to key as staged blocks and commits them
// only once check passes (a gocloud Writer cannot be aborted safely on
// Azure, see storagetest's exception).
func (a *azureBackend) put(ctx context.Context, s *Store, r io.Reader, h hash.Hash, check func(int64) error, key string) (int64, error) {
	token := newID()
	parts, err := a.stage(ctx, s, key, 0, token, []hash.Hash{h}, r)
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	if err != nil {
		return n, err
	}
	if err := check(n); err != nil {
		return n, err
	}
	if ok, err := s.bucket.Exists(ctx, key); err != nil || ok {
		return n, err
	}
	return n, a.commitBlocks(ctx, parts, n, key)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// sliceWriter appends into b without growing it past its capacity.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		return 0, io.ErrShortBuffer
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

type blobHTTPHeaders = azblobblob.HTTPHeaders

// blockPool holds Azure block buffers.
var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

// discard drops the uncommitted blocks of session id's object, which
// Azure offers no call for: it commits an empty block list only if the
// object does not exist (If-None-Match: *, so a commit that won the race
// is never overwritten), then deletes exactly that empty version
// (If-Match its ETag).
func (a *azureBackend) discard(ctx context.Context, id string) error {
	bb := a.c.NewBlockBlobClient(objectsPrefix + id)
	anyTag := azcore.ETagAny
	resp, err := bb.CommitBlockList(ctx, nil, &blockblob.CommitBlockListOptions{
		AccessConditions: &azblobblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfNoneMatch: &anyTag}},
	})
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
		return nil // committed: a finished upload's object, recorded or not
	}
	if err != nil {
		return fmt.Errorf("discard blocks of %s: %w", id, err)
	}
	_, err = bb.Delete(ctx, &azblobblob.DeleteOptions{
		AccessConditions: &azblobblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: resp.ETag}},
	})
	if err != nil && !bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobNotFound) {
		return fmt.Errorf("discard blocks of %s: %w", id, err)
	}
	return nil
}

// hashCommitted commits the session's parts to its object (staged S3
// parts and Azure blocks cannot be read before), feeds it to h and
// returns its length. The final commit finds it done.
func (s *Store) hashCommitted(ctx context.Context, id string, st *state, size int64, h hash.Hash) (int64, error) {
	key := objectsPrefix + id
	if err := s.native.commit(ctx, s, id, st, size, key); err != nil {
		return 0, err
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return io.Copy(h, r)
}
