package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/spec/oci"
)

// The hostile inputs of issue 9 (availability): numbers that overflow,
// paths that crash the router, bodies that end early or trickle, handler
// panics. Each answers a 4xx (or a 500 for the panic) in the protocol's
// error format, promptly, and leaves the server serving.

// TestHostileNumbers: client-supplied numbers at the edge of int64 are
// clear 4xx answers, never an overflow.
func TestHostileNumbers(t *testing.T) {
	for _, bucket := range []string{"mem", "file"} {
		t.Run(bucket, func(t *testing.T) {
			url := "mem://"
			if bucket == "file" {
				url, _ = fileBucket(t)
			}
			meta := memmeta.New()
			base := newServer(t, meta, url, server.WithQuota(quota.New(meta, quota.WithDefault(1<<20))))
			const maxInt64 = "9223372036854775807"

			// PATCH and PUT with a Content-Range whose length overflows:
			// 416 with the session's Range (it used to panic in the
			// hashing copy and hang).
			for _, cr := range []string{"0-" + maxInt64, "bytes 0-" + maxInt64 + "/*", maxInt64 + "-" + maxInt64} {
				loc := startUpload(t, base, "hostile/numbers")
				for _, method := range []string{http.MethodPatch, http.MethodPut} {
					target := loc
					if method == http.MethodPut {
						target += "?digest=" + digest.FromString("x").String()
					}
					resp, body := rawRequest(t, base, fmt.Sprintf("%s %s HTTP/1.1\r\nContent-Range: %s\r\nContent-Length: 1", method, target, cr), []byte("x"), false)
					expectFormat(t, method, loc, resp, body, http.StatusRequestedRangeNotSatisfiable, string(oci.CodeBlobUploadInvalid))
					if got := resp.Header.Get("Range"); got != "0-0" {
						t.Fatalf("%s Content-Range %s: Range %q, want the session's 0-0", method, cr, got)
					}
				}
				// The session is intact and usable.
				if resp := patch(t, base, loc, 0, []byte("ok")); resp.StatusCode != http.StatusAccepted {
					t.Fatalf("PATCH after the hostile ones: %d", resp.StatusCode)
				}
			}

			// A Content-Length that overflows the session's size plus the
			// chunk is checked against the quota, not wrapped around it.
			loc := startUpload(t, base, "hostile/numbers")
			if resp := patch(t, base, loc, 0, []byte("a")); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first PATCH: %d", resp.StatusCode)
			}
			resp, body := rawRequest(t, base, "PATCH "+loc+" HTTP/1.1\r\nContent-Length: "+maxInt64, []byte("b"), true)
			expectFormat(t, "PATCH", loc, resp, body, http.StatusForbidden, string(oci.CodeDenied))

			// Generic resumable upload with the same Content-Range: 416.
			file := "/api/packages/o/generic/n/1/f.bin"
			resp, body = do(t, "POST", base+file+"/uploads", nil)
			gloc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("generic upload start: %d %s", resp.StatusCode, body)
			}
			resp, body = rawRequest(t, base, "PATCH "+gloc+" HTTP/1.1\r\nContent-Range: 0-"+maxInt64+"\r\nContent-Length: 1", []byte("x"), false)
			expectFormat(t, "PATCH", gloc, resp, body, http.StatusRequestedRangeNotSatisfiable, "")

			// Pagination numbers beyond what a page can be.
			for _, tt := range []struct {
				path   string
				status int
				code   string
			}{
				{"/v2/hostile/numbers/tags/list?n=" + maxInt64, 400, string(oci.CodePaginationNumberInvalid)},
				{"/v2/_catalog?n=" + maxInt64, 400, string(oci.CodePaginationNumberInvalid)},
				{"/v2/_catalog?last=a&n=2147483647", 400, string(oci.CodePaginationNumberInvalid)},
				{"/api/v1/packages/o?page=1073741824", 400, ""},
				{"/api/v1/packages/o?limit=" + maxInt64, 400, ""},
				{"/api/v1/packages/o/generic/n?page=" + maxInt64 + "&limit=50", 400, ""},
			} {
				resp, body := do(t, http.MethodGet, base+tt.path, nil)
				path, _, _ := strings.Cut(tt.path, "?")
				expectFormat(t, "GET", path, resp, body, tt.status, tt.code)
			}
		})
	}
}

// TestControlCharacterPaths: a path with a control character (once
// percent-decoded) is refused with 400 in its protocol's format before
// routing; a segment starting with NUL used to panic inside bunrouter.
func TestControlCharacterPaths(t *testing.T) {
	for _, withAuth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", withAuth), func(t *testing.T) {
			base := newServer(t, memmeta.New(), "mem://")
			if withAuth {
				base = newAuthServer(t, memmeta.New(), "", nil, nil).base
			}
			for _, p := range []string{
				"/v2/%00", "/v2/%00/manifests/latest", "/v2/a/%00b/tags/list", "/v2/a/manifests/%00",
				"/v2/a/blobs/uploads/%00", "/v2/a%01b/blobs/uploads/", "/v2/a/manifests/v%7f", "/v2/a/manifests/v%0a",
				"/api/packages/%00/generic/n/v/f", "/api/packages/o/generic/%00/v/f", "/api/packages/o/generic/n/v/%1f",
				"/api/packages/%00", "/api/v1/packages/%00", "/api/v1/packages/o/generic/n/%00/files",
				"/api/v1/users/%00/tokens", "/api/v1/%00", "/%00", "/v2%00",
			} {
				for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete} {
					resp, body := do(t, method, base+p, nil)
					decoded := strings.ReplaceAll(p, "%", "") // only the prefix matters for the format
					expectFormat(t, method, decoded, resp, body, http.StatusBadRequest, string(oci.CodePathInvalid))
				}
			}
			// The server still serves.
			if resp, body := do(t, http.MethodGet, base+"/v2/_catalog", nil); resp.StatusCode >= 500 {
				t.Fatalf("catalog after the hostile paths: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestTruncatedBodies: a body that ends before its Content-Length (or
// whose chunked encoding breaks) is the client's error, 400 in the
// protocol's format, logged as no error; nothing of it is stored and an
// upload session stays as it was.
func TestTruncatedBodies(t *testing.T) {
	for _, bucket := range []string{"mem", "file"} {
		t.Run(bucket, func(t *testing.T) {
			url := "mem://"
			if bucket == "file" {
				url, _ = fileBucket(t)
			}
			var logs logBuffer
			base := newServer(t, memmeta.New(), url, server.WithLogger(logs.logger()))
			half := bytes.Repeat([]byte("h"), 50)
			d := digest.FromBytes(bytes.Repeat([]byte("h"), 100))
			loc := startUpload(t, base, "cut/body")
			for _, tt := range []struct {
				name, head, path string
				body             []byte
				code             string
			}{
				{"PATCH streamed", "PATCH " + loc + " HTTP/1.1\r\nContent-Length: 100", loc, half, string(oci.CodeBlobUploadInvalid)},
				{"PATCH with Content-Range", "PATCH " + loc + " HTTP/1.1\r\nContent-Range: 0-99\r\nContent-Length: 100", loc, half, string(oci.CodeBlobUploadInvalid)},
				{"PATCH broken chunked", "PATCH " + loc + " HTTP/1.1\r\nTransfer-Encoding: chunked", loc, []byte("5\r\nhello\r\nzz\r\n"), string(oci.CodeBlobUploadInvalid)},
				{"PUT finish", "PUT " + loc + "?digest=" + d.String() + " HTTP/1.1\r\nContent-Length: 100", loc, half, string(oci.CodeBlobUploadInvalid)},
				{"POST monolithic", "POST /v2/cut/body/blobs/uploads/?digest=" + d.String() + " HTTP/1.1\r\nContent-Length: 100", "/v2/cut/body/blobs/uploads/", half, string(oci.CodeBlobUploadInvalid)},
				{"POST monolithic huge", "POST /v2/cut/body/blobs/uploads/?digest=" + d.String() + " HTTP/1.1\r\nContent-Length: 9223372036854775807", "/v2/cut/body/blobs/uploads/", half, ""},
				{"manifest PUT", "PUT /v2/cut/body/manifests/v1 HTTP/1.1\r\nContent-Type: " + oci.MediaTypeImageManifest + "\r\nContent-Length: 100", "/v2/cut/body/manifests/v1", half, string(oci.CodeManifestInvalid)},
				{"generic PUT", "PUT /api/packages/o/generic/cut/1/f HTTP/1.1\r\nContent-Length: 100", "/api/packages/o/generic/cut/1/f", half, ""},
			} {
				resp, body := rawRequest(t, base, tt.head, tt.body, true)
				expectFormat(t, tt.name, tt.path, resp, body, http.StatusBadRequest, tt.code)
			}
			// The session is unchanged and goes on.
			resp, _ := do(t, http.MethodGet, base+loc, nil)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-0" {
				t.Fatalf("session after the cut chunks: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
			}
			if resp := patch(t, base, loc, 0, bytes.Repeat([]byte("h"), 100)); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH after the cut chunks: %d", resp.StatusCode)
			}
			// Nothing was stored by the cut monolithic upload.
			if resp, _ := do(t, http.MethodHead, base+"/v2/cut/body/blobs/"+d.String(), nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("HEAD of the cut blob: %d, want 404", resp.StatusCode)
			}
			if errs := logs.errors(); len(errs) > 0 {
				t.Fatalf("cut bodies logged errors:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

// TestSlowBodies: a body slower than the minimum rate fails with 408
// after one window, in the protocol's format; the upload session is
// unchanged and not leased (the next chunk goes in at once); a body that
// keeps the rate may take many windows.
func TestSlowBodies(t *testing.T) {
	const window = 500 * time.Millisecond
	for _, bucket := range []string{"mem", "file"} {
		t.Run(bucket, func(t *testing.T) {
			url := "mem://"
			if bucket == "file" {
				url, _ = fileBucket(t)
			}
			var logs logBuffer
			base := newServer(t, memmeta.New(), url, server.WithMinBodyRate(1024, window), server.WithLogger(logs.logger()))
			loc := startUpload(t, base, "slow/body")
			if resp := patch(t, base, loc, 0, []byte("0123456789")); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first PATCH: %d", resp.StatusCode)
			}
			resp, _ := do(t, "POST", base+"/api/packages/o/generic/slow/1/f/uploads", nil)
			gloc := resp.Header.Get("Location")
			d := digest.FromString("x")
			for _, tt := range []struct {
				name, head, path string
				code             string
			}{
				{"PATCH", "PATCH " + loc + " HTTP/1.1\r\nContent-Range: 10-1048585\r\nContent-Length: 1048576", loc, string(oci.CodeBlobUploadInvalid)},
				{"PATCH streamed", "PATCH " + loc + " HTTP/1.1\r\nTransfer-Encoding: chunked", loc, string(oci.CodeBlobUploadInvalid)},
				{"PUT finish", "PUT " + loc + "?digest=" + d.String() + " HTTP/1.1\r\nContent-Length: 1048576", loc, string(oci.CodeBlobUploadInvalid)},
				{"POST monolithic", "POST /v2/slow/body/blobs/uploads/?digest=" + d.String() + " HTTP/1.1\r\nContent-Length: 1048576", "/v2/slow/body/blobs/uploads/", string(oci.CodeBlobUploadInvalid)},
				{"manifest PUT", "PUT /v2/slow/body/manifests/v1 HTTP/1.1\r\nContent-Type: " + oci.MediaTypeImageManifest + "\r\nContent-Length: 4096", "/v2/slow/body/manifests/v1", string(oci.CodeManifestInvalid)},
				{"generic PUT", "PUT /api/packages/o/generic/slow/1/g HTTP/1.1\r\nContent-Length: 1048576", "/api/packages/o/generic/slow/1/g", ""},
				{"generic PATCH", "PATCH " + gloc + " HTTP/1.1\r\nContent-Length: 1048576", gloc, ""},
			} {
				first := []byte("x")
				if strings.Contains(tt.head, "chunked") {
					first = []byte("1\r\nx\r\n")
				}
				// One byte, then nothing: the connection stays open.
				resp, body := rawRequest(t, base, tt.head, first, false)
				expectFormat(t, tt.name, tt.path, resp, body, http.StatusRequestTimeout, tt.code)
			}
			// The session kept its 10 bytes and is free: the next chunk
			// goes in at once.
			resp, _ = do(t, http.MethodGet, base+loc, nil)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-9" {
				t.Fatalf("session after the slow chunks: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
			}
			if resp := patch(t, base, loc, 10, []byte("abc")); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH after the slow chunks: %d", resp.StatusCode)
			}

			// A steady body well above the rate, lasting three windows.
			pr, pw := io.Pipe()
			go func() {
				chunk := bytes.Repeat([]byte("s"), 4096)
				for end := time.Now().Add(3 * window); time.Now().Before(end); {
					if _, err := pw.Write(chunk); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				_ = pw.Close()
			}()
			resp, body := do(t, http.MethodPatch, base+loc, pr)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("steady PATCH: %d %s", resp.StatusCode, body)
			}
			if errs := logs.errors(); len(errs) > 0 {
				t.Fatalf("slow bodies logged errors:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

// panicStore is a metadata store whose manifest, package file and
// package listing lookups (by version and by owner) panic with v.
type panicStore struct {
	*memmeta.Store
	v any
}

func (p panicStore) GetManifest(context.Context, string, string) (metadata.Manifest, error) {
	panic(p.v)
}

// GetManifestHead is what a manifest GET calls.
func (p panicStore) GetManifestHead(context.Context, string, string) (metadata.Manifest, error) {
	panic(p.v)
}

func (p panicStore) GetPackageFile(context.Context, metadata.PackageRef, string) (metadata.PackageFile, error) {
	panic(p.v)
}

func (p panicStore) ListPackageVersions(context.Context, string, metadata.PackageFilter, int, int) ([]metadata.PackageVersion, int, error) {
	panic(p.v)
}

func (p panicStore) ListOwner(context.Context, string, metadata.OwnerFilter, int, int) ([]metadata.OwnerItem, int, error) {
	panic(p.v)
}

// TestHandlerPanics: a panic in a handler of any protocol answers 500 in
// that protocol's format, is logged with its stack, and the server goes
// on serving; http.ErrAbortHandler still aborts the response.
func TestHandlerPanics(t *testing.T) {
	var logs logBuffer
	base := newServer(t, panicStore{memmeta.New(), "boom in the store"}, "mem://", server.WithLogger(logs.logger()))
	for _, p := range []string{"/v2/r/manifests/v1", "/api/packages/o/generic/n/1/f", "/api/v1/packages/o"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			if method == http.MethodHead && strings.HasPrefix(p, "/api/v1/") {
				continue // the management API has no HEAD
			}
			resp, body := do(t, method, base+p, nil)
			expectFormat(t, method, p, resp, body, http.StatusInternalServerError, string(oci.CodeUnknown))
			if strings.Contains(string(body), "boom") {
				t.Fatalf("%s: the panic leaked into the response: %s", p, body)
			}
		}
	}
	out := logs.String()
	if !strings.Contains(out, "panic serving request") || !strings.Contains(out, "boom in the store") || !strings.Contains(out, "goroutine ") {
		t.Fatalf("panics not logged with their stack:\n%s", out)
	}
	if resp, _ := do(t, http.MethodGet, base+"/v2/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ after the panics: %d", resp.StatusCode)
	}

	abort := newServer(t, panicStore{memmeta.New(), http.ErrAbortHandler}, "mem://", server.WithLogger(quiet()))
	req, _ := http.NewRequest(http.MethodGet, abort+"/v2/r/manifests/v1", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("http.ErrAbortHandler answered %d; want the response aborted", resp.StatusCode)
	}
}
