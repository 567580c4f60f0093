package generic

import (
	"context"
	"io"

	"github.com/regkit/regkit/server/core"
)

// Quotas and the cap on open uploads of the generic API (package quota; the
// OCI API's are registry/local's): every upload
// reserves its bytes before they are written, in the metadata store, and
// releases the reservation once they count in the usage. As in Gitea,
// quotas and file-size limits do not apply to uploads by site admins
// (exempt); the cap on open uploads and the disk-full answer do.

// exempt reports whether ctx's request acts for a site admin, whom
// quotas and file-size limits do not apply to.
func (s *API) exempt(ctx context.Context) bool {
	return s.cfg.Auth != nil && core.AuthOf(ctx).Principal.SiteAdmin()
}

// quotaBody readies body, the next bytes of holder's upload into repo,
// which has stored bytes already: a body of known length (>= 0) is
// reserved at once, one of unknown length as it streams. Without quotas
// it returns body as it is.
func (s *API) quotaBody(ctx context.Context, repo, holder string, body io.Reader, stored, length int64) (io.Reader, error) {
	if s.cfg.Quota == nil || s.exempt(ctx) {
		return body, nil
	}
	if length >= 0 {
		if err := s.cfg.Quota.Reserve(ctx, repo, holder, core.AddSize(stored, length)); err != nil {
			return nil, err
		}
		return body, nil
	}
	return s.cfg.Quota.Reader(ctx, body, repo, holder, stored), nil
}

// release drops holder's reservation in repo's namespace; failures are
// logged (the reservation is found dead later, see quota.WithLiveness).
func (s *API) release(ctx context.Context, repo, holder string) {
	if s.cfg.Quota == nil || s.exempt(ctx) {
		return
	}
	if err := s.cfg.Quota.Release(ctx, repo, holder); err != nil {
		s.cfg.Log.WarnContext(ctx, "release quota reservation", "namespace", repo, "holder", holder, "err", err)
	}
}

// openUpload counts a new upload session of repo against the cap of open
// sessions of its namespace.
func (s *API) openUpload(ctx context.Context, repo, id string) error {
	if s.cfg.Quota == nil {
		return nil
	}
	return s.cfg.Quota.Open(ctx, repo, id)
}
