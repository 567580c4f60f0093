// Package registry is the seam between the OCI Distribution protocol and
// what stores the content: a small interface of blobs, uploads, manifests,
// tags and referrers, in the shape of cue-labs/oci's ociregistry.Interface.
//
// server/oci serves any Interface over HTTP; registry/local implements it
// over regkit's metadata store and bucket (where every rule of the OCI API
// lives: reference checks, tag moves, quotas, mounts, garbage-collection
// fences); client/oci implements it over HTTP against any registry, so that
// server/oci in front of client/oci is a working proxy.
//
// Protocol errors are *oci.Error values of spec/oci (their code, message,
// detail and HTTP status go to the client as they are); an implementation
// adds response headers to one by wrapping it in a *RetryError or an
// *UploadError. Any other error is the registry's own failure: a 500, or a
// 503 with Retry-After when it wraps ErrUnavailable.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Interface is everything the OCI Distribution API needs of a registry.
type Interface interface {
	Blobs
	Uploads
	Manifests
	Lists
}

// Descriptor describes a blob or manifest: media type, digest and size
// (and, for referrers, artifact type and annotations).
type Descriptor = v1.Descriptor

// Blob is a blob's descriptor as the registry that returned it knows it:
// Locator is opaque to callers, what that registry needs to read the
// bytes without looking the blob up again (an object key, say).
type Blob struct {
	Descriptor
	Locator string
}

// Blobs reads, stores, mounts and deletes blobs of repositories.
type Blobs interface {
	// StatBlob returns blob d of repo (digest, size and locator); an error
	// with code BLOB_UNKNOWN when repo has no such blob.
	StatBlob(ctx context.Context, repo string, d digest.Digest) (Blob, error)
	// ReadBlob returns length bytes of b (as StatBlob returned it) from
	// offset: one ranged read of the backend.
	ReadBlob(ctx context.Context, repo string, b Blob, offset, length int64) (io.ReadCloser, error)
	// PutBlob stores r (size bytes; -1 when unknown) as blob d of repo in
	// one request; the content must hash to d.
	PutBlob(ctx context.Context, repo string, d digest.Digest, r io.Reader, size int64) (Descriptor, error)
	// MountBlob links blob d of repository from into repo without its
	// bytes; from "" asks for the blob from anywhere the registry allows
	// (automatic mounting, when it is on). ok false, with a nil error,
	// means the blob cannot be mounted and the client should upload it.
	MountBlob(ctx context.Context, repo, from string, d digest.Digest) (desc Descriptor, ok bool, err error)
	// DeleteBlob unlinks blob d from repo.
	DeleteBlob(ctx context.Context, repo string, d digest.Digest) error
}

// Upload is the state of an upload session.
type Upload struct {
	// ID names the session in its repository (the last segment of its
	// URL path; letters, digits, "-", "_" and "." only).
	ID string
	// Offset is the number of bytes the registry has acknowledged.
	Offset int64
	// ChunkMinLength is the smallest chunk but the last the registry
	// accepts (0: any size), sent as OCI-Chunk-Min-Length.
	ChunkMinLength int64
}

// Uploads are resumable blob upload sessions.
type Uploads interface {
	// StartUpload opens a session in repo whose blob will be hashed with
	// alg ("" for the registry's default, sha256).
	StartUpload(ctx context.Context, repo string, alg digest.Algorithm) (Upload, error)
	// UploadStatus returns the session's state.
	UploadStatus(ctx context.Context, repo, id string) (Upload, error)
	// WriteUpload appends r to the session: size bytes, or to EOF when
	// size is -1. offset is where the chunk starts: the session's offset,
	// or -1 for "at the end". Nothing of a chunk that fails is kept.
	WriteUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64) (Upload, error)
	// FinishUpload appends r (nil: nothing; offset and size as for
	// WriteUpload) and commits the session as blob d of repo.
	FinishUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64, d digest.Digest) (Descriptor, error)
	// CancelUpload ends the session and discards its bytes.
	CancelUpload(ctx context.Context, repo, id string) error
}

// Manifest is a stored manifest: its descriptor and its bytes as pushed.
type Manifest struct {
	Descriptor
	Body []byte
}

// Pushed is what PutManifest stored.
type Pushed struct {
	// Digest is the manifest's digest.
	Digest digest.Digest
	// Subject is the digest of the manifest's subject ("" when it has
	// none), sent back as OCI-Subject.
	Subject digest.Digest
}

// Manifests reads, stores and deletes manifests, and lists referrers.
type Manifests interface {
	// GetManifest returns the manifest that ref (a tag or a digest) names
	// in repo; an error with code MANIFEST_UNKNOWN when there is none.
	GetManifest(ctx context.Context, repo, ref string) (Manifest, error)
	// PutManifest checks and stores body under ref (a tag or a digest)
	// and tags. mediaType is the request's Content-Type ("" when it sent
	// none).
	PutManifest(ctx context.Context, repo, ref string, tags []string, mediaType string, body []byte) (Pushed, error)
	// DeleteManifest deletes a tag (ref is a tag) or a manifest with its
	// tags (ref is a digest).
	DeleteManifest(ctx context.Context, repo, ref string) error
	// Referrers lists the manifests of repo whose subject is d, only those
	// of artifactType when it is not "".
	Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]Descriptor, error)
}

// Lists pages through tags and repositories in lexical order.
type Lists interface {
	// Tags returns at most n tags of repo after last ("" from the first),
	// and whether more follow; an error with code NAME_UNKNOWN when repo
	// is not known.
	Tags(ctx context.Context, repo, last string, n int) (tags []string, more bool, err error)
	// Repositories returns at most n repository names after last, and
	// whether more follow.
	Repositories(ctx context.Context, last string, n int) (repos []string, more bool, err error)
}

// Redirector is implemented by registries that can hand a client a URL
// to read a blob from directly (a bucket's signed URL).
type Redirector interface {
	// BlobURL returns a URL serving blob b (as StatBlob returned it) for
	// ttl, or ErrNoRedirect when this blob cannot be redirected.
	BlobURL(ctx context.Context, b Blob, ttl time.Duration) (string, error)
}

// ErrNoRedirect is what BlobURL returns when the blob must be streamed.
var ErrNoRedirect = errors.New("registry: no redirect URL for this blob")

// ErrUnavailable marks an error from a dependency that is unreachable
// (metadata store, bucket, upstream registry): the client should retry,
// and the server answers 503 with Retry-After.
var ErrUnavailable = errors.New("registry: unavailable")

// Unavailable wraps err so that errors.Is(err, ErrUnavailable) holds.
func Unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

// RetryError is a protocol error that tells the client when to retry
// (sent as Retry-After).
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string { return e.Err.Error() }

func (e *RetryError) Unwrap() error { return e.Err }

// UploadError is an error about an upload session that tells the client
// where the session stands: the server sends the session's Location and
// Range with it.
type UploadError struct {
	Upload Upload
	Err    error
}

func (e *UploadError) Error() string { return e.Err.Error() }

func (e *UploadError) Unwrap() error { return e.Err }
