package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

func upload(u metadata.Upload) registry.Upload {
	return registry.Upload{ID: u.ID, Offset: u.Offset}
}

// StartUpload opens a session in repo, counted against the cap of open
// uploads of its namespace.
func (g *Registry) StartUpload(ctx context.Context, repo string, alg digest.Algorithm) (registry.Upload, error) {
	var algs []digest.Algorithm
	if alg != "" {
		if alg != digest.SHA256 && alg != digest.SHA512 {
			return registry.Upload{}, oci.CodeDigestInvalid.Errorf("digest-algorithm %q is not supported: use sha256 or sha512", alg)
		}
		algs = append(algs, alg)
	}
	u, err := g.store.StartUpload(ctx, repo, algs...)
	if err != nil {
		return registry.Upload{}, fmt.Errorf("start upload: %w", err)
	}
	if err := g.openUpload(ctx, repo, u.ID); err != nil {
		if cerr := g.store.CancelUpload(context.WithoutCancel(ctx), repo, u.ID); cerr != nil {
			g.opts.Log.WarnContext(ctx, "cancel a refused upload", "upload", u.ID, "err", cerr)
		}
		return registry.Upload{}, err
	}
	up := upload(u)
	up.ChunkMinLength = g.store.ChunkMinLength()
	return up, nil
}

// UploadStatus returns the session's state.
func (g *Registry) UploadStatus(ctx context.Context, repo, id string) (registry.Upload, error) {
	u, err := g.store.UploadStatus(ctx, repo, id)
	if err != nil {
		return registry.Upload{}, sessionError(err, repo, id, digest.Digest(""))
	}
	return upload(u), nil
}

// WriteUpload appends r to the session within the namespace's quota.
func (g *Registry) WriteUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64) (registry.Upload, error) {
	r, err := g.quotaNext(ctx, repo, id, offset, r, size)
	if err != nil {
		return registry.Upload{}, err
	}
	u, err := g.store.AppendUpload(ctx, repo, id, offset, r)
	if err != nil {
		return registry.Upload{}, sessionError(err, repo, id, "")
	}
	return upload(u), nil
}

// quotaNext reserves the next size bytes of session id at offset (-1:
// where the session stands, which is then looked up).
func (g *Registry) quotaNext(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64) (io.Reader, error) {
	if g.opts.Quota == nil || g.exempt(ctx) {
		return r, nil
	}
	if offset < 0 {
		u, err := g.store.UploadStatus(ctx, repo, id)
		if err != nil {
			return nil, sessionError(err, repo, id, "")
		}
		offset = u.Offset
	}
	return g.quotaBody(ctx, repo, id, r, offset, size)
}

// FinishUpload appends r, when there is one, and commits the session as
// blob d of repo.
func (g *Registry) FinishUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64, d digest.Digest) (registry.Descriptor, error) {
	if d == "" {
		return registry.Descriptor{}, oci.CodeDigestInvalid.Errorf("the digest query parameter is required to finish an upload")
	}
	if r != nil {
		if offset >= 0 {
			u, err := g.store.UploadStatus(ctx, repo, id)
			if err != nil {
				return registry.Descriptor{}, sessionError(err, repo, id, d)
			}
			if offset != u.Offset {
				return registry.Descriptor{}, sessionError(&storage.RangeError{Offset: u.Offset}, repo, id, d)
			}
		}
		var err error
		if r, err = g.quotaNext(ctx, repo, id, offset, r, size); err != nil {
			return registry.Descriptor{}, err
		}
	}
	b, err := g.store.FinishUpload(ctx, repo, id, r, d)
	if errors.Is(err, storage.ErrDigestMismatch) || errors.Is(err, storage.ErrCollected) {
		g.release(ctx, repo, id) // the session is gone
	}
	if err != nil {
		return registry.Descriptor{}, sessionError(err, repo, id, d)
	}
	defer g.release(ctx, repo, id)
	return g.link(ctx, repo, b)
}

// CancelUpload ends the session and discards its bytes.
func (g *Registry) CancelUpload(ctx context.Context, repo, id string) error {
	if err := g.store.CancelUpload(ctx, repo, id); err != nil {
		return sessionError(err, repo, id, "")
	}
	g.release(ctx, repo, id)
	return nil
}

// sessionError maps storage errors of an existing session to OCI errors.
func sessionError(err error, repo, id string, d digest.Digest) error {
	var (
		re   *storage.RangeError
		busy *storage.BusyError
	)
	switch {
	case errors.As(err, &busy):
		return &registry.UploadError{Upload: registry.Upload{ID: id, Offset: busy.Offset},
			Err: &registry.RetryError{After: busy.RetryAfter,
				Err: oci.CodeBlobUploadInvalid.Errorf("another request is writing to upload %q (or one that was cut off holds it for a few more seconds); retry after %v", id, busy.RetryAfter).
					WithStatus(http.StatusConflict)}}
	case errors.As(err, &re):
		return &registry.UploadError{Upload: registry.Upload{ID: id, Offset: re.Offset},
			Err: oci.CodeBlobUploadInvalid.Errorf("the upload has %d bytes; a chunk must start at byte %d", re.Offset, re.Offset).
				WithStatus(http.StatusRequestedRangeNotSatisfiable)}
	case errors.Is(err, storage.ErrUploadUnknown):
		return oci.CodeBlobUploadUnknown.Errorf("upload %q does not exist in repository %q: it was finished, cancelled or expired", id, repo)
	case errors.Is(err, storage.ErrUploadBroken):
		return oci.CodeBlobUploadInvalid.Errorf("upload %q lost bytes it had acknowledged (the server crashed); start the upload again", id)
	}
	return uploadError(err, d)
}

// uploadError maps errors common to every upload path.
func uploadError(err error, d digest.Digest) error {
	if qerr := quotaError(err); qerr != err {
		return qerr
	}
	switch {
	case errors.Is(err, storage.ErrDigestMismatch), errors.Is(err, storage.ErrDigestInvalid):
		return oci.CodeDigestInvalid.Errorf("%v", err).WithDetail(map[string]string{"digest": d.String()})
	case errors.Is(err, storage.ErrSizeMismatch):
		return oci.CodeSizeInvalid.Errorf("%v", err)
	case errors.Is(err, storage.ErrCollected):
		return oci.CodeBlobUploadInvalid.Errorf("blob %s was being garbage-collected while it was uploaded; push it again", d).
			WithStatus(http.StatusServiceUnavailable)
	}
	return fmt.Errorf("upload: %w", err)
}
