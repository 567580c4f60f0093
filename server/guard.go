package server

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// guard is the outermost layer of every request, around routing: it
// rejects paths no route can name before the router sees them, wraps the
// request body (see body.go), and recovers a panic of anything below it —
// the router included — into a 500 in the protocol's error format.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w, status: http.StatusOK, pace: s.newPace(w)}
	defer rw.pace.finish()
	r = s.begin(rw, r)     // requestid.go: X-Request-Id, request context
	defer s.track(rw, r)() // metrics.go
	defer s.recoverPanic(rw, r)
	if c, ok := controlChar(r.URL.Path); ok {
		// bunrouter panics on some of these (a segment starting with NUL);
		// none can be part of a name, tag, digest, version or filename.
		s.writeEarly(rw, r, http.StatusBadRequest, oci.CodePathInvalid,
			fmt.Sprintf("the request path contains the control character %q (once percent-decoded); no repository, reference, owner, package, version or filename may contain one", c))
		return
	}
	s.router.ServeHTTP(rw, s.wrapBody(rw, r))
}

// controlChar returns the first ASCII control character (0x00–0x1f,
// 0x7f) of the decoded path p.
func controlChar(p string) (rune, bool) {
	if i := strings.IndexFunc(p, func(c rune) bool { return c < 0x20 || c == 0x7f }); i >= 0 {
		return rune(p[i]), true
	}
	return 0, false
}

// recoverPanic, deferred by guard, turns a panic into a logged 500 in the
// protocol's format (the deferred functions of the panicking handler have
// run by then, releasing what they held). When the response has started
// already, the connection is aborted instead, so the client sees a broken
// response rather than a complete-looking one. http.ErrAbortHandler is
// passed on: it asks net/http to abort the response quietly.
func (s *Server) recoverPanic(w *responseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(http.ErrAbortHandler)
	}
	s.opts.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	// Whatever is left of the request body is not read: net/http would
	// try to drain it before answering (or closing), and a stalled client
	// must not hold the connection.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	if w.wroteHeader {
		panic(http.ErrAbortHandler)
	}
	clear(w.Header())
	w.Header().Set("Connection", "close")
	s.writeEarly(w, r, http.StatusInternalServerError, oci.CodeUnknown, "internal server error")
}

// writeEarly writes an error for a request that has no route (yet) in the
// format of its path's protocol: plain text under /api/packages, JSON
// {"message","url"} under /api/v1, OCI JSON everywhere else (as the
// router's not-found answers).
func (s *Server) writeEarly(w http.ResponseWriter, r *http.Request, status int, code oci.Code, msg string) {
	if isAPIPath(r.URL.Path) {
		s.generic.WriteError(w, r, generic.Errorf(status, "%s", msg))
		return
	}
	s.writeError(w, r, code.Errorf("%s", msg).WithStatus(status))
}

// isAPIPath reports whether p is under /api/packages or /api/v1, whose
// errors are written by writeGenericError.
func isAPIPath(p string) bool {
	for _, prefix := range []string{generic.PackagesPrefix, "/api/v1/"} {
		if strings.HasPrefix(p, prefix) || p == strings.TrimSuffix(prefix, "/") {
			return true
		}
	}
	return false
}
