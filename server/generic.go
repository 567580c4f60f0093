package server

import (
	"context"
	"errors"
	"fmt"
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

// genericOptions are the generic registry's settings.
type genericOptions struct {
	packages    metadata.Packages
	maxFileSize int64 // 0: unlimited
}

// WithPackages sets the package store of the generic registry. Without it
// the server uses the metadata store when it implements
// metadata.Packages (memmeta, boltmeta and redismeta do); with neither,
// the generic and management APIs answer 404.
func WithPackages(p metadata.Packages) Option {
	return func(o *options) { o.generic.packages = p }
}

// WithGenericMaxFileSize sets the largest file the generic registry
// accepts (0, the default: no limit). Larger uploads are refused with 403
// and a message naming the limit, before any byte is stored.
func WithGenericMaxFileSize(n int64) Option {
	return func(o *options) { o.generic.maxFileSize = max(n, 0) }
}

// genericHandler handles one parsed request of the generic or management
// API.
type genericHandler func(w http.ResponseWriter, r *http.Request, req generic.Request) error

// genericHandlers maps every route of spec/generic to its handler. A test
// checks that every route of generic.Routes() has one.
func (s *Server) genericHandlers() map[generic.RouteID]genericHandler {
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

// genericRoutes registers the routes of spec/generic on r, each pattern
// generated from the table, plus catch-alls under both prefixes.
func (s *Server) genericRoutes(r *bunrouter.Router) {
	if s.opts.generic.packages == nil {
		if p, ok := s.meta.(metadata.Packages); ok {
			s.opts.generic.packages = p
		}
	}
	handlers := s.genericHandlers()
	h := func(w http.ResponseWriter, br bunrouter.Request) error {
		req, err := generic.Parse(br.Method, br.URL)
		if err == nil {
			core.SetRoute(br.Context(), string(req.Route))
			err = s.authorizeGeneric(br.Request, req)
		}
		if err == nil {
			if s.opts.generic.packages == nil {
				err = generic.Errorf(http.StatusNotFound, "this registry has no package store")
			} else {
				err = handlers[req.Route](w, br.Request, req)
			}
		}
		if err != nil {
			s.writeGenericError(w, br.Request, err)
		}
		return nil
	}
	s.generic = h
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

// writeGenericError writes err in the format of the request's API.
func (s *Server) writeGenericError(w http.ResponseWriter, r *http.Request, err error) {
	ge := s.genericError(r, err)
	if core.Started(w) {
		s.opts.log.WarnContext(r.Context(), "error after response started", "path", r.URL.Path, "err", err)
		return
	}
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Disposition", generic.ContentDigest, generic.Digest, "Repr-Digest", "Accept-Ranges"} {
		h.Del(k)
	}
	switch ge.Status {
	case http.StatusUnauthorized:
		realm := "regkit"
		if s.opts.auth != nil {
			realm = s.opts.auth.Service()
		}
		h.Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", realm))
	case http.StatusMethodNotAllowed:
		h.Set("Allow", strings.Join(generic.AllowedMethods(ge), ", "))
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
		}
	case http.StatusTooManyRequests:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", strconv.Itoa(int(retryOpenUploads/time.Second)))
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
func (s *Server) genericError(r *http.Request, err error) *generic.Error {
	var ge *generic.Error
	var rl *auth.RateLimitError
	var qe *quota.ExceededError
	switch {
	case errors.As(err, &ge):
		return ge
	case errors.Is(err, syscall.ENOSPC):
		s.opts.log.ErrorContext(r.Context(), "storage full", "method", r.Method, "path", r.URL.Path, "err", err)
		return generic.Errorf(http.StatusInsufficientStorage, "%s", errNoSpace)
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
		return generic.Errorf(http.StatusServiceUnavailable, "%s", s.unavailable(r, err))
	case errors.Is(err, storage.ErrBuffersBusy):
		return generic.Errorf(http.StatusServiceUnavailable, "%s", buffersBusy)
	case core.GenericBodyError(err) != nil:
		return core.GenericBodyError(err)
	case storage.IsUnavailable(err):
		return generic.Errorf(http.StatusServiceUnavailable, "%s", s.bucketUnavailable(r, err))
	case clientGone(r, err):
		s.opts.log.DebugContext(r.Context(), "request canceled by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return generic.Errorf(StatusClientClosedRequest, "the request was canceled")
	}
	s.opts.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
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
func (s *Server) authorizeGeneric(r *http.Request, req generic.Request) error {
	a := s.opts.auth
	if a == nil {
		return nil
	}
	ctx := r.Context()
	res := principal(ctx)
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
func (s *Server) authorizeList(ctx context.Context, p auth.Principal, owner string, need auth.Actions) error {
	scopeShort := false
	for _, t := range []string{auth.PackageGeneric, auth.PackageContainer} {
		acts, err := s.opts.auth.Actions(ctx, p, owner, t)
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
func (s *Server) canRead(ctx context.Context, owner, t string) (bool, error) {
	if s.opts.auth == nil {
		return true, nil
	}
	p := principal(ctx).Principal
	acts, err := s.opts.auth.Actions(ctx, p, owner, pkgAuthType(t))
	if err != nil {
		return false, err
	}
	pull := auth.ActionsOf(string(auth.Pull))
	return acts.Has(pull) && p.GrantedUnder(owner, pkgAuthType(t)).Has(pull), nil
}

// canReadRepo reports whether the caller's bearer token, if it has one,
// grants pull on container repository repo (true for every other caller:
// canRead decided for the whole owner).
func (s *Server) canReadRepo(ctx context.Context, repo string) bool {
	if s.opts.auth == nil {
		return true
	}
	return principal(ctx).Principal.Granted(repo, auth.PackageContainer).Has(auth.ActionsOf(string(auth.Pull)))
}

// creator is the account name recorded as the creator of what the request
// uploads ("" anonymous).
func creator(ctx context.Context) string {
	p := principal(ctx).Principal
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
