package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metrics"
	"github.com/regkit/regkit/spec/generic"
)

// WithMetrics records every request in m (see package metrics): route
// ID, method, status, latency, bytes in and out.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithAccessLog logs every request at level info (on: the access log);
// off, the default, logs successful requests at debug and failures at
// warn or error.
func WithAccessLog(on bool) Option { return func(o *options) { o.accessLog = on } }

// Route labels of requests that no route table names.
const (
	routeUnparsedOCI = "oci-unmatched"     // under /v2, refused before a route was parsed
	routeUnparsedPkg = "generic-unmatched" // under /api/packages or /api/v1/packages, likewise
	routeAPI         = "api"               // the account and token API (/api/v1, auth mode tokens)
	routeMetrics     = "metrics"           // GET /metrics on the main listener
	routeOther       = "other"             // anything else (404)
)

// fallbackRoute is the route label of a request without a parsed route.
func fallbackRoute(p string) string {
	switch {
	case isOCIPath(p):
		return routeUnparsedOCI
	case strings.HasPrefix(p, generic.PackagesPrefix), strings.HasPrefix(p, generic.ManagementPrefix):
		return routeUnparsedPkg
	case p == "/metrics":
		return routeMetrics
	case strings.HasPrefix(p, "/api/"):
		return routeAPI
	}
	return routeOther
}

// track starts the metrics of r (in flight, uploads streaming in) and
// returns the function that records it when it ends; guard defers it.
func (s *Server) track(rw *responseWriter, r *http.Request) func() {
	m := s.opts.metrics
	if m == nil {
		return func() {}
	}
	done := m.RequestStarted()
	uploadDone := func() {}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody &&
		(r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodPost) {
		proto := "other"
		switch {
		case isOCIPath(r.URL.Path):
			proto = "oci"
		case strings.HasPrefix(r.URL.Path, generic.PackagesPrefix):
			proto = "generic"
		}
		uploadDone = m.UploadStarted(proto)
	}
	return func() {
		uploadDone()
		done()
		ri := core.Info(r.Context())
		if ri == nil {
			return
		}
		m.ObserveRequest(ri.RouteOr(fallbackRoute(r.URL.Path)), r.Method, rw.status, time.Since(ri.Start), ri.BytesIn.Load(), rw.written)
	}
}

// routeLabel is the route ID of the request of ctx, or the fallback label
// of its path.
func routeLabel(ctx context.Context, p string) string {
	if ri := core.Info(ctx); ri != nil {
		return ri.RouteOr(fallbackRoute(p))
	}
	return fallbackRoute(p)
}

// WithMetricsEndpoint serves GET /metrics (the metrics of WithMetrics) on
// the registry's own listener, to site admins only (a password login of
// auth mode tokens; anyone else gets 401 or 403). Without WithAuth it is
// not served (404): an open registry exposes metrics on a separate
// listener only.
func WithMetricsEndpoint(on bool) Option { return func(o *options) { o.metricsOnMain = on } }

// metricsRoute registers GET /metrics when WithMetricsEndpoint asks for it.
func (s *Server) metricsRoute(r *bunrouter.Router) {
	if s.opts.metrics == nil || !s.opts.metricsOnMain || s.opts.auth == nil {
		return
	}
	h := s.opts.metrics.Handler()
	r.GET("/metrics", func(w http.ResponseWriter, br bunrouter.Request) error {
		res := principal(br.Context())
		err := res.Err
		if err == nil {
			err = s.opts.auth.RequireSiteAdmin(res.Principal)
		}
		if err != nil {
			s.writeAPIError(w, br.Request, err)
			return nil
		}
		h.ServeHTTP(w, br.Request)
		return nil
	})
}
