package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// fuzzEnv is a fresh in-process registry (memory metadata, memory
// bucket) with a little content: a blob and a manifest tagged v1 in
// fuzz/repo, an open OCI upload session, a generic file and an open
// generic upload session. Placeholders in fuzzed targets name them:
// {blob}, {manifest}, {upload} (the OCI session ID) and {gupload} (the
// generic one).
type fuzzEnv struct {
	h            http.Handler
	placeholders *strings.Replacer
}

func newFuzzEnv(t *testing.T) *fuzzEnv {
	t.Helper()
	meta := memmeta.New()
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &fuzzEnv{h: server.New(meta, st, server.WithLogger(quiet()))}
	must := func(method, target, ct string, body []byte, status int) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != status {
			t.Fatalf("fuzz setup: %s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		return rec
	}
	config := []byte("{}")
	cd := digest.FromBytes(config)
	must("POST", "/v2/fuzz/repo/blobs/uploads/?digest="+cd.String(), "", config, 201)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`,
		oci.MediaTypeImageManifest, cd))
	must("PUT", "/v2/fuzz/repo/manifests/v1", oci.MediaTypeImageManifest, manifest, 201)
	loc := must("POST", "/v2/fuzz/repo/blobs/uploads/", "", nil, 202).Header().Get("Location")
	must("PUT", "/api/packages/o/generic/tool/1.0/f.bin", "", []byte("file"), 201)
	gloc := must("POST", "/api/packages/o/generic/tool/1.0/g.bin/uploads", "", nil, 202).Header().Get("Location")
	e.placeholders = strings.NewReplacer(
		"{blob}", cd.String(),
		"{manifest}", digest.FromBytes(manifest).String(),
		"{upload}", loc[strings.LastIndexByte(loc, '/')+1:],
		"{gupload}", gloc[strings.LastIndexByte(gloc, '/')+1:],
	)
	return e
}

// FuzzServer sends whole HTTP requests, built from the fuzz input, to the
// in-process registry: a method, a target (path and query, with the
// placeholders of fuzzEnv), the Range, Content-Range, Content-Length and
// Content-Type headers (each omitted when empty; no Content-Length means
// a chunked body when there is one), and a body. A request that net/http
// would refuse itself is skipped. Every other request must finish within
// 10 s without a 5xx (a panic would be one), and a 4xx must be in its
// protocol's error format.
func FuzzServer(f *testing.F) {
	const maxInt64 = "9223372036854775807"
	seeds := []struct {
		method, target, rng, cr, cl, ct string
		body                            string
	}{
		// Issue 9's hostile inputs.
		{"PATCH", "/v2/fuzz/repo/blobs/uploads/{upload}", "", "0-" + maxInt64, "1", "", "x"},
		{"PUT", "/v2/fuzz/repo/blobs/uploads/{upload}?digest={blob}", "", "0-" + maxInt64, "2", "", "{}"},
		{"PATCH", "/v2/fuzz/repo/blobs/uploads/{upload}", "", maxInt64 + "-" + maxInt64, "", "", "x"},
		{"PATCH", "/v2/fuzz/repo/blobs/uploads/{upload}", "", "", maxInt64, "", "x"},
		{"POST", "/v2/fuzz/repo/blobs/uploads/?digest={blob}", "", "", maxInt64, "", "{}"},
		{"GET", "/v2/%00", "", "", "", "", ""},
		{"GET", "/v2/fuzz/%00repo/manifests/v1", "", "", "", "", ""},
		{"PUT", "/api/packages/%00/generic/n/v/f", "", "", "1", "", "x"},
		{"GET", "/api/v1/packages/%00", "", "", "", "", ""},
		{"GET", "/v2/fuzz/repo/blobs/{blob}", "bytes=0-" + maxInt64, "", "", "", ""},
		{"GET", "/v2/fuzz/repo/blobs/{blob}", "bytes=-" + maxInt64, "", "", "", ""},
		{"GET", "/v2/fuzz/repo/blobs/{blob}", "bytes=" + maxInt64 + "-", "", "", "", ""},
		{"GET", "/v2/fuzz/repo/tags/list?n=" + maxInt64 + "&last=a", "", "", "", "", ""},
		{"GET", "/v2/_catalog?n=" + maxInt64, "", "", "", "", ""},
		{"GET", "/api/v1/packages/o?page=" + maxInt64 + "&limit=" + maxInt64, "", "", "", "", ""},
		{"PATCH", "/api/packages/o/generic/tool/1.0/g.bin/uploads/{gupload}", "", "0-" + maxInt64, "1", "", "x"},
		{"GET", "/api/packages/o/generic/tool/1.0/f.bin", "bytes=1-" + maxInt64, "", "", "", ""},
		// Truncated bodies.
		{"PATCH", "/v2/fuzz/repo/blobs/uploads/{upload}", "", "0-9", "10", "", "short"},
		{"PUT", "/v2/fuzz/repo/manifests/v2", "", "", "100", oci.MediaTypeImageManifest, "{"},
		{"PUT", "/api/packages/o/generic/tool/1.0/h.bin", "", "", "10", "multipart/form-data; boundary=x", "--x\r\n"},
		// Ordinary requests, for the fuzzer to start from.
		{"GET", "/v2/fuzz/repo/manifests/v1", "", "", "", "", ""},
		{"PATCH", "/v2/fuzz/repo/blobs/uploads/{upload}", "", "0-3", "4", "application/octet-stream", "abcd"},
		{"PUT", "/v2/fuzz/repo/blobs/uploads/{upload}?digest={blob}", "", "", "2", "", "{}"},
		{"DELETE", "/v2/fuzz/repo/manifests/{manifest}", "", "", "", "", ""},
		{"GET", "/v2/fuzz/repo/referrers/{manifest}?n=1", "", "", "", "", ""},
		{"GET", "/api/v1/packages/o/generic/tool/1.0/files", "", "", "", "", ""},
		{"PUT", "/api/packages/o/generic/tool/1.0/g.bin/uploads/{gupload}", "", "", "3", "", "end"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.rng, s.cr, s.cl, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target, rangeH, contentRange, contentLength, contentType string, body []byte) {
		e := newFuzzEnv(t)
		target = e.placeholders.Replace(target)
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: fuzz.test\r\n", method, target)
		for _, h := range [][2]string{{"Range", rangeH}, {"Content-Range", contentRange}, {"Content-Length", contentLength}, {"Content-Type", contentType}} {
			if h[1] != "" {
				fmt.Fprintf(&raw, "%s: %s\r\n", h[0], h[1])
			}
		}
		if contentLength == "" && len(body) > 0 {
			fmt.Fprintf(&raw, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		} else {
			raw.WriteString("\r\n")
			raw.Write(body)
		}
		req, err := http.ReadRequest(bufio.NewReader(&raw))
		if err != nil {
			return // net/http answers 400 itself
		}
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.h.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s did not finish within 10 s", method, target)
		}
		what := fmt.Sprintf("%s %s (Range %q, Content-Range %q, Content-Length %q)", method, target, rangeH, contentRange, contentLength)
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if problem := errorFormatProblem(req.Method, req.URL.Path, rec); problem != "" {
				t.Fatalf("%s: %d: %s", what, rec.Code, problem)
			}
		}
	})
}

// errorFormatProblem says what is wrong with an error response to path,
// "" when it is in the protocol's format (see expectFormat).
func errorFormatProblem(method, path string, rec *httptest.ResponseRecorder) string {
	ct := rec.Header().Get("Content-Type")
	body := rec.Body.Bytes()
	switch {
	case strings.HasPrefix(path, "/api/packages/") || path == "/api/packages":
		if !strings.HasPrefix(ct, "text/plain") {
			return fmt.Sprintf("Content-Type %q, want text/plain", ct)
		}
		if method != http.MethodHead && len(bytes.TrimSpace(body)) == 0 {
			return "empty message"
		}
	case strings.HasPrefix(path, "/api/v1/") || path == "/api/v1":
		var e struct {
			Message string `json:"message"`
		}
		if !strings.HasPrefix(ct, "application/json") {
			return fmt.Sprintf("Content-Type %q, want JSON", ct)
		}
		if method != http.MethodHead && (json.Unmarshal(body, &e) != nil || e.Message == "") {
			return fmt.Sprintf("body %q is not {\"message\",\"url\"}", body)
		}
	default:
		var e oci.Errors
		if !strings.HasPrefix(ct, "application/json") {
			return fmt.Sprintf("Content-Type %q, want JSON", ct)
		}
		if method != http.MethodHead && (json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 || e.Errors[0] == nil || e.Errors[0].Code == "" || e.Errors[0].Message == "") {
			return fmt.Sprintf("body %q is not OCI JSON errors", body)
		}
	}
	return ""
}
