package generic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error is an error response of either API. The generic package API sends
// it as plain text (its Message), the management API as JSON
// {"message": "...", "url": "..."} (see Format and Body). It is also an
// error value; errors.Is compares statuses, so errors.Is(err, ErrNotFound)
// holds for any 404.
type Error struct {
	// Status is the HTTP status.
	Status int `json:"-"`
	// Message is a human-readable explanation. It never contains secrets.
	Message string `json:"message"`
	// URL points at documentation; Gitea fills it with its API docs.
	URL string `json:"url"`
	// Field names the invalid request field ("owner", "name", "version",
	// "filename", "type", "page", "limit", ...) of a 400, if any.
	Field string `json:"-"`
}

// DocsURL is the URL regkit puts into JSON error bodies.
const DocsURL = "https://github.com/regkit/regkit/blob/main/README.md#generic-packages"

// Errorf returns a new *Error with status and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...), URL: DocsURL}
}

// Error returns "<status text>: <message>".
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is reports whether target is an *Error with the same Status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Status == e.Status
}

// HTTPStatus returns Status, or 500 when it is not an error status.
func (e *Error) HTTPStatus() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// WithField returns a copy of e naming the invalid field.
func (e *Error) WithField(f string) *Error {
	c := *e
	c.Field = f
	return &c
}

// Body returns the response body and its Content-Type in format f.
func (e *Error) Body(f Format) (body []byte, contentType string) {
	if f == FormatJSON {
		c := *e
		if c.URL == "" {
			c.URL = DocsURL
		}
		b, _ := json.Marshal(c)
		return b, "application/json; charset=utf-8"
	}
	return []byte(e.Message + "\n"), "text/plain; charset=utf-8"
}

// Sentinel errors, one per status, for errors.Is. Do not modify them.
var (
	// ErrBadRequest matches any 400.
	ErrBadRequest = &Error{Status: http.StatusBadRequest, Message: "bad request"}
	// ErrUnauthorized matches any 401.
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Message: "unauthorized"}
	// ErrForbidden matches any 403 (permission, size limit or quota).
	ErrForbidden = &Error{Status: http.StatusForbidden, Message: "forbidden"}
	// ErrNotFound matches any 404.
	ErrNotFound = &Error{Status: http.StatusNotFound, Message: "not found"}
	// ErrMethodNotAllowed matches any 405.
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed"}
	// ErrConflict matches any 409 (duplicate file, non-SemVer version of a
	// SemVer package).
	ErrConflict = &Error{Status: http.StatusConflict, Message: "conflict"}
	// ErrRangeNotSatisfiable matches any 416.
	ErrRangeNotSatisfiable = &Error{Status: http.StatusRequestedRangeNotSatisfiable, Message: "range not satisfiable"}
)

// DecodeError turns an error response into an *Error: the message of a
// JSON body, else the body's text (trimmed, at most 512 bytes).
func DecodeError(status int, body []byte) *Error {
	var e Error
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		e.Status = status
		return &e
	}
	if len(body) > 512 {
		body = body[:512]
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(body), ""))
	if msg == "" || !utf8.ValidString(msg) {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Message: msg}
}
