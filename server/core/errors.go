package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// InsufficientScope is the 403 message of a bearer token of /v2/token
// used outside /v2.
const InsufficientScope = "the bearer token does not cover this request: a token of /v2/token covers only the /v2 repositories it names; use a personal or deploy token here"

// APIError is an error of the /api/v1 account and token API, with the
// status and message to answer.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Msg is the message of the JSON body.
	Msg string
}

// Error implements error.
func (e *APIError) Error() string { return e.Msg }

// APIErrorf returns an *APIError with status and the formatted message.
func APIErrorf(status int, format string, args ...any) error {
	return &APIError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// WriteAPIError writes err in Gitea's /api/v1 error format, JSON
// {"message","url"}, with its status: an *APIError as it is, the auth and
// metadata errors mapped to 401, 403, 404 and 429, anything else a logged
// 500. A 401 carries WWW-Authenticate: Basic with realm. An unavailable
// metadata store is written by unavailable (503 with Retry-After, in the
// path's format).
func WriteAPIError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger, realm string, unavailable func(http.ResponseWriter, *http.Request, error)) {
	status, msg := http.StatusInternalServerError, "internal server error"
	var ae *APIError
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.Status, ae.Msg
	case errors.As(err, &rl):
		status, msg = http.StatusTooManyRequests, rl.Error()
		w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfterSeconds()))
	case errors.Is(err, auth.ErrMalformedCredentials), errors.Is(err, auth.ErrInvalidCredentials):
		status, msg = http.StatusUnauthorized, "invalid, expired or revoked credentials"
	case errors.Is(err, auth.ErrInsufficientScope):
		status, msg = http.StatusForbidden, InsufficientScope
	case errors.Is(err, auth.ErrUnauthenticated):
		status, msg = http.StatusUnauthorized, "authentication required"
	case errors.Is(err, auth.ErrDenied):
		status, msg = http.StatusForbidden, "access denied"
		if _, detail, ok := strings.Cut(err.Error(), auth.ErrDenied.Error()+": "); ok {
			msg = detail
		}
	case errors.Is(err, auth.ErrInvalidRequest):
		status, msg = http.StatusBadRequest, strings.TrimPrefix(err.Error(), auth.ErrInvalidRequest.Error()+": ")
	case errors.Is(err, metadata.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, metadata.ErrUnavailable):
		unavailable(w, r, err)
		return
	default:
		log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", realm))
	}
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
		URL     string `json:"url"`
	}{msg, BaseURL(r) + r.URL.Path})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// ClipText returns s cut to n bytes, with an ellipsis when cut, for
// quoting client input in messages.
func ClipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
