// Package local is regkit's own registry: registry.Interface over a
// metadata store and a bucket (server/metadata and server/storage). Every
// rule of the OCI API that is about content lives here: reference checks
// on manifest PUT, tag moves, quotas and the cap on open uploads, mounts,
// and the fences that keep garbage collection from deleting what a push
// is using. server/oci serves it over HTTP.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// Options configures a Registry. The zero value is an open registry
// without quotas, automatic mounts or sparse manifests.
type Options struct {
	// Quota enforces namespace quotas and the cap on open uploads; nil
	// turns both off.
	Quota *quota.Checker
	// Exempt reports whether ctx's request acts for someone quotas and
	// file-size limits do not apply to (a site admin); nil: nobody.
	Exempt func(ctx context.Context) bool
	// AutoMount lets a mount without a source repository link the blob
	// from wherever it is stored.
	AutoMount bool
	// Sparse accepts manifests whose blobs or child manifests are not in
	// the repository.
	Sparse bool
	// Now is the clock of manifest creation times (default time.Now).
	Now func() time.Time
	// Log receives what a request cannot report (default slog.Default()).
	Log *slog.Logger
}

// Registry implements registry.Interface and registry.Redirector over a
// metadata store and a blob store.
type Registry struct {
	meta  metadata.Store
	store *storage.Store
	opts  Options
}

var (
	_ registry.Interface  = (*Registry)(nil)
	_ registry.Redirector = (*Registry)(nil)
)

// New returns the registry over meta and store.
func New(meta metadata.Store, store *storage.Store, opts Options) *Registry {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Registry{meta: meta, store: store, opts: opts}
}

// notFoundAs maps metadata.ErrNotFound to e and wraps anything else.
func notFoundAs(err error, e *oci.Error) error {
	if errors.Is(err, metadata.ErrNotFound) {
		return e
	}
	return fmt.Errorf("metadata: %w", err)
}

func blobUnknown(d digest.Digest) *oci.Error {
	return oci.ErrBlobUnknown.WithDetail(map[string]string{"digest": d.String()})
}

// collecting is the answer to a push whose blob garbage collection took
// while it was stored: the client should push it again, after a second.
func collecting(d digest.Digest) error {
	return &registry.RetryError{After: time.Second,
		Err: oci.CodeBlobUploadInvalid.Errorf("blob %s was being garbage-collected while it was uploaded; push it again", d).
			WithStatus(http.StatusServiceUnavailable)}
}
