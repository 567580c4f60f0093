package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// startUpload opens an upload session and returns its Location.
func startUpload(t *testing.T, base, repo string) string {
	t.Helper()
	resp, _ := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST uploads: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		t.Fatal("no Location")
	}
	return loc
}

func patch(t *testing.T, base, loc string, start int, chunk []byte) *http.Response {
	t.Helper()
	resp, _ := do(t, http.MethodPatch, base+loc, bytes.NewReader(chunk),
		"Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", start, start+len(chunk)-1))
	return resp
}

// TestChunkedUploadAcrossReplicas sends the PATCHes of one chunked upload
// alternately to two server instances sharing one Redis and one file
// bucket, and the PUT to the other one; the blob must be intact.
func TestChunkedUploadAcrossReplicas(t *testing.T) {
	bucket, _ := fileBucket(t)
	meta1 := newMeta(t, "redis")
	a := newServer(t, meta1, bucket)
	b := newServer(t, meta1, bucket) // same Redis, same bucket, separate Store

	data := randomBytes(1, 5<<20+12345)
	d := digest.FromBytes(data)
	repo := "replicas/test"
	loc := startUpload(t, a, repo)
	const chunk = 1 << 20
	servers := []string{a, b}
	for i, off := 0, 0; off < len(data); i, off = i+1, off+chunk {
		end := min(off+chunk, len(data))
		resp := patch(t, servers[i%2], loc, off, data[off:end])
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH %d on replica %d: %d", i, i%2, resp.StatusCode)
		}
		if got, want := resp.Header.Get("Range"), fmt.Sprintf("0-%d", end-1); got != want {
			t.Fatalf("Range = %q, want %q", got, want)
		}
		loc = resp.Header.Get("Location")
	}
	resp, body := do(t, http.MethodPut, b+loc+"?digest="+d.String(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get(oci.DockerContentDigest); got != d.String() {
		t.Fatalf("Docker-Content-Digest = %q", got)
	}
	for _, srv := range servers {
		resp, got := do(t, http.MethodGet, srv+"/v2/"+repo+"/blobs/"+d.String(), nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Fatalf("GET blob: %d, %d bytes, equal=%v", resp.StatusCode, len(got), bytes.Equal(got, data))
		}
	}
}

// TestRetriedPatch: the same chunk sent twice gets 416 with the current
// Range the second time, and the upload still completes.
func TestRetriedPatch(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			base := newServer(t, newMeta(t, kind), bucket)
			data := randomBytes(2, 300_000)
			d := digest.FromBytes(data)
			loc := startUpload(t, base, "retry/me")
			if r := patch(t, base, loc, 0, data[:100_000]); r.StatusCode != http.StatusAccepted {
				t.Fatalf("first PATCH: %d", r.StatusCode)
			}
			r := patch(t, base, loc, 0, data[:100_000])
			if r.StatusCode != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("retried PATCH: %d, want 416", r.StatusCode)
			}
			if got := r.Header.Get("Range"); got != "0-99999" {
				t.Fatalf("416 Range = %q, want 0-99999", got)
			}
			if r := patch(t, base, loc, 100_000, data[100_000:]); r.StatusCode != http.StatusAccepted {
				t.Fatalf("second PATCH: %d", r.StatusCode)
			}
			resp, body := do(t, http.MethodPut, base+loc+"?digest="+d.String(), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT: %d %s", resp.StatusCode, body)
			}
			_, got := do(t, http.MethodGet, base+"/v2/retry/me/blobs/"+d.String(), nil)
			if !bytes.Equal(got, data) {
				t.Fatal("blob differs after a retried chunk")
			}
		})
	}
}

// TestWrongDigest: a PUT with the wrong digest gets 400 DIGEST_INVALID and
// stores nothing, on the chunked and on the monolithic path.
func TestWrongDigest(t *testing.T) {
	bucket, dir := fileBucket(t)
	base := newServer(t, newMeta(t, "bolt"), bucket)
	data := randomBytes(3, 50_000)
	wrong := digest.FromString("something else")

	loc := startUpload(t, base, "bad/digest")
	if r := patch(t, base, loc, 0, data); r.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH: %d", r.StatusCode)
	}
	resp, body := do(t, http.MethodPut, base+loc+"?digest="+wrong.String(), nil)
	expectOCIError(t, resp, body, http.StatusBadRequest, oci.CodeDigestInvalid)

	resp, body = do(t, http.MethodPost, base+"/v2/bad/digest/blobs/uploads/?digest="+wrong.String(), bytes.NewReader(data),
		"Content-Type", "application/octet-stream")
	expectOCIError(t, resp, body, http.StatusBadRequest, oci.CodeDigestInvalid)

	for _, d := range []digest.Digest{wrong, digest.FromBytes(data)} {
		resp, _ := do(t, http.MethodHead, base+"/v2/bad/digest/blobs/"+d.String(), nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD %s after a failed upload: %d", d, resp.StatusCode)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(storage.Key(d)))); !os.IsNotExist(err) {
			t.Fatalf("bytes stored for %s: %v", d, err)
		}
	}
}

// TestMalformedInput: malformed digests and names get 400 with OCI JSON.
func TestMalformedInput(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	tests := []struct {
		name, method, path string
		status             int
		code               oci.Code
	}{
		{"bad digest in blob path", http.MethodGet, "/v2/ok/blobs/sha256:xyz", 400, oci.CodeDigestInvalid},
		{"short digest", http.MethodHead, "/v2/ok/blobs/sha256:abcd", 400, oci.CodeDigestInvalid},
		{"unknown algorithm", http.MethodGet, "/v2/ok/blobs/md5:" + strings.Repeat("a", 32), 400, oci.CodeDigestInvalid},
		{"bad digest on upload", http.MethodPost, "/v2/ok/blobs/uploads/?digest=sha256:nope", 400, oci.CodeDigestInvalid},
		{"upper-case name", http.MethodGet, "/v2/Bad/tags/list", 400, oci.CodeNameInvalid},
		{"double separator", http.MethodPost, "/v2/a..b/blobs/uploads/", 400, oci.CodeNameInvalid},
		{"encoded slash", http.MethodGet, "/v2/a%2Fb/tags/list", 400, oci.CodeNameInvalid},
		{"unknown blob", http.MethodGet, "/v2/ok/blobs/" + digest.FromString("x").String(), 404, oci.CodeBlobUnknown},
		{"unknown manifest", http.MethodGet, "/v2/ok/manifests/latest", 404, oci.CodeManifestUnknown},
		{"unknown upload", http.MethodPatch, "/v2/ok/blobs/uploads/nosuchupload", 404, oci.CodeBlobUploadUnknown},
		{"unknown repo tags", http.MethodGet, "/v2/nothing/here/tags/list", 404, oci.CodeNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, base+tt.path, nil)
			if tt.method == http.MethodHead {
				if resp.StatusCode != tt.status || len(body) != 0 {
					t.Fatalf("HEAD: %d with %d body bytes", resp.StatusCode, len(body))
				}
				return
			}
			expectOCIError(t, resp, body, tt.status, tt.code)
		})
	}
}

func expectOCIError(t *testing.T, resp *http.Response, body []byte, status int, code oci.Code) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("body is not OCI JSON errors: %s", body)
	}
	if e.Errors[0].Code != string(code) || e.Errors[0].Message == "" {
		t.Fatalf("error %+v, want code %s with a message", e.Errors[0], code)
	}
}

// TestUploadOfAnotherRepository: an upload URL used under another
// repository's name is unknown there, and the session stays usable.
func TestUploadOfAnotherRepository(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	data := randomBytes(4, 1000)
	loc := startUpload(t, base, "team/a")
	other := strings.Replace(loc, "/team/a/", "/team/b/", 1)
	for _, m := range []string{http.MethodPatch, http.MethodGet, http.MethodDelete} {
		resp, body := do(t, m, base+other, bytes.NewReader(data))
		expectOCIError(t, resp, body, http.StatusNotFound, oci.CodeBlobUploadUnknown)
	}
	resp, body := do(t, http.MethodPut, base+other+"?digest="+digest.FromBytes(data).String(), bytes.NewReader(data))
	expectOCIError(t, resp, body, http.StatusNotFound, oci.CodeBlobUploadUnknown)
	if r := patch(t, base, loc, 0, data); r.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH on the right repository: %d", r.StatusCode)
	}
}

// TestDeadWritersSessionIsTakenOver: a writer that died mid-PATCH (kill
// -9) leaves its lease behind. Until the lease expires the session
// answers 409 with Retry-After and its Range — not a misleading 416 for
// the right offset — and then any replica takes it over at the same
// offset and finishes the upload.
func TestDeadWritersSessionIsTakenOver(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			meta := newMeta(t, kind)
			base := newServer(t, meta, bucket)
			data := randomBytes(3, 100_000)
			loc := startUpload(t, base, "dead/writer")
			if resp := patch(t, base, loc, 0, data[:40_000]); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first chunk: %d", resp.StatusCode)
			}
			// The process writing the second chunk dies holding the lease
			// it took with its ttl.
			id := loc[strings.LastIndex(loc, "/")+1:]
			const ttl = 1500 * time.Millisecond
			if _, err := meta.AcquireUpload(context.Background(), id, 40_000, "a-writer-that-died", ttl); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(ttl)
			resp := patch(t, base, loc, 40_000, data[40_000:])
			if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Range") != "0-39999" {
				t.Fatalf("PATCH while the dead writer's lease lasts: %d, Retry-After %q, Range %q; want 409 with Retry-After and Range 0-39999",
					resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Range"))
			}
			time.Sleep(time.Until(deadline) + 100*time.Millisecond)
			if resp := patch(t, base, loc, 40_000, data[40_000:]); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH after the dead writer's lease expired: %d, want 202", resp.StatusCode)
			}
			resp, body := do(t, http.MethodPut, base+loc+"?digest="+digest.FromBytes(data).String(), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("finish: %d %s", resp.StatusCode, body)
			}
			resp, got := do(t, http.MethodGet, base+"/v2/dead/writer/blobs/"+digest.FromBytes(data).String(), nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
				t.Fatalf("blob after takeover: %d, %d bytes", resp.StatusCode, len(got))
			}
		})
	}
}
