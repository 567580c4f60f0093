package generic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/generic"
)

// The generic package registry (/api/packages/{owner}/generic/...) and the
// package management API (/api/v1/packages/...), after Gitea's, as the
// README's "Generic packages" section and docs/gitea.md describe them.
//
// Routes are registered from spec/generic's table (and a catch-all under
// each prefix, so that every path there answers in the API's error
// format); every request is parsed once with generic.Parse, authorized
// (auth mode "tokens") and handed to its route's handler. Handlers return
// errors: *generic.Error values are sent as they are (plain text on
// /api/packages, JSON {"message","url"} on /api/v1), auth failures become
// 401 (with WWW-Authenticate: Basic) or 403, anything else a logged 500.
//
// Packages, versions and files live in metadata.Packages; file bytes are
// blobs of the content-addressed store shared with the OCI registry.

// Config is what the generic and management APIs serve and how.
type Config struct {
	// Meta is the metadata store (blob records, repositories for the
	// container view, owners).
	Meta metadata.Store
	// Store holds the files' bytes, as blobs shared with the OCI API.
	Store *storage.Store
	// Packages is the package store; nil answers every route 404.
	Packages metadata.Packages
	// Auth is the auth service of auth mode "tokens"; nil: an open
	// registry.
	Auth *auth.Service
	// Quota enforces quotas and the cap on open uploads; nil: none.
	Quota *quota.Checker
	// Log receives what a request cannot report.
	Log *slog.Logger
	// MaxFileSize is the largest file accepted (0: no limit); larger
	// uploads get 403 before any byte is stored.
	MaxFileSize int64
	// DeleteEnabled allows deleting container versions (tags); without
	// it they answer 405.
	DeleteEnabled bool
	// RedirectTTL, when positive, answers file GETs with 307 to a URL the
	// bucket signs for that long (where it can sign).
	RedirectTTL time.Duration
}

// API is the generic package registry and the package management API.
type API struct {
	cfg      Config
	handlers map[generic.RouteID]genericHandler
}

// New returns the APIs of cfg.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &API{cfg: cfg}
	s.handlers = s.genericHandlers()
	return s
}

// Handles reports whether route has a handler (a test checks every route
// of spec/generic).
func (s *API) Handles(route generic.RouteID) bool {
	_, ok := s.handlers[route]
	return ok
}

// genericHandler handles one parsed request of the generic or management
// API.
type genericHandler func(w http.ResponseWriter, r *http.Request, req generic.Request) error

// genericHandlers maps every route of spec/generic to its handler. A test
// checks that every route of generic.Routes() has one.
func (s *API) genericHandlers() map[generic.RouteID]genericHandler {
	return map[generic.RouteID]genericHandler{
		generic.RouteUpload:        s.genericUpload,
		generic.RouteDownload:      s.genericDownload,
		generic.RouteFileDelete:    s.genericFileDelete,
		generic.RouteVersionDelete: s.genericVersionDelete,
		generic.RouteUploadStart:   s.genericUploadStart,
		generic.RouteUploadChunk:   s.genericUploadChunk,
		generic.RouteUploadFinish:  s.genericUploadFinish,
		generic.RouteUploadStatus:  s.genericUploadStatus,
		generic.RouteUploadCancel:  s.genericUploadCancel,
		generic.RouteList:          s.pkgList,
		generic.RouteVersions:      s.pkgVersions,
		generic.RouteVersion:       s.pkgVersion,
		generic.RouteDelete:        s.pkgDelete,
		generic.RouteFiles:         s.pkgFiles,
		generic.RouteLatest:        s.pkgLatest,
		generic.RouteLink:          s.pkgLink,
		generic.RouteUnlink:        s.pkgUnlink,
	}
}

// Dispatch parses a request of either API with generic.Parse, authorizes
// it and calls its handler; it writes every error itself.
func (s *API) Dispatch(w http.ResponseWriter, br bunrouter.Request) error {
	req, err := generic.Parse(br.Method, br.URL)
	if err == nil {
		core.SetRoute(br.Context(), string(req.Route))
		err = s.authorizeGeneric(br.Request, req)
	}
	if err == nil {
		if s.cfg.Packages == nil {
			err = generic.Errorf(http.StatusNotFound, "this registry has no package store")
		} else {
			err = s.handlers[req.Route](w, br.Request, req)
		}
	}
	if err != nil {
		s.WriteError(w, br.Request, err)
	}
	return nil
}

// Routes registers the routes of spec/generic on r, each pattern
// generated from the table, plus catch-alls under both prefixes.
func (s *API) Routes(r *bunrouter.Router) {
	h := s.Dispatch
	seen := map[string]bool{}
	for _, rt := range generic.Routes() {
		for _, m := range rt.Methods {
			if k := m + " " + rt.Pattern(); !seen[k] {
				seen[k] = true
				r.Handle(m, rt.Pattern(), h)
			}
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r.Handle(m, strings.TrimSuffix(generic.PackagesPrefix, "/")+"/*path", h)
		r.Handle(m, strings.TrimSuffix(generic.ManagementPrefix, "/")+"/*path", h)
	}
}

// WriteError writes err in the format of the request's API: plain text
// on /api/packages, JSON {"message","url"} on /api/v1.
func (s *API) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ge := s.genericError(r, err)
	if core.Started(w) {
		s.cfg.Log.WarnContext(r.Context(), "error after response started", "path", r.URL.Path, "err", err)
		return
	}
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Disposition", generic.ContentDigest, generic.Digest, "Repr-Digest", "Accept-Ranges"} {
		h.Del(k)
	}
	switch ge.Status {
	case http.StatusUnauthorized:
		realm := "regkit"
		if s.cfg.Auth != nil {
			realm = s.cfg.Auth.Service()
		}
		h.Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", realm))
	case http.StatusMethodNotAllowed:
		h.Set("Allow", strings.Join(generic.AllowedMethods(ge), ", "))
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", strconv.Itoa(core.RetryAfterUnavailable))
		}
	case http.StatusTooManyRequests:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", strconv.Itoa(int(quota.RetryAfterOpenUploads/time.Second)))
		}
	}
	format := generic.FormatOf(r.URL.Path)
	if format == generic.FormatJSON {
		ge.URL = core.BaseURL(r) + r.URL.Path
	}
	body, ct := ge.Body(format)
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(ge.HTTPStatus())
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// genericError maps err to the *generic.Error to send.
func (s *API) genericError(r *http.Request, err error) *generic.Error {
	var ge *generic.Error
	var rl *auth.RateLimitError
	var qe *quota.ExceededError
	switch {
	case errors.As(err, &ge):
		return ge
	case errors.Is(err, syscall.ENOSPC):
		s.cfg.Log.ErrorContext(r.Context(), "storage full", "method", r.Method, "path", r.URL.Path, "err", err)
		return generic.Errorf(http.StatusInsufficientStorage, "%s", core.ErrNoSpace)
	case errors.As(err, &qe):
		return generic.Errorf(http.StatusForbidden, "%s; nothing was stored", qe.Error())
	case errors.As(err, new(*quota.TooManyUploadsError)):
		return generic.Errorf(http.StatusTooManyRequests, "%v", err)
	case errors.As(err, &rl):
		return generic.Errorf(http.StatusTooManyRequests, "%s", rl.Error())
	case errors.Is(err, auth.ErrMalformedCredentials), errors.Is(err, auth.ErrInvalidCredentials):
		return generic.Errorf(http.StatusUnauthorized, "invalid, expired or revoked credentials")
	case errors.Is(err, auth.ErrInsufficientScope):
		return generic.Errorf(http.StatusForbidden, "%s", core.InsufficientScope)
	case errors.Is(err, auth.ErrUnauthenticated):
		return generic.Errorf(http.StatusUnauthorized, "authentication required")
	case errors.Is(err, auth.ErrDenied):
		return generic.Errorf(http.StatusForbidden, "access denied")
	case errors.Is(err, metadata.ErrUnavailable):
		return generic.Errorf(http.StatusServiceUnavailable, "%s", core.MetadataUnavailable(s.cfg.Log, r, err))
	case errors.Is(err, storage.ErrBuffersBusy):
		return generic.Errorf(http.StatusServiceUnavailable, "%s", core.BuffersBusy)
	case core.GenericBodyError(err) != nil:
		return core.GenericBodyError(err)
	case storage.IsUnavailable(err):
		return generic.Errorf(http.StatusServiceUnavailable, "%s", core.BucketUnavailable(s.cfg.Log, r, err))
	case core.ClientGone(r, err):
		s.cfg.Log.DebugContext(r.Context(), "request canceled by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return generic.Errorf(core.StatusClientClosedRequest, "the request was canceled")
	}
	s.cfg.Log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	return generic.Errorf(http.StatusInternalServerError, "internal server error")
}

// genericActions returns what a route needs on the owner's packages.
func genericActions(route generic.RouteID) auth.Actions {
	switch route {
	case generic.RouteDownload, generic.RouteList, generic.RouteVersions, generic.RouteVersion, generic.RouteFiles, generic.RouteLatest:
		return auth.ActionsOf(string(auth.Pull))
	case generic.RouteFileDelete, generic.RouteVersionDelete, generic.RouteDelete:
		return auth.ActionsOf(string(auth.Delete))
	}
	return auth.ActionsOf(string(auth.Push))
}

// pkgAuthType maps a package type to auth's package types.
func pkgAuthType(t string) string {
	if t == generic.TypeContainer {
		return auth.PackageContainer
	}
	return auth.PackageGeneric
}

// authorizeGeneric decides a request with auth mode "tokens" (nil when
// allowed; always nil without auth): invalid credentials are 401; a
// principal without the right is 401 when anonymous, else 403 — or 404
// when it may not read the owner at all. The owner listing (pkg-list)
// needs read access to either package type; its entries are filtered by
// type (see pkgList). An owner that does not exist is decided like a
// private one the caller may not see (401 anonymous, else 404 with the
// same message), so that strangers cannot tell them apart, as on /v2.
func (s *API) authorizeGeneric(r *http.Request, req generic.Request) error {
	a := s.cfg.Auth
	if a == nil {
		return nil
	}
	ctx := r.Context()
	res := core.AuthOf(ctx)
	if res.Err != nil {
		return res.Err
	}
	need := genericActions(req.Route)
	var err error
	if req.Route == generic.RouteList {
		err = s.authorizeList(ctx, res.Principal, req.Owner, need)
	} else {
		// A registry bearer token (from /v2/token) carries repository
		// scopes for /v2 only: Authorize answers ErrInsufficientScope (403)
		// for it here, on generic packages always.
		err = a.Authorize(ctx, res.Principal, metadata.PackageKey(req.Owner)+"/"+req.Name, pkgAuthType(req.Type), need)
	}
	hidden := generic.Errorf(http.StatusNotFound, "owner %q not found", req.Owner)
	if errors.Is(err, auth.ErrDenied) {
		for _, t := range []string{auth.PackageGeneric, auth.PackageContainer} {
			acts, aerr := a.Actions(ctx, res.Principal, req.Owner, t)
			if aerr != nil {
				return aerr
			}
			if acts.Has(auth.ActionsOf(string(auth.Pull))) {
				return err // a visible owner: 403
			}
		}
		return hidden
	}
	if err != nil {
		return err
	}
	if _, err := a.Identity().GetAccount(ctx, req.Owner); errors.Is(err, metadata.ErrNotFound) {
		return hidden
	} else if err != nil {
		return fmt.Errorf("owner lookup: %w", err)
	}
	return nil
}

// authorizeList decides the owner listing: read access to either package
// type (for a bearer token: to one of the owner's repositories it names).
func (s *API) authorizeList(ctx context.Context, p auth.Principal, owner string, need auth.Actions) error {
	scopeShort := false
	for _, t := range []string{auth.PackageGeneric, auth.PackageContainer} {
		acts, err := s.cfg.Auth.Actions(ctx, p, owner, t)
		if err != nil {
			return err
		}
		if acts.Has(need) {
			if p.GrantedUnder(owner, t).Has(need) {
				return nil
			}
			scopeShort = true
		}
	}
	switch {
	case scopeShort:
		return fmt.Errorf("%w: it names no repository of %s", auth.ErrInsufficientScope, owner)
	case !p.Authenticated():
		return auth.ErrUnauthenticated
	}
	return auth.ErrDenied
}

// canRead reports whether the caller may read owner's packages of type t
// (always true without auth). For a bearer token that is reading some
// container repository it names; canReadRepo then decides each.
func (s *API) canRead(ctx context.Context, owner, t string) (bool, error) {
	if s.cfg.Auth == nil {
		return true, nil
	}
	p := core.AuthOf(ctx).Principal
	acts, err := s.cfg.Auth.Actions(ctx, p, owner, pkgAuthType(t))
	if err != nil {
		return false, err
	}
	pull := auth.ActionsOf(string(auth.Pull))
	return acts.Has(pull) && p.GrantedUnder(owner, pkgAuthType(t)).Has(pull), nil
}

// canReadRepo reports whether the caller's bearer token, if it has one,
// grants pull on container repository repo (true for every other caller:
// canRead decided for the whole owner).
func (s *API) canReadRepo(ctx context.Context, repo string) bool {
	if s.cfg.Auth == nil {
		return true
	}
	return core.AuthOf(ctx).Principal.Granted(repo, auth.PackageContainer).Has(auth.ActionsOf(string(auth.Pull)))
}

// creator is the account name recorded as the creator of what the request
// uploads ("" anonymous).
func creator(ctx context.Context) string {
	p := core.AuthOf(ctx).Principal
	switch {
	case p.User != nil:
		return p.User.Name
	case p.Token != nil:
		return p.Token.Owner
	}
	return ""
}

// refOf returns the metadata reference of a request's version.
func refOf(req generic.Request) metadata.PackageRef {
	return metadata.PackageRef{Owner: req.Owner, Type: req.Type, Name: req.Name, Version: req.Version}
}

// notFoundErr maps metadata.ErrNotFound to a 404 with msg, wrapping
// anything else.
func notFoundErr(err error, format string, args ...any) error {
	if errors.Is(err, metadata.ErrNotFound) {
		return generic.Errorf(http.StatusNotFound, format, args...)
	}
	return fmt.Errorf("packages: %w", err)
}
