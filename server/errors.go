package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r bunrouter.Request) error

// errors turns h into a bunrouter handler; it is the one place where error
// responses are written, in the OCI JSON format.
func (s *Server) errors(h handlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, r bunrouter.Request) error {
		err := h(w, r)
		if err == nil {
			return nil
		}
		s.writeError(w, r.Request, err)
		return nil
	}
}

// writeError writes err as an OCI error response. Errors that are not
// *oci.Error are classified: an unreachable metadata store is a 503
// UNAVAILABLE with Retry-After, a request body that could not be read is
// the client's (400, or 408 when too slow; see body.go), anything else is
// internal: logged and answered with a 500 that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oci.Error
	if !errors.As(err, &oe) {
		switch {
		case errors.Is(err, metadata.ErrUnavailable):
			oe = oci.CodeUnavailable.Errorf("%s", s.unavailable(r, err))
		case errors.Is(err, storage.ErrBuffersBusy):
			oe = oci.CodeUnavailable.Errorf("%s", buffersBusy)
		case errors.Is(err, syscall.ENOSPC):
			s.opts.log.ErrorContext(r.Context(), "storage full", "method", r.Method, "path", r.URL.Path, "err", err)
			oe = oci.CodeUnknown.Errorf("%s", errNoSpace).WithStatus(http.StatusInsufficientStorage)
		case core.OCIBodyError(err, oci.CodeBlobUploadInvalid) != nil:
			oe = core.OCIBodyError(err, oci.CodeBlobUploadInvalid)
		case storage.IsUnavailable(err), errors.Is(err, registry.ErrUnavailable):
			oe = oci.CodeUnavailable.Errorf("%s", s.bucketUnavailable(r, err))
		case clientGone(r, err):
			s.opts.log.DebugContext(r.Context(), "request canceled by the client", "method", r.Method, "path", r.URL.Path, "err", err)
			oe = oci.CodeUnknown.Errorf("the request was canceled").WithStatus(StatusClientClosedRequest)
		default:
			s.opts.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			oe = &oci.Error{Code: oci.CodeUnknown, Message: "internal server error", Status: http.StatusInternalServerError}
		}
	}
	if oe.HTTPStatus() == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
	}
	if core.Started(w) {
		// Headers are gone already (the body failed midway): nothing to
		// add; the client sees a truncated body.
		s.opts.log.WarnContext(r.Context(), "error after response started", "path", r.URL.Path, "err", err)
		return
	}
	body, _ := json.Marshal(oci.Errors{Errors: []*oci.Error{oe}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del(oci.DockerContentDigest)
	w.WriteHeader(oe.HTTPStatus())
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// StatusClientClosedRequest is the status recorded for a request whose
// client went away before it was answered (core's: 499).
const StatusClientClosedRequest = core.StatusClientClosedRequest

// clientGone, errNoSpace and buffersBusy are core's.
var clientGone = core.ClientGone

const (
	errNoSpace  = core.ErrNoSpace
	buffersBusy = core.BuffersBusy
)

// notFound answers paths outside every route, in the format of the
// path's protocol (OCI JSON outside /api).
func (s *Server) notFound(w http.ResponseWriter, r bunrouter.Request) error {
	s.writeEarly(w, r.Request, http.StatusNotFound, oci.CodeNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	return nil
}

// responseWriter records the status and size for the access log. It keeps
// io.ReaderFrom so file-backed blob bodies still go out with sendfile.
type responseWriter struct {
	http.ResponseWriter
	status      int
	written     int64
	wroteHeader bool
	pace        pace // the download rate check (download.go)
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var (
		n   int
		err error
	)
	if w.pace.on {
		n, err = w.pace.write(w.ResponseWriter, p)
	} else {
		n, err = w.ResponseWriter.Write(p)
	}
	w.written += int64(n)
	return n, err
}

// ReadFrom lets io.Copy reach the connection's sendfile path.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var (
		n   int64
		err error
	)
	if w.pace.on {
		n, err = w.pace.copy(w.ResponseWriter, r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r) // the writer's ReadFrom: sendfile for a file
	}
	w.written += n
	return n, err
}

// Started reports whether the status is sent (see core.Started).
func (w *responseWriter) Started() bool { return w.wroteHeader }

// Unwrap gives http.ResponseController the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RetryAfterUnavailable is the Retry-After, in seconds, of the 503 that
// answers a request while the metadata store is unreachable (core's).
const RetryAfterUnavailable = core.RetryAfterUnavailable

func (s *Server) bucketUnavailable(r *http.Request, err error) string {
	return core.BucketUnavailable(s.opts.log, r, err)
}

func (s *Server) unavailable(r *http.Request, err error) string {
	return core.MetadataUnavailable(s.opts.log, r, err)
}

// logRequests is the access-log middleware. It logs the path without the
// query string, which may carry credentials. Server errors are logged as
// errors, except 503 (an unreachable store, logged once as a warning by
// the error writers), which is a warning.
func (s *Server) logRequests(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, r bunrouter.Request) error {
		start := time.Now()
		rw, ok := w.(*responseWriter)
		if !ok {
			rw = &responseWriter{ResponseWriter: w, status: http.StatusOK}
		}
		err := next(rw, r)
		level := slog.LevelDebug
		if s.opts.accessLog {
			level = slog.LevelInfo
		}
		switch {
		case rw.status == http.StatusServiceUnavailable:
			level = slog.LevelWarn
		case rw.status >= 500:
			level = slog.LevelError
		}
		if ctx := r.Context(); s.opts.log.Enabled(ctx, level) {
			s.opts.log.Log(ctx, level, "request",
				"method", r.Method, "path", r.URL.Path, "route", routeLabel(ctx, r.URL.Path), "status", rw.status,
				"bytes", rw.written, "duration", time.Since(start), "client", s.clientIP(r.Request))
		}
		return err
	}
}
