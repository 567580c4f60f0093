package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/regkit/regkit/server/core"
)

// Request IDs and per-request bookkeeping.
//
// guard calls begin for every request: it takes the client's X-Request-Id
// when it is sane (1–64 characters of letters, digits and "-_.:/+=",
// as proxies and clients generate them) or makes a new one (16 random
// bytes in hex), sends it back in the X-Request-Id response header, and
// keeps it with the request's route and byte counts in the request
// context (a *core.RequestInfo). Every log line written with that context carries
// it as request_id once the logger's handler is wrapped with
// LogHandler.

// RequestIDHeader is the header carrying a request's ID, both ways.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen is the longest incoming request ID honoured.
const maxRequestIDLen = 64

// RequestID returns the ID of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string {
	if ri := core.Info(ctx); ri != nil {
		return ri.ID
	}
	return ""
}

// saneRequestID reports whether an incoming request ID is kept.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns a fresh random request ID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// begin starts the bookkeeping of r: its request ID (header and
// context) and its *core.RequestInfo. It returns r with the new context.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(RequestIDHeader)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(core.WithRequestInfo(r.Context(), &core.RequestInfo{ID: id, Start: time.Now()}))
}

// LogHandler wraps h so that every record logged with a request's
// context carries the request's ID as the attribute request_id.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

// WithAttrs implements slog.Handler.
func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
