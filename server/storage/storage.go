// Package storage keeps blob bytes in a gocloud.dev/blob bucket under a
// content-addressed layout and runs upload sessions whose state lives in
// the metadata store, so that any replica can continue any upload.
//
// # Layout
//
// Committed blobs live at Key(d) = blobs/<alg>/<2 hex>/<2 hex>/<hex>;
// identical content is stored once. Upload sessions stage their bytes under
// _uploads/: one file _uploads/<id> on file storage, part objects
// _uploads/<id>/<seq>-<writer> on every other bucket.
//
// # Backends
//
// file:// buckets take a fast path that uses the file system directly:
// PATCHes write into one staging file at the session offset and finishing
// an upload is a rename, so its cost does not depend on the blob's size.
// The bucket is still a fileblob bucket (see Store.Bucket), and files
// written by the fast path are readable through it (fileblob treats a
// missing .attrs sidecar as default attributes).
//
// Every other bucket (mem://, s3://, gs://, azblob://, ...) takes the
// generic path: each PATCH writes one part object, and finishing copies a
// single part server-side (Bucket.Copy) or stream-concatenates several.
// Cloud-native commit (S3 multipart, GCS compose, Azure block lists via
// blob.Bucket.As) comes in a later change; until then the generic
// multi-part commit costs O(size) on those backends.
//
// # Durability
//
// The write order is bytes, fsync (file storage), then the metadata
// record, so that nothing acknowledged is lost. See AppendUpload and FinishUpload for the
// exact guarantees.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // registers mem:// on blob.DefaultURLMux

	"github.com/regkit/regkit/server/metadata"
)

// Sentinel errors. The Store wraps them with %w; match them with errors.Is.
var (
	// ErrUploadUnknown means the upload session does not exist (never
	// created, finished, cancelled or swept).
	ErrUploadUnknown = errors.New("storage: upload unknown")
	// ErrDigestMismatch means the bytes do not hash to the digest the
	// client named. Nothing was stored.
	ErrDigestMismatch = errors.New("storage: digest mismatch")
	// ErrDigestInvalid means the digest named by the client is malformed
	// or uses an unsupported algorithm.
	ErrDigestInvalid = errors.New("storage: digest invalid")
	// ErrSizeMismatch means a monolithic upload's body length differs from
	// the declared size. Nothing was stored.
	ErrSizeMismatch = errors.New("storage: size mismatch")
	// ErrInvalidRange means a ReadBlob offset/length pair lies outside the
	// blob.
	ErrInvalidRange = errors.New("storage: invalid range")
	// ErrNotFound means a blob's bytes are missing from the bucket
	// although its record exists.
	ErrNotFound = errors.New("storage: blob bytes not found")
	// ErrUploadBroken means an upload's staged bytes are shorter than the
	// offset recorded in its session (they were lost, for example in a
	// crash before they reached the disk). The session cannot be
	// completed; the client must start over.
	ErrUploadBroken = errors.New("storage: upload staged bytes lost")
	// ErrCollected means garbage collection deleted the blob's record
	// while its bytes were being stored (the blob had been garbage and
	// was uploaded again at that moment). Nothing was acknowledged; the
	// client should upload it again.
	ErrCollected = errors.New("storage: blob collected while it was uploaded")
)

// RangeError reports that an append did not start at the session's
// current offset. The server answers 416 with "Range: 0-(Offset-1)".
// Match it with errors.As.
type RangeError struct {
	// Offset is the session's current offset: the number of bytes
	// received so far.
	Offset int64
}

// Error implements error.
func (e *RangeError) Error() string {
	return fmt.Sprintf("storage: upload range mismatch: current offset %d", e.Offset)
}

// BusyError reports that another writer holds the session's lease: a
// request is writing to it right now, or one that was cut off (its
// process died or stalled) still holds it until the lease expires, within
// the lease's ttl. Match it with errors.As.
type BusyError struct {
	// Offset is the session's current offset.
	Offset int64
	// RetryAfter is when trying again makes sense: how often a live
	// writer renews its lease, which is also the most a dead writer's
	// lease outlives it by a third of.
	RetryAfter time.Duration
}

// Error implements error.
func (e *BusyError) Error() string {
	return fmt.Sprintf("storage: upload busy: another writer holds it (offset %d); retry in %v", e.Offset, e.RetryAfter)
}

const (
	uploadsPrefix = "_uploads/"
	// DefaultLeaseTTL is the ttl of an upload's write lease unless
	// WithLeaseTTL says otherwise: how long a writer that died blocks
	// its session at most.
	DefaultLeaseTTL = 15 * time.Second
)

// Store keeps blob bytes in a gocloud.dev/blob bucket, content-addressed,
// and runs upload sessions whose state lives in the metadata store (so any
// replica can continue any upload). It is safe for concurrent use; several
// Store values (in one or many processes) may share one bucket and one
// metadata store.
type Store struct {
	bucket *blob.Bucket
	meta   metadata.Store
	dir    string  // file storage root ("" on the generic path)
	native backend // cloud-native commit (nil: file storage or generic path)
	opts   options
}

type options struct {
	log         *slog.Logger
	leaseTTL    time.Duration
	syncAppends bool
	budget      *budget     // see buffers.go
	observe     ObserveFunc // see observe.go
}

// Option configures Open.
type Option func(*options)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithLeaseTTL sets the ttl of an upload's write lease (default
// DefaultLeaseTTL). A writer refreshes its lease every ttl/3 while a PATCH
// streams, so the ttl bounds how long a crashed writer blocks its session
// (the next writer takes it over then), not how long a PATCH may take. A
// writer that cannot refresh in time (a stall longer than the ttl) loses
// the lease and its write fails; see fence.go for why its bytes can never
// reach the blob.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// WithSyncAppends makes every append on file storage fdatasync its bytes
// before the session is updated. By default appends do not sync (they only
// start write-back); FinishUpload syncs and checks the staged size against
// the recorded offset, which is enough for committed blobs to be durable.
// Turn it on when a PATCH acknowledged before a machine crash must survive
// for the upload to be resumable.
func WithSyncAppends(on bool) Option {
	return func(o *options) { o.syncAppends = on }
}

// Open opens the bucket at url: "file:///abs/dir" (created if missing) or
// "mem://"; other gocloud schemes (s3://, gs://, azblob://) go through the
// generic path and need the caller to import their driver packages.
// azblob:// URLs also take regkit's retry parameters (retry_max,
// retry_delay, retry_max_delay, try_timeout; see azure.go), and without
// them retry with bounded backoff, so that an unreachable account fails
// within seconds.
// meta holds the upload sessions and blob records; the Store does not
// close it.
func Open(ctx context.Context, rawURL string, meta metadata.Store, opts ...Option) (*Store, error) {
	if meta == nil {
		return nil, errors.New("storage: nil metadata store")
	}
	o := newOptions(opts)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: parse bucket url: %w", err)
	}
	s := &Store{meta: meta, opts: o}
	if u.Scheme == fileblob.Scheme {
		dir := u.Path
		if u.Host == "." {
			dir = strings.TrimPrefix(dir, "/")
		}
		if dir, err = filepath.Abs(filepath.FromSlash(dir)); err != nil {
			return nil, fmt.Errorf("storage: bucket dir: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(uploadsPrefix)), 0o755); err != nil {
			return nil, fmt.Errorf("storage: create bucket dir: %w", err)
		}
		opener := &fileblob.URLOpener{Options: fileblob.Options{CreateDir: true, NoTempDir: true}}
		if s.bucket, err = opener.OpenBucketURL(ctx, u); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
		}
		s.dir = dir
	} else {
		if u.Scheme == azureblob.Scheme {
			s.bucket, err = openAzure(ctx, u) // bounded retries, see azure.go
		} else {
			s.bucket, err = blob.OpenBucket(ctx, rawURL)
		}
		if err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
		}
		s.native = openBackend(s.bucket, u)
	}
	o.log.Debug("storage opened", "url", rawURL, "fastpath", s.dir != "")
	return s, nil
}

// New returns a Store over an open bucket, for callers that configure the
// bucket themselves (or share one between Store values). It always takes
// the generic path, even for a fileblob bucket; use Open for file storage.
// Close closes the bucket.
func New(bucket *blob.Bucket, meta metadata.Store, opts ...Option) *Store {
	return &Store{bucket: bucket, meta: meta, opts: newOptions(opts)}
}

func newOptions(opts []Option) options {
	o := options{log: slog.Default(), leaseTTL: DefaultLeaseTTL}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Close closes the bucket. It does not close the metadata store.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("storage: close bucket: %w", err)
	}
	return nil
}

// Bucket exposes the underlying bucket, for read-only use by callers. On
// file storage it is a fileblob bucket over the same directory.
func (s *Store) Bucket() *blob.Bucket { return s.bucket }

// Owned reports whether key, the recorded key of a blob, belongs to that
// blob record alone, so that deleting the record lets its bytes go: the
// content address of its digest, or the object of the upload session that
// committed it (objects/<id>; identical content finished twice keeps the
// first record and deletes the second object, so no two records share
// one).
func Owned(key string, d digest.Digest) bool {
	return key == Key(d) || (strings.HasPrefix(key, objectsPrefix) && validID(key[len(objectsPrefix):]))
}

// Key returns the content-addressed key of d:
// blobs/<alg>/<2 hex>/<2 hex>/<hex> (metadata.DefaultBlobKey: blob
// records leave it out). d must be valid (d.Validate()).
func Key(d digest.Digest) string { return metadata.DefaultBlobKey(d) }

// newID returns 128 random bits as 26 lowercase base32 characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// validID reports whether id could have been made by newID; anything else
// is rejected before it reaches a path or key.
func validID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// path returns the file path of key on file storage.
func (s *Store) path(key string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return "", fmt.Errorf("storage: key %q escapes the bucket", key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// bg returns a context for cleanup work that must run even when ctx was
// cancelled (the client went away), bounded in time.
func bg(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}
