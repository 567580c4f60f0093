package oci

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// Code is an OCI error code, as sent in the "code" field of an error body.
type Code string

// Error codes of the OCI Distribution Specification, plus a few extensions
// marked as such.
const (
	// CodeBlobUnknown: blob unknown to registry (404).
	CodeBlobUnknown Code = "BLOB_UNKNOWN"
	// CodeBlobUploadInvalid: blob upload invalid (400).
	CodeBlobUploadInvalid Code = "BLOB_UPLOAD_INVALID"
	// CodeBlobUploadUnknown: blob upload unknown to registry (404).
	CodeBlobUploadUnknown Code = "BLOB_UPLOAD_UNKNOWN"
	// CodeDigestInvalid: provided digest did not match uploaded content, or
	// is malformed (400).
	CodeDigestInvalid Code = "DIGEST_INVALID"
	// CodeManifestBlobUnknown: a manifest references a blob unknown to the
	// registry (400, as CNCF Distribution answers a manifest PUT).
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	// CodeManifestInvalid: manifest invalid (400).
	CodeManifestInvalid Code = "MANIFEST_INVALID"
	// CodeManifestUnknown: manifest unknown to registry (404).
	CodeManifestUnknown Code = "MANIFEST_UNKNOWN"
	// CodeNameInvalid: invalid repository name (400).
	CodeNameInvalid Code = "NAME_INVALID"
	// CodeNameUnknown: repository name not known to registry (404).
	CodeNameUnknown Code = "NAME_UNKNOWN"
	// CodeSizeInvalid: provided length did not match content length (400).
	// A manifest that is too large is sent as SIZE_INVALID with status 413
	// (see Error.WithStatus).
	CodeSizeInvalid Code = "SIZE_INVALID"
	// CodeUnauthorized: authentication required (401).
	CodeUnauthorized Code = "UNAUTHORIZED"
	// CodeDenied: requested access to the resource is denied (403).
	CodeDenied Code = "DENIED"
	// CodeUnsupported: the operation is unsupported (405). Parse uses it,
	// with status 405, for a known path requested with a method it does
	// not allow.
	CodeUnsupported Code = "UNSUPPORTED"
	// CodeTooManyRequests: too many requests (429).
	CodeTooManyRequests Code = "TOOMANYREQUESTS"

	// CodeRangeInvalid is a regkit extension (416): the body of a 416 answer
	// to an unsatisfiable or malformed Range or Content-Range.
	CodeRangeInvalid Code = "RANGE_INVALID"
	// CodePaginationNumberInvalid is the Docker Registry code (400) for an
	// invalid ?n= pagination parameter.
	CodePaginationNumberInvalid Code = "PAGINATION_NUMBER_INVALID"
	// CodeNotFound is a regkit extension (404): the path is not an endpoint
	// of the API at all (as opposed to an unknown blob, manifest, ...).
	CodeNotFound Code = "NOT_FOUND"
	// CodePathInvalid is a regkit extension (400): the request path cannot
	// name anything (it holds a control character once percent-decoded).
	CodePathInvalid Code = "PATH_INVALID"
	// CodeUnavailable is the Docker Registry code (503) for a registry that
	// cannot serve the request now, such as when its metadata store is
	// unreachable. Such answers carry Retry-After.
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeUnknown is the Docker Registry code (500) for an unknown error.
	// DecodeErrors uses it for an error response it cannot classify.
	CodeUnknown Code = "UNKNOWN"
)

type codeInfo struct {
	status int
	desc   string
}

var codes = map[Code]codeInfo{
	CodeBlobUnknown:             {http.StatusNotFound, "blob unknown to registry"},
	CodeBlobUploadInvalid:       {http.StatusBadRequest, "blob upload invalid"},
	CodeBlobUploadUnknown:       {http.StatusNotFound, "blob upload unknown to registry"},
	CodeDigestInvalid:           {http.StatusBadRequest, "provided digest did not match uploaded content"},
	CodeManifestBlobUnknown:     {http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"},
	CodeManifestInvalid:         {http.StatusBadRequest, "manifest invalid"},
	CodeManifestUnknown:         {http.StatusNotFound, "manifest unknown to registry"},
	CodeNameInvalid:             {http.StatusBadRequest, "invalid repository name"},
	CodeNameUnknown:             {http.StatusNotFound, "repository name not known to registry"},
	CodeSizeInvalid:             {http.StatusBadRequest, "provided length did not match content length"},
	CodeUnauthorized:            {http.StatusUnauthorized, "authentication required"},
	CodeDenied:                  {http.StatusForbidden, "requested access to the resource is denied"},
	CodeUnsupported:             {http.StatusMethodNotAllowed, "the operation is unsupported"},
	CodeTooManyRequests:         {http.StatusTooManyRequests, "too many requests"},
	CodeRangeInvalid:            {http.StatusRequestedRangeNotSatisfiable, "requested range is invalid or not satisfiable"},
	CodePaginationNumberInvalid: {http.StatusBadRequest, "invalid number of results requested"},
	CodeNotFound:                {http.StatusNotFound, "no such endpoint"},
	CodePathInvalid:             {http.StatusBadRequest, "the request path is invalid"},
	CodeUnavailable:             {http.StatusServiceUnavailable, "service unavailable"},
	CodeUnknown:                 {http.StatusInternalServerError, "unknown error"},
}

// Codes returns every code this package defines, sorted.
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Status returns the HTTP status a response carrying c has by default;
// 500 for a code this package does not know.
func (c Code) Status() int {
	if i, ok := codes[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Description returns the spec's short description of c, or "" for a code
// this package does not know.
func (c Code) Description() string {
	return codes[c].desc
}

// Errorf returns a new *Error with code c and a formatted message.
func (c Code) Errorf(format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Error is one OCI error, as found in the "errors" array of an error
// response body. It is also an error value.
type Error struct {
	// Code is the OCI error code.
	Code Code `json:"code"`
	// Message is a human-readable explanation.
	Message string `json:"message"`
	// Detail is optional, unstructured additional information.
	Detail any `json:"detail,omitempty"`
	// Status, when not 0, overrides Code.Status() as the HTTP status.
	Status int `json:"-"`
}

// Error returns "CODE: message" (the code's description when there is no
// message).
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Description()
	}
	if msg == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + msg
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, ErrBlobUnknown) holds for any BLOB_UNKNOWN error, whether
// made by the server or decoded by the client.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// HTTPStatus returns Status, or Code.Status() when Status is 0.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.Status()
}

// WithDetail returns a copy of e with Detail set to d.
func (e *Error) WithDetail(d any) *Error {
	c := *e
	c.Detail = d
	return &c
}

// WithStatus returns a copy of e with Status set to s.
func (e *Error) WithStatus(s int) *Error {
	c := *e
	c.Status = s
	return &c
}

// WithMessage returns a copy of e with a formatted Message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Sentinel errors, one per code, for use with errors.Is. Their Message is the
// code's description. Do not modify them; derive new values with Errorf,
// WithMessage, WithDetail or WithStatus.
var (
	// ErrBlobUnknown matches any CodeBlobUnknown error.
	ErrBlobUnknown = sentinel(CodeBlobUnknown)
	// ErrBlobUploadInvalid matches any CodeBlobUploadInvalid error.
	ErrBlobUploadInvalid = sentinel(CodeBlobUploadInvalid)
	// ErrBlobUploadUnknown matches any CodeBlobUploadUnknown error.
	ErrBlobUploadUnknown = sentinel(CodeBlobUploadUnknown)
	// ErrDigestInvalid matches any CodeDigestInvalid error.
	ErrDigestInvalid = sentinel(CodeDigestInvalid)
	// ErrManifestBlobUnknown matches any CodeManifestBlobUnknown error.
	ErrManifestBlobUnknown = sentinel(CodeManifestBlobUnknown)
	// ErrManifestInvalid matches any CodeManifestInvalid error.
	ErrManifestInvalid = sentinel(CodeManifestInvalid)
	// ErrManifestUnknown matches any CodeManifestUnknown error.
	ErrManifestUnknown = sentinel(CodeManifestUnknown)
	// ErrNameInvalid matches any CodeNameInvalid error.
	ErrNameInvalid = sentinel(CodeNameInvalid)
	// ErrNameUnknown matches any CodeNameUnknown error.
	ErrNameUnknown = sentinel(CodeNameUnknown)
	// ErrSizeInvalid matches any CodeSizeInvalid error.
	ErrSizeInvalid = sentinel(CodeSizeInvalid)
	// ErrUnauthorized matches any CodeUnauthorized error.
	ErrUnauthorized = sentinel(CodeUnauthorized)
	// ErrDenied matches any CodeDenied error.
	ErrDenied = sentinel(CodeDenied)
	// ErrUnsupported matches any CodeUnsupported error.
	ErrUnsupported = sentinel(CodeUnsupported)
	// ErrTooManyRequests matches any CodeTooManyRequests error.
	ErrTooManyRequests = sentinel(CodeTooManyRequests)
	// ErrRangeInvalid matches any CodeRangeInvalid error.
	ErrRangeInvalid = sentinel(CodeRangeInvalid)
	// ErrPaginationNumberInvalid matches any CodePaginationNumberInvalid error.
	ErrPaginationNumberInvalid = sentinel(CodePaginationNumberInvalid)
	// ErrNotFound matches any CodeNotFound error.
	ErrNotFound = sentinel(CodeNotFound)
	// ErrPathInvalid matches any CodePathInvalid error.
	ErrPathInvalid = sentinel(CodePathInvalid)
	// ErrUnavailable matches any CodeUnavailable error.
	ErrUnavailable = sentinel(CodeUnavailable)
	// ErrUnknown matches any CodeUnknown error.
	ErrUnknown = sentinel(CodeUnknown)
)

func sentinel(c Code) *Error { return &Error{Code: c, Message: c.Description()} }

// Errors is an OCI error response body: {"errors":[...]}.
type Errors struct {
	// Errors lists the errors; a registry sends at least one.
	Errors []*Error `json:"errors"`
}

// DecodeErrors turns an error response (its HTTP status and body) into an
// error. It is meant for responses with a 4xx or 5xx status and always
// returns a non-nil *Error:
//
//   - for an OCI JSON body, its first error, with Status set to status
//     (further errors are dropped; their messages are appended to the
//     first one's message);
//   - otherwise (empty body, as for HEAD, or not OCI JSON) a generic error
//     whose Code follows from status where that is unambiguous
//     (401 UNAUTHORIZED, 403 DENIED, 404 NOT_FOUND, 405 UNSUPPORTED,
//     416 RANGE_INVALID, 429 TOOMANYREQUESTS, 503 UNAVAILABLE, else
//     UNKNOWN) and whose
//     message quotes the start of the body.
func DecodeErrors(status int, body []byte) error {
	var errs Errors
	if json.Unmarshal(body, &errs) == nil && len(errs.Errors) > 0 && errs.Errors[0] != nil && errs.Errors[0].Code != "" {
		first := *errs.Errors[0]
		first.Status = status
		for _, e := range errs.Errors[1:] {
			if e != nil {
				first.Message += "; " + e.Error()
			}
		}
		return &first
	}
	code := CodeUnknown
	switch status {
	case http.StatusUnauthorized:
		code = CodeUnauthorized
	case http.StatusForbidden:
		code = CodeDenied
	case http.StatusNotFound:
		code = CodeNotFound
	case http.StatusMethodNotAllowed:
		code = CodeUnsupported
	case http.StatusRequestedRangeNotSatisfiable:
		code = CodeRangeInvalid
	case http.StatusTooManyRequests:
		code = CodeTooManyRequests
	case http.StatusServiceUnavailable:
		code = CodeUnavailable
	}
	msg := fmt.Sprintf("registry answered %d %s", status, http.StatusText(status))
	if s := snippet(body, 200); s != "" {
		msg += ": " + s
	}
	return &Error{Code: code, Message: msg, Status: status}
}

// snippet returns up to max bytes of body as a single trimmed line, or ""
// when body is empty or not text.
func snippet(body []byte, max int) string {
	if len(body) > max {
		body = body[:max]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(body), ""))
	if s == "" || !utf8.ValidString(s) {
		return ""
	}
	s = strings.Join(strings.Fields(s), " ")
	return s
}
