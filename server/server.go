// Package server is regkit's reference registry: the OCI Distribution API
// v1.1 on bunrouter, with metadata in a metadata.Store and blob bytes in a
// storage.Store. Every replica is stateless: any request may be served by
// any process sharing the same metadata store and bucket.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/registry/local"
	"github.com/regkit/regkit/server/accounts"
	"github.com/regkit/regkit/server/auth"
	genericapi "github.com/regkit/regkit/server/generic"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metrics"
	ociapi "github.com/regkit/regkit/server/oci"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/generic"
)

// DefaultMaxManifestSize is the largest manifest accepted by default
// (server/oci's: 10 MiB).
const DefaultMaxManifestSize = ociapi.DefaultMaxManifestSize

// DefaultListPageSize is the page size of a tag list or catalog request
// without ?n= (server/oci's).
const DefaultListPageSize = ociapi.DefaultListPageSize

// Server is the registry's HTTP handler.
type Server struct {
	meta     metadata.Store
	store    *storage.Store
	opts     options
	router   *bunrouter.Router
	registry registry.Interface // what the OCI API serves: registry/local, or WithRegistry's
	oci      *ociapi.API        // the OCI API (server/oci) over registry
	generic  *genericapi.API    // the generic and management APIs (server/generic)
}

type options struct {
	redirectTTL       time.Duration
	log               *slog.Logger
	maxManifestSize   int64
	autoMount         bool
	deleteEnabled     bool
	referrersPageSize int
	sparse            bool
	quota             *quota.Checker
	now               func() time.Time
	auth              *auth.Service
	generic           genericOptions // see packages.go
	minBodyRate       int64          // see body.go
	minBodyWindow     time.Duration
	minDownloadRate   int64          // see download.go
	trustedProxies    []netip.Prefix // see clientip.go
	minDownloadWindow time.Duration
	metrics           *metrics.Metrics // see metrics.go
	accessLog         bool
	metricsOnMain     bool
	registry          registry.Interface // see WithRegistry
}

// Option configures a Server.
type Option func(*options)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxManifestSize sets the largest manifest body accepted; larger
// manifests are refused with 413.
func WithMaxManifestSize(n int64) Option { return func(o *options) { o.maxManifestSize = n } }

// WithAutoMount makes a mount request without "from" succeed (201) when
// the blob exists anywhere in the registry; with WithAuth, when it is
// linked in a repository the caller may pull (see authorizeMount). Off by
// default, as the OCI specification describes it as optional.
func WithAutoMount(on bool) Option { return func(o *options) { o.autoMount = on } }

// WithDelete enables or disables manifest, tag and blob deletion (on by
// default). Disabled deletes answer 405 UNSUPPORTED.
func WithDelete(on bool) Option { return func(o *options) { o.deleteEnabled = on } }

// WithRedirect answers blob and generic-file GETs with 307 to a URL
// signed by the bucket, valid for ttl, on buckets that can sign (S3,
// Azure, GCS with a signing key); others stream as usual. 0 (the
// default) turns redirects off.
func WithRedirect(ttl time.Duration) Option { return func(o *options) { o.redirectTTL = ttl } }

// DefaultReferrersPageSize is the most referrers one response lists; the
// rest follow through Link.
const DefaultReferrersPageSize = ociapi.DefaultReferrersPageSize

// WithReferrersPageSize sets the most descriptors one referrers response
// lists before it paginates with Link.
func WithReferrersPageSize(n int) Option { return func(o *options) { o.referrersPageSize = max(n, 1) } }

// WithSparseManifests accepts manifests whose blobs or child manifests
// are not in the repository (sparse images and indexes, as mirrors of
// partial content need). Off by default: such manifests get 400
// MANIFEST_BLOB_UNKNOWN.
func WithSparseManifests(on bool) Option { return func(o *options) { o.sparse = on } }

// WithAuth switches authentication on (auth mode "tokens"): every request
// is authenticated and authorized by a, the token endpoint /v2/token
// issues bearer tokens, and the account and token API is served under
// /api/v1 (see auth.go and server/accounts). Without it (auth mode "none")
// the registry is open to everyone.
func WithAuth(a *auth.Service) Option { return func(o *options) { o.auth = a } }

// WithQuota enforces the namespace storage quotas of q: uploads that
// would exceed them get 403 DENIED.
func WithQuota(q *quota.Checker) Option { return func(o *options) { o.quota = q } }

// WithRegistry serves the OCI API from reg instead of the metadata store
// and bucket of New (which the generic and account APIs still use): with
// client/oci's registry, the server is a proxy to another registry.
func WithRegistry(reg registry.Interface) Option { return func(o *options) { o.registry = reg } }

// New returns the registry handler over meta and store.
func New(meta metadata.Store, store *storage.Store, opts ...Option) *Server {
	s := &Server{meta: meta, store: store, opts: options{
		log:               slog.Default(),
		maxManifestSize:   DefaultMaxManifestSize,
		deleteEnabled:     true,
		referrersPageSize: DefaultReferrersPageSize,
		now:               time.Now,
		minBodyRate:       DefaultMinBodyRate,
		minBodyWindow:     DefaultMinBodyWindow,
		minDownloadRate:   DefaultMinDownloadRate,
		minDownloadWindow: DefaultMinDownloadWindow,
	}}
	for _, o := range opts {
		o(&s.opts)
	}
	ropts := []bunrouter.Option{bunrouter.Use(s.logRequests), bunrouter.Use(noSniff),
		bunrouter.WithNotFoundHandler(s.notFound), bunrouter.WithMethodNotAllowedHandler(s.methodNotAllowed)}
	if s.opts.auth != nil {
		ropts = append(ropts, bunrouter.Use(s.authenticate))
	}
	r := bunrouter.New(ropts...)
	s.registry = s.opts.registry
	if s.registry == nil {
		s.registry = local.New(meta, store, local.Options{Quota: s.opts.quota, Exempt: s.exempt,
			AutoMount: s.opts.autoMount, Sparse: s.opts.sparse, Now: s.opts.now, Log: s.opts.log})
	}
	cfg := ociapi.Config{Registry: s.registry, Log: s.opts.log, DeleteEnabled: s.opts.deleteEnabled,
		MaxManifestSize: s.opts.maxManifestSize, ReferrersPageSize: s.opts.referrersPageSize, RedirectTTL: s.opts.redirectTTL}
	if s.opts.auth != nil {
		cfg.Authorize, cfg.Token, cfg.Catalog = s.authorize, s.issueToken, s.catalogVisible
	}
	s.oci = ociapi.New(cfg)
	v2 := s.errors(s.oci.Dispatch)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r.Handle(m, "/v2", v2)
		r.Handle(m, "/v2/*path", v2)
	}
	s.router = r
	if s.opts.generic.packages == nil {
		if p, ok := meta.(metadata.Packages); ok {
			s.opts.generic.packages = p
		}
	}
	s.generic = genericapi.New(genericapi.Config{Meta: meta, Store: store, Packages: s.opts.generic.packages,
		Auth: s.opts.auth, Quota: s.opts.quota, Log: s.opts.log, MaxFileSize: s.opts.generic.maxFileSize,
		DeleteEnabled: s.opts.deleteEnabled, RedirectTTL: s.opts.redirectTTL})
	s.generic.Routes(r) // /api/packages and /api/v1/packages
	s.metricsRoute(r)   // metrics.go: GET /metrics (auth mode tokens, site admins)
	if s.opts.auth != nil {
		accounts.New(accounts.Config{Meta: meta, Auth: s.opts.auth, Packages: s.opts.generic.packages,
			Log: s.opts.log, Unavailable: s.generic.WriteError}).Routes(r)
	}
	return s
}

// noSniff sends X-Content-Type-Options: nosniff on every response, so
// that no browser takes stored bytes (manifests, blobs, package files)
// for anything but their declared type.
func noSniff(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, r bunrouter.Request) error {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		return next(w, r)
	}
}

// methodNotAllowed answers a method that no route has for a path (OPTIONS,
// TRACE, any other token): on /v2 through the OCI dispatcher, whose
// oci.Parse answers 405 UNSUPPORTED with Allow listing the methods of the
// path's shape; on the package APIs through theirs (405 with Allow); a
// bare 405 elsewhere.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r bunrouter.Request) error {
	switch {
	case isOCIPath(r.URL.Path):
		return s.errors(s.oci.Dispatch)(w, r)
	case strings.HasPrefix(r.URL.Path, generic.PackagesPrefix) || strings.HasPrefix(r.URL.Path, generic.ManagementPrefix):
		return s.generic.Dispatch(w, r)
	}
	w.WriteHeader(http.StatusMethodNotAllowed)
	return nil
}

// ServeHTTP implements http.Handler. Every request passes guard
// (guard.go) first: paths with control characters are refused before
// routing, bodies are wrapped, and panics become 500s.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.guard(w, r)
}
