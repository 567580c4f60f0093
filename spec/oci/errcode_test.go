package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCodes(t *testing.T) {
	want := map[Code]int{
		"BLOB_UNKNOWN": 404, "BLOB_UPLOAD_INVALID": 400, "BLOB_UPLOAD_UNKNOWN": 404,
		"DIGEST_INVALID": 400, "MANIFEST_BLOB_UNKNOWN": 400, "MANIFEST_INVALID": 400,
		"MANIFEST_UNKNOWN": 404, "NAME_INVALID": 400, "NAME_UNKNOWN": 404, "SIZE_INVALID": 400,
		"UNAUTHORIZED": 401, "DENIED": 403, "UNSUPPORTED": 405, "TOOMANYREQUESTS": 429,
		"RANGE_INVALID": 416, "PAGINATION_NUMBER_INVALID": 400, "NOT_FOUND": 404, "UNKNOWN": 500,
		"PATH_INVALID": 400, "UNAVAILABLE": 503,
	}
	if got := Codes(); len(got) != len(want) {
		t.Errorf("Codes() = %v", got)
	}
	for c, s := range want {
		if c.Status() != s || c.Description() == "" {
			t.Errorf("%s: status %d, description %q", c, c.Status(), c.Description())
		}
	}
	if Code("NOPE").Status() != 500 || Code("NOPE").Description() != "" {
		t.Error("unknown code")
	}
	sentinels := []*Error{ErrBlobUnknown, ErrBlobUploadInvalid, ErrBlobUploadUnknown, ErrDigestInvalid,
		ErrManifestBlobUnknown, ErrManifestInvalid, ErrManifestUnknown, ErrNameInvalid, ErrNameUnknown,
		ErrSizeInvalid, ErrUnauthorized, ErrDenied, ErrUnsupported, ErrTooManyRequests, ErrRangeInvalid,
		ErrPaginationNumberInvalid, ErrNotFound, ErrPathInvalid, ErrUnavailable, ErrUnknown}
	seen := map[Code]bool{}
	for _, s := range sentinels {
		if seen[s.Code] || want[s.Code] == 0 || s.HTTPStatus() != want[s.Code] {
			t.Errorf("sentinel %v", s)
		}
		seen[s.Code] = true
	}
}

func TestError(t *testing.T) {
	e := CodeBlobUnknown.Errorf("blob %s is unknown", "sha256:x")
	if e.Error() != "BLOB_UNKNOWN: blob sha256:x is unknown" {
		t.Errorf("Error() = %q", e.Error())
	}
	if (&Error{Code: CodeDenied}).Error() != "DENIED: requested access to the resource is denied" {
		t.Error("description fallback")
	}
	if (&Error{Code: "X"}).Error() != "X" {
		t.Error("bare code")
	}
	wrapped := fmt.Errorf("push: %w", e)
	if !errors.Is(wrapped, ErrBlobUnknown) || errors.Is(wrapped, ErrManifestUnknown) {
		t.Error("errors.Is")
	}
	if e.Is(nil) || e.Is(errors.New("BLOB_UNKNOWN")) {
		t.Error("Is with non-*Error")
	}
	big := CodeSizeInvalid.Errorf("manifest too large").WithStatus(http.StatusRequestEntityTooLarge)
	if big.HTTPStatus() != 413 || ErrSizeInvalid.HTTPStatus() != 400 {
		t.Error("WithStatus")
	}
	d := ErrBlobUnknown.WithDetail(map[string]string{"digest": "x"})
	if d.Detail == nil || ErrBlobUnknown.Detail != nil {
		t.Error("WithDetail must copy")
	}
	if m := ErrBlobUnknown.WithMessage("m %d", 1); m.Message != "m 1" || ErrBlobUnknown.Message != ErrBlobUnknown.Code.Description() {
		t.Error("WithMessage must copy")
	}
	b, err := json.Marshal(Errors{Errors: []*Error{big, d}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"errors":[{"code":"SIZE_INVALID","message":"manifest too large"},{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":{"digest":"x"}}]}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   Code
		msg    string
	}{
		{"oci", 404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no such tag","detail":{"Tag":"x"}}]}`, CodeManifestUnknown, "no such tag"},
		{"two errors", 400, `{"errors":[{"code":"NAME_INVALID","message":"a"},{"code":"DIGEST_INVALID","message":"b"}]}`, CodeNameInvalid, "a; DIGEST_INVALID: b"},
		{"unknown code", 418, `{"errors":[{"code":"TEAPOT","message":"short and stout"}]}`, "TEAPOT", "short and stout"},
		{"empty 404", 404, ``, CodeNotFound, "registry answered 404 Not Found"},
		{"html 401", 401, "<html>\n  login  </html>", CodeUnauthorized, "registry answered 401 Unauthorized: <html> login </html>"},
		{"empty errors", 403, `{"errors":[]}`, CodeDenied, `{"errors":[]}`},
		{"null error", 429, `{"errors":[null]}`, CodeTooManyRequests, ""},
		{"500", 502, `bad gateway`, CodeUnknown, "502 Bad Gateway: bad gateway"},
		{"405", 405, ``, CodeUnsupported, ""},
		{"416", 416, ``, CodeRangeInvalid, ""},
		{"binary", 500, "\xff\xfe\x00", CodeUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodeErrors(tt.status, []byte(tt.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v", err, err)
			}
			if e.Code != tt.code || e.HTTPStatus() != tt.status {
				t.Errorf("got %s (%d), want %s (%d)", e.Code, e.HTTPStatus(), tt.code, tt.status)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q, want %q", e.Message, tt.msg)
			}
			if !errors.Is(err, &Error{Code: tt.code}) {
				t.Error("errors.Is")
			}
		})
	}
	// Round trip: what a server sends, a client decodes to the same error.
	sent := CodeBlobUploadUnknown.Errorf("upload %q is unknown", "u")
	body, _ := json.Marshal(Errors{Errors: []*Error{sent}})
	got := DecodeErrors(sent.HTTPStatus(), body)
	if !errors.Is(got, ErrBlobUploadUnknown) || got.Error() != sent.Error() {
		t.Errorf("round trip: %v", got)
	}
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	if e := DecodeErrors(500, long).(*Error); len(e.Message) > 300 {
		t.Errorf("long body message: %d bytes", len(e.Message))
	}
}
