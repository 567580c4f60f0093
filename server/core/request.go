package core

import (
	"context"
	"sync/atomic"
	"time"
)

// RequestInfo is what a request's context holds about it: its ID, when it
// started, its route ID once parsed and the bytes read of its body. The
// guard of package server creates it for every request; the metrics and
// the access log read it when the request ends.
type RequestInfo struct {
	ID      string
	Start   time.Time
	BytesIn atomic.Int64
	route   atomic.Value // string
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying ri.
func WithRequestInfo(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// Info returns the *RequestInfo of the request whose context ctx is, or
// nil outside a request.
func Info(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}

// SetRoute records the route ID of the request of ctx (for the metrics and
// the access log); a protocol package calls it once it has parsed the
// request.
func SetRoute(ctx context.Context, route string) {
	if ri := Info(ctx); ri != nil {
		ri.route.Store(route)
	}
}

// RouteOr returns the route ID recorded for ri, or fallback.
func (ri *RequestInfo) RouteOr(fallback string) string {
	if v, ok := ri.route.Load().(string); ok && v != "" {
		return v
	}
	return fallback
}
