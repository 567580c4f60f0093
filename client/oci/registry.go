package oci

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// Registry is registry.Interface over a Client: every call is one or two
// requests to the client's registry, so that server/oci in front of it
// is a proxy (regkit serve --upstream). It keeps no state: an upload's ID
// is its upstream Location, encoded, so any replica of the proxy can go
// on with any session, and the IDs it accepts back are checked to point
// at the upstream registry's upload URLs of the same repository.
//
// Errors of the upstream registry are passed on as they are (their code,
// message and status), except that a 5xx or 429 of the upstream, or a
// failure to reach it, is registry.ErrUnavailable (the proxy answers 503
// with Retry-After), and a 401 (the proxy's own credentials refused)
// is DENIED.
type Registry struct {
	c *Client
}

var _ registry.Interface = (*Registry)(nil)

// NewRegistry returns the registry.Interface of c.
func NewRegistry(c *Client) *Registry { return &Registry{c: c} }

// upstream classifies an error of the client (see Registry).
func upstream(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var oe *ocispec.Error
	if !errors.As(err, &oe) {
		return registry.Unavailable(fmt.Errorf("upstream registry: %w", err))
	}
	switch s := oe.HTTPStatus(); {
	case s >= 500 || s == http.StatusTooManyRequests:
		return registry.Unavailable(fmt.Errorf("upstream registry: %w", err))
	case s == http.StatusUnauthorized:
		return ocispec.CodeDenied.Errorf("the upstream registry refused the proxy's credentials: %s", oe.Message)
	}
	return err
}

// StatBlob asks the upstream registry for the blob's size (HEAD).
func (g *Registry) StatBlob(ctx context.Context, repo string, d digest.Digest) (registry.Blob, error) {
	size, err := g.c.BlobHead(ctx, repo, d)
	if err != nil {
		return registry.Blob{}, upstream(err)
	}
	return registry.Blob{Descriptor: registry.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: size}}, nil
}

// ReadBlob reads the blob, or a range of it, from the upstream registry;
// the whole blob is checked against its digest as it streams.
func (g *Registry) ReadBlob(ctx context.Context, repo string, b registry.Blob, offset, length int64) (io.ReadCloser, error) {
	var (
		rc  io.ReadCloser
		err error
	)
	if offset == 0 && length == b.Size {
		rc, _, err = g.c.BlobGet(ctx, repo, b.Digest)
	} else {
		rc, _, err = g.c.BlobGetRange(ctx, repo, b.Digest, offset, length)
	}
	return rc, upstream(err)
}

// PutBlob pushes r in one POST when its size is known, else through an
// upload session.
func (g *Registry) PutBlob(ctx context.Context, repo string, d digest.Digest, r io.Reader, size int64) (registry.Descriptor, error) {
	if size >= 0 {
		if err := g.c.BlobPut(ctx, repo, d, r, size); err != nil {
			return registry.Descriptor{}, upstream(err)
		}
		return registry.Descriptor{Digest: d, Size: size}, nil
	}
	u, err := g.StartUpload(ctx, repo, d.Algorithm())
	if err != nil {
		return registry.Descriptor{}, err
	}
	return g.FinishUpload(ctx, repo, u.ID, -1, r, -1, d)
}

// MountBlob asks the upstream registry to mount; the session it opens
// when it cannot is cancelled (the proxy's client starts its own).
func (g *Registry) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (registry.Descriptor, bool, error) {
	ok, u, err := g.c.BlobMount(ctx, repo, d, from)
	if err != nil {
		return registry.Descriptor{}, false, upstream(err)
	}
	if !ok {
		if u != nil {
			_ = g.c.UploadCancel(context.WithoutCancel(ctx), u)
		}
		return registry.Descriptor{}, false, nil
	}
	return registry.Descriptor{Digest: d}, true, nil
}

// DeleteBlob deletes the blob upstream.
func (g *Registry) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	return upstream(g.c.BlobDelete(ctx, repo, d))
}

// uploadID is the ID the proxy gives the session u: its Location.
func uploadID(u *Upload) string {
	return base64.RawURLEncoding.EncodeToString([]byte(u.Location))
}

func (g *Registry) state(u *Upload) registry.Upload {
	return registry.Upload{ID: uploadID(u), Offset: u.Offset, ChunkMinLength: u.MinChunk}
}

// session decodes an upload ID of repo, refusing any that does not name
// an upload URL of repo on the upstream registry (so that no client can
// send the proxy, with its credentials, anywhere else).
func (g *Registry) session(repo, id string) (*Upload, error) {
	unknown := ocispec.CodeBlobUploadUnknown.Errorf("upload %q is not an upload of repository %q", id, repo)
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return nil, unknown
	}
	lu, err := url.Parse(string(raw))
	if err != nil {
		return nil, unknown
	}
	base, err := url.Parse(g.c.Base())
	if err != nil || lu.Scheme != base.Scheme || lu.Host != base.Host || lu.User != nil {
		return nil, unknown
	}
	r, err := ocispec.Parse(http.MethodPatch, lu)
	if err != nil || r.Route != ocispec.RouteUploadChunk || r.Name != repo {
		return nil, unknown
	}
	return &Upload{Repo: repo, ID: r.UploadID, Location: lu.String()}, nil
}

// StartUpload opens a session upstream.
func (g *Registry) StartUpload(ctx context.Context, repo string, alg digest.Algorithm) (registry.Upload, error) {
	var opts *UploadOptions
	if alg != "" && alg != digest.SHA256 {
		opts = &UploadOptions{Algorithm: alg}
	}
	u, err := g.c.UploadStart(ctx, repo, opts)
	if err != nil {
		return registry.Upload{}, upstream(err)
	}
	return g.state(u), nil
}

// UploadStatus asks the upstream registry where the session stands.
func (g *Registry) UploadStatus(ctx context.Context, repo, id string) (registry.Upload, error) {
	u, err := g.session(repo, id)
	if err != nil {
		return registry.Upload{}, err
	}
	if _, err := g.c.UploadStatus(ctx, u); err != nil {
		return registry.Upload{}, upstream(err)
	}
	return g.state(u), nil
}

// WriteUpload sends the chunk upstream: with Content-Range when its
// offset and size are known, else streamed.
func (g *Registry) WriteUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64) (registry.Upload, error) {
	u, err := g.session(repo, id)
	if err != nil {
		return registry.Upload{}, err
	}
	if err := g.patch(ctx, u, offset, r, size); err != nil {
		return registry.Upload{}, err
	}
	return g.state(u), nil
}

// patch appends r to u (PATCH): size bytes at offset, or a stream.
func (g *Registry) patch(ctx context.Context, u *Upload, offset int64, r io.Reader, size int64) error {
	if offset >= 0 && size > 0 {
		u.Offset = offset
		err := g.c.UploadChunk(ctx, u, r, size)
		var oe *ocispec.Error
		if errors.As(err, &oe) && oe.HTTPStatus() == http.StatusRequestedRangeNotSatisfiable {
			return &registry.UploadError{Upload: g.state(u), Err: err}
		}
		return upstream(err)
	}
	cl, err := g.c.uploadCall(u, ocispec.RouteUploadChunk, http.MethodPatch, "")
	if err != nil {
		return err
	}
	cl.header = http.Header{"Content-Type": {"application/octet-stream"}}
	cl.body, cl.size, cl.noReplay = r, size, true
	cl.notFound = ocispec.ErrBlobUploadUnknown
	resp, err := g.c.do(ctx, cl, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return upstream(err)
	}
	_ = discard(resp)
	if err := u.update(resp); err != nil {
		return err
	}
	end, ok := rangeEnd(resp.Header.Get(ocispec.Range), 0)
	if !ok {
		return registry.Unavailable(fmt.Errorf("upstream registry sent no valid Range (%q) after a chunk", resp.Header.Get(ocispec.Range)))
	}
	u.Offset = end
	return nil
}

// FinishUpload sends the last chunk, when there is one, and commits the
// session upstream.
func (g *Registry) FinishUpload(ctx context.Context, repo, id string, offset int64, r io.Reader, size int64, d digest.Digest) (registry.Descriptor, error) {
	u, err := g.session(repo, id)
	if err != nil {
		return registry.Descriptor{}, err
	}
	if r != nil && !(offset >= 0 && size > 0) {
		// A final body of unknown length or place: stream it first.
		if err := g.patch(ctx, u, offset, r, size); err != nil {
			return registry.Descriptor{}, err
		}
		r, size = nil, 0
	}
	if r != nil {
		u.Offset = offset
	} else {
		size = 0
	}
	if err := g.c.uploadFinish(ctx, u, d, r, size); err != nil {
		return registry.Descriptor{}, upstream(err)
	}
	return registry.Descriptor{Digest: d, Size: u.Offset}, nil
}

// CancelUpload cancels the session upstream.
func (g *Registry) CancelUpload(ctx context.Context, repo, id string) error {
	u, err := g.session(repo, id)
	if err != nil {
		return err
	}
	return upstream(g.c.UploadCancel(ctx, u))
}

// GetManifest fetches the manifest upstream (checked against its digest).
func (g *Registry) GetManifest(ctx context.Context, repo, ref string) (registry.Manifest, error) {
	body, mt, d, err := g.c.ManifestGet(ctx, repo, ref)
	if err != nil {
		return registry.Manifest{}, upstream(err)
	}
	return registry.Manifest{Descriptor: registry.Descriptor{MediaType: mt, Digest: d, Size: int64(len(body))}, Body: body}, nil
}

// PutManifest pushes the manifest upstream, which checks it.
func (g *Registry) PutManifest(ctx context.Context, repo, ref string, tags []string, mediaType string, body []byte) (registry.Pushed, error) {
	d, h, err := g.c.manifestPut(ctx, repo, ref, mediaType, body, tags...)
	if err != nil {
		return registry.Pushed{}, upstream(err)
	}
	p := registry.Pushed{Digest: d}
	if s := h.Get(ocispec.OCISubject); s != "" {
		if sd, err := digest.Parse(s); err == nil {
			p.Subject = sd
		}
	}
	return p, nil
}

// DeleteManifest deletes the tag or manifest upstream.
func (g *Registry) DeleteManifest(ctx context.Context, repo, ref string) error {
	return upstream(g.c.ManifestDelete(ctx, repo, ref))
}

// Referrers lists the referrers upstream (filtered by the client when
// the upstream registry does not filter).
func (g *Registry) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]registry.Descriptor, error) {
	descs, err := g.c.Referrers(ctx, repo, d, artifactType)
	return descs, upstream(err)
}

// Tags returns a page of n tags after last; one more is asked for to
// know whether more follow.
func (g *Registry) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	tags, err := g.c.TagList(ctx, repo, &ListOptions{N: n + 1, Last: last, Max: n + 1})
	if err != nil {
		return nil, false, upstream(err)
	}
	return page(tags, n)
}

// Repositories returns a page of n repositories after last.
func (g *Registry) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	repos, err := g.c.Catalog(ctx, &ListOptions{N: n + 1, Last: last, Max: n + 1})
	if err != nil {
		return nil, false, upstream(err)
	}
	return page(repos, n)
}

func page(items []string, n int) ([]string, bool, error) {
	if len(items) > n {
		return items[:n], true, nil
	}
	return items, false, nil
}
