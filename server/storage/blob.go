package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/regkit/regkit/server/metadata"
)

func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// PutBlob stores a whole blob from r (a monolithic upload), hashing while
// streaming, and returns the stored record (meta.PutBlob done; not linked
// to any repository). size < 0 means unknown; otherwise a body of another
// length is ErrSizeMismatch (at most size+1 bytes are read). A digest
// mismatch is ErrDigestMismatch. Either way nothing is stored.
//
// On file storage the body goes to a staging file that is fsynced and
// renamed into place; elsewhere it is written straight to Key(want) and
// the write is aborted unless it verifies (see the generic path).
func (s *Store) PutBlob(ctx context.Context, want digest.Digest, r io.Reader, size int64) (_ metadata.Blob, err error) {
	defer s.observe("put_blob", time.Now(), &err)
	if err := want.Validate(); err != nil {
		return metadata.Blob{}, fmt.Errorf("%w: %q: %w", ErrDigestInvalid, want, err)
	}
	h, err := newHash(want.Algorithm())
	if err != nil {
		return metadata.Blob{}, err
	}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	check := func(n int64) error {
		if size >= 0 && n != size {
			if n > size {
				return fmt.Errorf("%w: body longer than %d bytes", ErrSizeMismatch, size)
			}
			return fmt.Errorf("%w: got %d bytes, want %d", ErrSizeMismatch, n, size)
		}
		if got := digest.NewDigest(want.Algorithm(), h); got != want {
			return fmt.Errorf("%w: expected %s, got %s", ErrDigestMismatch, want, got)
		}
		return nil
	}
	key := Key(want)
	claim, _, err := s.claim(ctx, want, key)
	if err != nil {
		return metadata.Blob{}, err
	}
	var n int64
	if s.dir != "" {
		n, err = s.putFile(ctx, r, h, check, key)
	} else if az, ok := s.native.(*azureBackend); ok {
		n, err = az.put(ctx, s, r, h, check, key)
	} else {
		n, err = s.putGeneric(ctx, r, h, check, key)
	}
	if err != nil {
		if errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrDigestMismatch) {
			return metadata.Blob{}, err
		}
		return metadata.Blob{}, fmt.Errorf("storage: put blob %s: %w", want, err)
	}
	return s.commitRecord(ctx, claim, n, key)
}

// claim claims the record of d before an upload writes bytes under
// Key(d) (metadata.Blobs.ClaimBlob), so that garbage collection cannot
// delete them unnoticed: the commit of the claim fails if it did. While a
// collection is deleting d (metadata.ErrConflict) it waits for the
// deletion to finish — then the upload stores its own bytes. Waiting only
// serves liveness; the claim is what keeps the bytes safe.
//
// key is where the caller will write the bytes; live reports that d's
// bytes are stored already (at the returned record's Key).
func (s *Store) claim(ctx context.Context, d digest.Digest, key string) (metadata.Blob, bool, error) {
	const wait, tries = 50 * time.Millisecond, 200
	for range tries {
		rec, live, err := s.meta.ClaimBlob(ctx, metadata.Blob{Digest: d, Key: key})
		switch {
		case err == nil:
			return rec, live, nil
		case !errors.Is(err, metadata.ErrConflict):
			return metadata.Blob{}, false, fmt.Errorf("storage: claim blob %s: %w", d, err)
		}
		select {
		case <-ctx.Done():
			return metadata.Blob{}, false, context.Cause(ctx)
		case <-time.After(wait):
		}
	}
	return metadata.Blob{}, false, fmt.Errorf("%w: blob %s is still being garbage-collected after %v", ErrCollected, d, wait*tries)
}

// commitRecord commits the record of a claimed blob whose bytes are at
// key: ErrCollected when garbage collection took the claim meanwhile
// (the bytes may be gone: nothing is acknowledged).
func (s *Store) commitRecord(ctx context.Context, claim metadata.Blob, size int64, key string) (metadata.Blob, error) {
	rec, err := s.meta.PutBlob(ctx, metadata.Blob{Digest: claim.Digest, Size: size, Key: key, Created: time.Now().UTC(), Inc: claim.Inc})
	if errors.Is(err, metadata.ErrConflict) {
		return metadata.Blob{}, fmt.Errorf("%w: blob %s: %w", ErrCollected, claim.Digest, err)
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("storage: record blob %s: %w", claim.Digest, err)
	}
	return rec, nil
}

// ReadBlob returns a reader of length bytes of b starting at offset
// (length < 0: to the end). offset and length are checked against b.Size
// (ErrInvalidRange); missing bytes are ErrNotFound.
//
// It makes exactly one backend read: one bucket.NewRangeReader call — or,
// on file storage, one open of the file, positioned at offset and limited
// to length. That reader implements io.WriterTo: io.Copy(w, rc) passes an
// *io.LimitedReader over the *os.File to w's ReadFrom, and the
// http.ResponseWriter of net/http then sends the bytes with sendfile(2)
// when Content-Length is set (so the response is not chunked) and the
// writer is not hidden behind a wrapper without ReadFrom.
func (s *Store) ReadBlob(ctx context.Context, b metadata.Blob, offset, length int64) (_ io.ReadCloser, err error) {
	defer s.observe("read_blob", time.Now(), &err)
	if offset < 0 || offset > b.Size {
		return nil, fmt.Errorf("%w: offset %d of %d bytes", ErrInvalidRange, offset, b.Size)
	}
	if length < 0 {
		length = b.Size - offset
	}
	if length > b.Size-offset {
		return nil, fmt.Errorf("%w: %d bytes at %d of %d", ErrInvalidRange, length, offset, b.Size)
	}
	if length == 0 {
		// Nothing to read (S3 answers 416 to an empty range).
		return io.NopCloser(strings.NewReader("")), nil
	}
	if s.dir != "" {
		p, err := s.path(b.Key)
		if err != nil {
			return nil, err
		}
		f, err := openBlob(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, b.Key, err)
		}
		if err != nil {
			return nil, fmt.Errorf("storage: read %s: %w", b.Key, err)
		}
		if offset > 0 {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("storage: read %s: %w", b.Key, err)
			}
		}
		return &fileReader{lr: io.LimitedReader{R: f, N: length}, f: f}, nil
	}
	r, err := s.bucket.NewRangeReader(ctx, b.Key, offset, length, nil)
	if isNotFound(err) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, b.Key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", b.Key, err)
	}
	return r, nil
}

// DeleteBlobBytes removes the object of b; ErrNotFound when it is absent.
// Callers delete the metadata record first (garbage collection, with a
// grace period); this only frees the bytes.
func (s *Store) DeleteBlobBytes(ctx context.Context, b metadata.Blob) (err error) {
	defer s.observe("delete_blob", time.Now(), &err)
	err = s.bucket.Delete(ctx, b.Key)
	if isNotFound(err) {
		return fmt.Errorf("%w: %s: %w", ErrNotFound, b.Key, err)
	}
	if err != nil {
		return fmt.Errorf("storage: delete %s: %w", b.Key, err)
	}
	return nil
}

// SignedURL returns a URL that reads b's bytes with a plain GET for ttl,
// signed by the bucket's credentials (S3 presigned URL, Azure SAS, GCS
// signed URL with a service-account key). ErrNoSignedURL when the bucket
// cannot sign (file://, mem://, GCS without a signing key); then the
// caller streams the bytes itself.
func (s *Store) SignedURL(ctx context.Context, b metadata.Blob, ttl time.Duration) (string, error) {
	if s.dir != "" {
		return "", ErrNoSignedURL
	}
	u, err := s.bucket.SignedURL(ctx, b.Key, &blob.SignedURLOptions{Expiry: ttl, Method: http.MethodGet})
	if err != nil {
		if IsUnavailable(err) {
			return "", fmt.Errorf("storage: sign %s: %w", b.Key, err)
		}
		return "", fmt.Errorf("%w: %w", ErrNoSignedURL, err)
	}
	return u, nil
}

// ErrNoSignedURL means the bucket cannot make signed URLs.
var ErrNoSignedURL = errors.New("storage: bucket cannot sign URLs")
