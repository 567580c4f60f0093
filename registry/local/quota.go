package local

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/spec/oci"
)

// Quotas and the cap on open uploads (package quota): every upload
// reserves its bytes before they are written, in the metadata store, and
// releases the reservation once they count in the usage. As in Gitea,
// quotas and file-size limits do not apply to uploads by site admins
// (Options.Exempt); the cap on open uploads does.

func (g *Registry) exempt(ctx context.Context) bool {
	return g.opts.Exempt != nil && g.opts.Exempt(ctx)
}

// quotaBody readies body, the next bytes of holder's upload into repo,
// which has stored bytes already: a body of known length (>= 0) is
// reserved at once, one of unknown length as it streams. Without quotas
// it returns body as it is.
func (g *Registry) quotaBody(ctx context.Context, repo, holder string, body io.Reader, stored, length int64) (io.Reader, error) {
	if g.opts.Quota == nil || g.exempt(ctx) {
		return body, nil
	}
	if length >= 0 {
		if err := g.opts.Quota.Reserve(ctx, repo, holder, addSize(stored, length)); err != nil {
			return nil, quotaError(err)
		}
		return body, nil
	}
	return g.opts.Quota.Reader(ctx, body, repo, holder, stored), nil
}

// release drops holder's reservation in repo's namespace; failures are
// logged (the reservation is found dead later, see quota.WithLiveness).
func (g *Registry) release(ctx context.Context, repo, holder string) {
	if g.opts.Quota == nil || g.exempt(ctx) {
		return
	}
	if err := g.opts.Quota.Release(context.WithoutCancel(ctx), repo, holder); err != nil {
		g.opts.Log.WarnContext(ctx, "release quota reservation", "namespace", repo, "holder", holder, "err", err)
	}
}

// openUpload counts a new upload session of repo against the cap of open
// sessions of its namespace.
func (g *Registry) openUpload(ctx context.Context, repo, id string) error {
	if g.opts.Quota == nil {
		return nil
	}
	return quotaError(g.opts.Quota.Open(ctx, repo, id))
}

// linked reports whether d is linked into repo already (then linking it
// again adds nothing to the usage).
func (g *Registry) linked(ctx context.Context, repo string, d digest.Digest) bool {
	if g.opts.Quota == nil || d == "" {
		return false
	}
	_, err := g.meta.RepoBlob(ctx, repo, d)
	return err == nil
}

// quotaError maps the errors of package quota to OCI errors: over the
// quota is 403 DENIED, over the cap of open uploads 429 TOOMANYREQUESTS;
// anything else is returned as it is.
func quotaError(err error) error {
	var qe *quota.ExceededError
	var te *quota.TooManyUploadsError
	switch {
	case errors.As(err, &qe):
		return oci.CodeDenied.Errorf("%v; nothing was stored", qe)
	case errors.As(err, &te):
		return &registry.RetryError{After: quota.RetryAfterOpenUploads,
			Err: oci.CodeTooManyRequests.Errorf("%v", te).WithStatus(http.StatusTooManyRequests)}
	}
	return err
}

// addSize adds two sizes of at least 0, saturating at math.MaxInt64
// instead of overflowing (a client chooses Content-Length).
func addSize(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
