package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// ociCode returns the code of the first error of an OCI error body.
func ociCode(t *testing.T, body []byte) oci.Code {
	t.Helper()
	var errs oci.Errors
	if err := json.Unmarshal(body, &errs); err != nil || len(errs.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q (%v)", body, err)
	}
	return errs.Errors[0].Code
}

// TestManifestMediaTypeAllowlist: a manifest is accepted only with a
// manifest media type (from Content-Type or, without it, its mediaType
// field, or inferred), so that nothing stored is served back as
// text/html; responses that carry stored bytes say nosniff.
func TestManifestMediaTypeAllowlist(t *testing.T) {
	meta := newMeta(t, "mem")
	base := newServer(t, meta, "mem://")
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := digest.FromBytes(cfg)
	if resp, body := do(t, http.MethodPost, base+"/v2/x/app/blobs/uploads/?digest="+cd.String(), bytes.NewReader(cfg)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push config: %d %s", resp.StatusCode, body)
	}
	image := func(mediaType string) []byte {
		mt := ""
		if mediaType != "" {
			mt = fmt.Sprintf(`"mediaType":%q,`, mediaType)
		}
		return fmt.Appendf(nil, `{"schemaVersion":2,%s"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, mt, cd, len(cfg))
	}
	index := []byte(`{"schemaVersion":2,"manifests":[]}`)
	tests := []struct {
		name        string
		contentType string // "" sends none
		body        []byte
		want        int    // status
		served      string // Content-Type of the GET after a 201
	}{
		{"text/html", "text/html", image(""), http.StatusBadRequest, ""},
		{"text/html with a body mediaType", "text/html", image("text/html"), http.StatusBadRequest, ""},
		{"garbage", "garbage;;;", image(""), http.StatusBadRequest, ""},
		{"application/json", "application/json", image(""), http.StatusBadRequest, ""},
		{"svg", "image/svg+xml", image(""), http.StatusBadRequest, ""},
		{"body mediaType text/html, no Content-Type", "", image("text/html"), http.StatusBadRequest, ""},
		{"OCI manifest", oci.MediaTypeImageManifest, image(oci.MediaTypeImageManifest), http.StatusCreated, oci.MediaTypeImageManifest},
		{"OCI manifest with a parameter", oci.MediaTypeImageManifest + "; charset=utf-8", image(""), http.StatusCreated, oci.MediaTypeImageManifest},
		{"Docker manifest", oci.MediaTypeDockerManifest, image(oci.MediaTypeDockerManifest), http.StatusCreated, oci.MediaTypeDockerManifest},
		{"no Content-Type, body mediaType", "", image(oci.MediaTypeImageManifest), http.StatusCreated, oci.MediaTypeImageManifest},
		{"neither: inferred image", "", image(""), http.StatusCreated, oci.MediaTypeImageManifest},
		{"neither: inferred index", "", index, http.StatusCreated, oci.MediaTypeImageIndex},
		{"OCI index", oci.MediaTypeImageIndex, []byte(`{"schemaVersion":2, "manifests":[]}`), http.StatusCreated, oci.MediaTypeImageIndex},
		{"Docker manifest list", oci.MediaTypeDockerManifestList, []byte(`{"schemaVersion":2,"manifests":[] }`), http.StatusCreated, oci.MediaTypeDockerManifestList},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := fmt.Sprintf("t%d", i)
			var hdr []string
			if tt.contentType != "" {
				hdr = []string{"Content-Type", tt.contentType}
			}
			resp, body := do(t, http.MethodPut, base+"/v2/x/app/manifests/"+tag, bytes.NewReader(tt.body), hdr...)
			if resp.StatusCode != tt.want {
				t.Fatalf("PUT: %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want != http.StatusCreated {
				if code := ociCode(t, body); code != oci.CodeManifestInvalid {
					t.Fatalf("PUT: code %s, want MANIFEST_INVALID", code)
				}
				if resp, _ := do(t, http.MethodGet, base+"/v2/x/app/manifests/"+tag, nil); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("a refused manifest was stored: GET %d", resp.StatusCode)
				}
				return
			}
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				resp, got := do(t, m, base+"/v2/x/app/manifests/"+tag, nil)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.served {
					t.Fatalf("%s: %d Content-Type %q, want 200 %q", m, resp.StatusCode, resp.Header.Get("Content-Type"), tt.served)
				}
				if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("%s of a manifest without X-Content-Type-Options: nosniff", m)
				}
				if m == http.MethodGet && !bytes.Equal(got, tt.body) {
					t.Fatalf("GET body %q, want the pushed bytes %q", got, tt.body)
				}
			}
		})
	}

	t.Run("nosniff on blobs and errors", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/v2/x/app/blobs/" + cd.String()},
			{http.MethodHead, "/v2/x/app/blobs/" + cd.String()},
			{http.MethodGet, "/v2/x/app/blobs/" + digest.FromString("absent").String()},
			{http.MethodGet, "/nowhere"},
		} {
			resp, _ := do(t, c.method, base+c.path, nil)
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s %s (%d) without X-Content-Type-Options: nosniff", c.method, c.path, resp.StatusCode)
			}
		}
	})

	t.Run("stored by an older version as text/html", func(t *testing.T) {
		body := image("")
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "text/html", Body: body, References: []digest.Digest{cd}}
		if err := meta.PutManifest(t.Context(), "x/app", m, "legacy"); err != nil {
			t.Fatal(err)
		}
		resp, got := do(t, http.MethodGet, base+"/v2/x/app/manifests/legacy", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != oci.MediaTypeImageManifest || !bytes.Equal(got, body) {
			t.Fatalf("legacy manifest: %d %q, want 200 with the inferred %s", resp.StatusCode, resp.Header.Get("Content-Type"), oci.MediaTypeImageManifest)
		}
		junk := []byte("<script>alert(1)</script>")
		m = metadata.Manifest{Digest: digest.FromBytes(junk), MediaType: "text/html", Body: junk}
		if err := meta.PutManifest(t.Context(), "x/app", m, "junk"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := do(t, http.MethodGet, base+"/v2/x/app/manifests/junk", nil); resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("legacy junk served as %q, want application/octet-stream", resp.Header.Get("Content-Type"))
		}
	})
}

// TestUnknownMethods: a method no route has for a /v2 path answers 405
// UNSUPPORTED with an OCI JSON body and Allow listing what the route
// table has for the path's shape; so do methods the table lacks.
func TestUnknownMethods(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	d := digest.FromString("x").String()
	tests := []struct {
		method, path string
		allow        string
	}{
		{"OPTIONS", "/v2/", "GET"},
		{"TRACE", "/v2", "GET"},
		{"PROPFIND", "/v2/x/app/manifests/latest", "GET, HEAD, PUT, DELETE"},
		{"OPTIONS", "/v2/x/app/blobs/" + d, "GET, HEAD, DELETE"},
		{"FOO", "/v2/x/app/blobs/uploads/", "POST"},
		{"CONNECT", "/v2/x/app/blobs/uploads/abc", "GET, PATCH, PUT, DELETE"},
		{"OPTIONS", "/v2/x/app/tags/list", "GET"},
		{"HEAD", "/v2/x/app/tags/list", "GET"},
		{"POST", "/v2/x/app/manifests/latest", "GET, HEAD, PUT, DELETE"},
		{"MKCOL", "/v2/_catalog", "GET"},
		{"OPTIONS", "/v2/x/referrers/" + d, "GET"},
	}
	for _, tt := range tests {
		resp, body := do(t, tt.method, base+tt.path, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
			continue
		}
		if tt.method == http.MethodHead {
			continue // no body
		}
		if code := ociCode(t, body); code != oci.CodeUnsupported {
			t.Errorf("%s %s: code %s, want UNSUPPORTED", tt.method, tt.path, code)
		}
	}
	// A path that is no endpoint stays 404, whatever the method.
	resp, body := do(t, "OPTIONS", base+"/v2/x/app/nothing/here", nil)
	if resp.StatusCode != http.StatusNotFound || ociCode(t, body) != oci.CodeNotFound {
		t.Errorf("OPTIONS of a path that is no endpoint: %d %s", resp.StatusCode, body)
	}
	// The package API answers unknown methods in its own format.
	resp, body = do(t, "OPTIONS", base+"/api/packages/o/generic/n/1.0/f.bin", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" || !strings.Contains(string(body), "not allowed") {
		t.Errorf("OPTIONS on the generic API: %d Allow %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

// TestGenericVersionBidi: a version with a bidirectional control
// character is refused with 400 naming the field; nothing is stored.
func TestGenericVersionBidi(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	for _, v := range []string{"1.0%E2%80%AEexe.txt", "%E2%81%A71.0", "1.0%E2%80%8E"} {
		resp, body := do(t, http.MethodPut, base+"/api/packages/o/generic/n/"+v+"/f.bin", strings.NewReader("x"))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "version") || !strings.Contains(string(body), "bidirectional") {
			t.Errorf("version %s: %d %s, want 400 naming the version", v, resp.StatusCode, body)
		}
	}
	resp, body := do(t, http.MethodGet, base+"/api/v1/packages/o", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "[]" {
		t.Errorf("owner o after refused uploads: %d %s, want 200 [] (nothing stored)", resp.StatusCode, body)
	}
}
