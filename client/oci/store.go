package oci

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is a place images live in: a repository of a registry
// (*Repository), an OCI image layout directory (*Layout) or an OCI archive
// (*Archive). Copy reads from one Store and writes to another. The methods
// are safe for concurrent use.
type Store interface {
	// Resolve returns the descriptor of the manifest ref names: a tag, a
	// digest, or "" for the store's default (a registry's "latest"; a
	// layout's only manifest, else "latest"). An unknown ref is an error
	// that errors.Is ErrManifestUnknown.
	Resolve(ctx context.Context, ref string) (v1.Descriptor, error)
	// Manifest returns the bytes of manifest desc, verified against its
	// digest.
	Manifest(ctx context.Context, desc v1.Descriptor) ([]byte, error)
	// OpenBlob returns length bytes of blob desc from offset (to the end
	// when length <= 0). The bytes are not verified: the reader of a whole
	// blob (offset 0, length <= 0) checks the digest at its end.
	OpenBlob(ctx context.Context, desc v1.Descriptor, offset, length int64) (io.ReadCloser, error)
	// HasBlob reports whether the store holds blob desc.
	HasBlob(ctx context.Context, desc v1.Descriptor) (bool, error)
	// PushBlob stores blob desc, reading it from src. It may read src
	// more than once, from any offset (to resume after a failure, or in
	// parallel ranges), and reports the bytes it has transferred so far
	// to progress (which may be nil; the count may go down after a
	// failure).
	PushBlob(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(done int64)) error
	// PushManifest stores manifest desc with content body. A top-level
	// manifest (the one copied, or a referrer) is recorded as such (in a
	// layout's index.json) and tagged with tag when tag is not "";
	// children of an index are stored by digest only.
	PushManifest(ctx context.Context, desc v1.Descriptor, body []byte, tag string, top bool) error
	// Referrers lists the manifests whose subject is desc.
	Referrers(ctx context.Context, desc v1.Descriptor) ([]v1.Descriptor, error)
	// Close releases the store; for an archive being written, it writes
	// the archive. Close must be called once, after the last use.
	Close() error
}

// BlobSource reads a blob: length bytes from offset (to the end when
// length <= 0).
type BlobSource func(ctx context.Context, offset, length int64) (io.ReadCloser, error)

// ErrNotFound is what a Store's errors match (errors.Is) when a manifest
// or blob is missing, whatever the store; registry errors also match the
// OCI codes (ErrManifestUnknown, ErrBlobUnknown of spec/oci).
var ErrNotFound = errors.New("not found")

// notFoundError wraps err so that it also matches ErrNotFound.
type notFoundError struct{ err error }

func (e notFoundError) Error() string { return e.err.Error() }
func (e notFoundError) Unwrap() []error {
	return []error{e.err, ErrNotFound}
}

// isManifest reports whether mediaType is a manifest or index type.
func isManifest(mediaType string) bool {
	switch mediaType {
	case v1.MediaTypeImageManifest, v1.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	return false
}

// verifyBytes checks b against desc's digest and size.
func verifyBytes(desc v1.Descriptor, b []byte) error {
	if desc.Size > 0 && int64(len(b)) != desc.Size {
		return errors.New("content of " + desc.Digest.String() + " has the wrong size")
	}
	if desc.Digest.Algorithm().Available() && desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return errors.New("content does not match digest " + desc.Digest.String())
	}
	return nil
}

// SourceOf returns the BlobSource that reads blob desc from s.
func SourceOf(s Store, desc v1.Descriptor) BlobSource {
	return func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
		return s.OpenBlob(ctx, desc, offset, length)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
