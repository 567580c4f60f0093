// Package oci serves the OCI Distribution API v1.1 over any
// registry.Interface: it parses a request with spec/oci, asks the
// registry, and writes the protocol's headers and bodies. What is stored
// and which rules apply is the registry's business (registry/local for
// regkit's own store; client/oci's registry for a proxy); authentication
// and the composition of the server are package server's.
package oci

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/spec/oci"
)

// DefaultMaxManifestSize is the largest manifest accepted by default:
// 10 MiB, at least the 4 MiB the OCI specification says clients may
// expect and what Gitea's container registry accepts.
const DefaultMaxManifestSize = 10 << 20

// DefaultReferrersPageSize is the most referrers one response lists; the
// rest follow through Link.
const DefaultReferrersPageSize = 1000

// DefaultListPageSize is the page size of a tag list or catalog request
// without ?n= (the distribution spec lets a registry page them): a
// client that follows Link still gets every entry, and no request costs
// more than a page.
const DefaultListPageSize = 1000

// Handler is one route's handler: it answers req or returns the error to
// write.
type Handler func(w http.ResponseWriter, r *http.Request, req oci.Request) error

// Config is what the API serves and how.
type Config struct {
	// Registry stores and serves the content.
	Registry registry.Interface
	// Log receives what a request cannot report (default slog.Default()).
	Log *slog.Logger
	// DeleteEnabled allows manifest, tag and blob deletes; without it they
	// answer 405 UNSUPPORTED.
	DeleteEnabled bool
	// MaxManifestSize is the largest manifest body accepted (default
	// DefaultMaxManifestSize); larger ones get 413.
	MaxManifestSize int64
	// ReferrersPageSize is the most descriptors of one referrers response
	// (default DefaultReferrersPageSize).
	ReferrersPageSize int
	// RedirectTTL, when positive, answers blob GETs with 307 to a URL the
	// registry signs for that long (when it is a registry.Redirector).
	RedirectTTL time.Duration
	// Authorize decides a parsed request before its handler runs (nil:
	// everything is allowed); it may rewrite a mount (its source, or into
	// a plain upload start).
	Authorize func(w http.ResponseWriter, r *http.Request, req *oci.Request) error
	// Token serves the token endpoint; nil answers it 404.
	Token Handler
	// Catalog, when set, serves the catalog instead of the registry's
	// Repositories (the server's catalog filtered by the caller's rights).
	Catalog Handler
}

// API is the OCI Distribution API over a registry.
type API struct {
	cfg      Config
	handlers map[oci.RouteID]Handler
}

// New returns the API of cfg.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxManifestSize <= 0 {
		cfg.MaxManifestSize = DefaultMaxManifestSize
	}
	if cfg.ReferrersPageSize <= 0 {
		cfg.ReferrersPageSize = DefaultReferrersPageSize
	}
	a := &API{cfg: cfg}
	a.handlers = map[oci.RouteID]Handler{
		oci.RouteBase:              a.base,
		oci.RouteBlob:              a.blobGet,
		oci.RouteBlobDelete:        a.blobDelete,
		oci.RouteUploadStart:       a.uploadStart,
		oci.RouteUploadMonolithic:  a.uploadStart,
		oci.RouteUploadAlgorithm:   a.uploadStart,
		oci.RouteManifestPutTags:   a.manifestPut,
		oci.RouteBlobMount:         a.uploadStart,
		oci.RouteUploadChunk:       a.uploadChunk,
		oci.RouteUploadFinish:      a.uploadFinish,
		oci.RouteUploadStatus:      a.uploadStatus,
		oci.RouteUploadCancel:      a.uploadCancel,
		oci.RouteManifest:          a.manifestGet,
		oci.RouteManifestPut:       a.manifestPut,
		oci.RouteManifestDelete:    a.manifestDelete,
		oci.RouteTags:              a.tagsList,
		oci.RouteTagsPaged:         a.tagsList,
		oci.RouteReferrers:         a.referrers,
		oci.RouteReferrersFiltered: a.referrers,
		oci.RouteCatalog:           a.catalog,
		oci.RouteToken:             a.token,
	}
	if cfg.Catalog != nil {
		a.handlers[oci.RouteCatalog] = cfg.Catalog
	}
	return a
}

// Handles reports whether the API has a handler for route (a test checks
// every route of spec/oci).
func (a *API) Handles(route oci.RouteID) bool {
	_, ok := a.handlers[route]
	return ok
}

// Dispatch parses the request of /v2/* with oci.Parse, authorizes it and
// calls its handler. The error it returns is what to answer: an
// *oci.Error of spec/oci (with the headers of a registry.RetryError or
// registry.UploadError already set), or a failure for the server's error
// writer to classify.
func (a *API) Dispatch(w http.ResponseWriter, r bunrouter.Request) error {
	req, err := oci.Parse(r.Method, r.URL)
	if err != nil {
		var oe *oci.Error
		if errors.As(err, &oe) {
			if d, ok := oe.Detail.(oci.AllowDetail); ok && oe.HTTPStatus() == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", strings.Join(d.Allowed, ", "))
			}
		}
		return err
	}
	core.SetRoute(r.Context(), string(req.Route))
	if a.cfg.Authorize != nil {
		if err := a.cfg.Authorize(w, r.Request, &req); err != nil {
			return err
		}
	}
	h, ok := a.handlers[req.Route]
	if !ok {
		return oci.ErrUnsupported.WithStatus(http.StatusNotFound)
	}
	return a.headers(w, req, h(w, r.Request, req))
}

// headers sets the response headers that err asks for: the session's
// Location and Range, Retry-After.
func (a *API) headers(w http.ResponseWriter, req oci.Request, err error) error {
	if err == nil {
		return nil
	}
	var (
		ue  *registry.UploadError
		re  *registry.RetryError
		bad *core.BadBodyError
		oe  *oci.Error
	)
	if errors.As(err, &ue) {
		writeUploadHeaders(w, req.Name, ue.Upload)
	}
	if errors.As(err, &re) {
		core.SetRetryAfter(w, re.After)
	}
	if !errors.As(err, &oe) && errors.As(err, &bad) {
		return oci.CodeBlobUploadInvalid.Errorf("%v", bad)
	}
	return err
}

// base answers the API version check.
func (a *API) base(w http.ResponseWriter, _ *http.Request, _ oci.Request) error {
	h := w.Header()
	h.Set(oci.DockerDistributionAPIVersion, "registry/2.0")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
	return nil
}

// token is the token endpoint; without an auth mode there is nothing to
// grant, so it is not found.
func (a *API) token(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if a.cfg.Token == nil {
		return oci.CodeNotFound.Errorf("this registry runs without authentication; no token endpoint")
	}
	return a.cfg.Token(w, r, req)
}

// deletesOff is the answer to a delete when deletes are disabled.
func deletesOff() error {
	return oci.CodeUnsupported.Errorf("deletes are disabled on this registry")
}
