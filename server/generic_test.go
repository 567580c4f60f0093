package server_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/generic"
)

// TestGenericRoutes checks that every route of spec/generic has a handler:
// an unauthenticated request to each answers in the API's format and
// never 500 or the bunrouter default.
func TestGenericRoutes(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	for _, rt := range generic.Routes() {
		for _, m := range rt.Methods {
			p := strings.NewReplacer("<owner>", "o", "<type>", "generic", "<name>", "n", "<version>", "1",
				"<filename>", "f", "<upload>", "u", "<repo>", "r").Replace(rt.Path)
			resp, _ := do(t, m, base+p, nil)
			if resp.StatusCode >= 500 || resp.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("%s %s %s: %d", rt.ID, m, p, resp.StatusCode)
			}
			want := "text/plain; charset=utf-8"
			if rt.Area == generic.AreaManagement {
				want = "application/json; charset=utf-8"
			}
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && ct != want {
				t.Errorf("%s %s: Content-Type %q, want %q", rt.ID, m, ct, want)
			}
		}
	}
}

type fileSums struct{ md5, sha1, sha256, sha512 string }

func sumsOf(b []byte) fileSums {
	m, s1, s2, s5 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return fileSums{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:]), hex.EncodeToString(s5[:])}
}

// TestGenericFlow covers upload, download, ranges, conditional requests,
// duplicates, SemVer, listing, latest, link and delete on every store.
func TestGenericFlow(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			base := newServer(t, newMeta(t, kind), bucket)
			api := base + "/api/packages/alice/generic"
			data := bytes.Repeat([]byte("regkit generic "), 1000)

			resp, body := do(t, "PUT", api+"/tool/1.0.0/tool.tar.gz", bytes.NewReader(data), "Content-Type", "application/x-www-form-urlencoded")
			if resp.StatusCode != 201 || resp.Header.Get("Location") != "/api/packages/alice/generic/tool/1.0.0/tool.tar.gz" {
				t.Fatalf("upload: %d %s %v", resp.StatusCode, body, resp.Header)
			}
			resp, body = do(t, "PUT", api+"/tool/1.0.0/TOOL.tar.gz", bytes.NewReader(data))
			if resp.StatusCode != 409 || !strings.Contains(string(body), "already exists") {
				t.Fatalf("duplicate: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, "GET", api+"/tool/1.0.0/tool.tar.gz", nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Fatalf("download: %d", resp.StatusCode)
			}
			h := resp.Header
			sums := sumsOf(data)
			for k, v := range map[string]string{
				"Content-Type":           "application/octet-stream",
				"X-Content-Type-Options": "nosniff",
				"Content-Disposition":    `attachment; filename="tool.tar.gz"; filename*=UTF-8''tool.tar.gz`,
				"Accept-Ranges":          "bytes",
				"ETag":                   `"` + sums.sha256 + `"`,
				"Content-Length":         fmt.Sprint(len(data)),
			} {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if h.Get("Last-Modified") == "" || h.Get("Digest") == "" {
				t.Errorf("headers %v", h)
			}
			resp, body = do(t, "GET", api+"/tool/1.0.0/tool.tar.gz", nil, "Range", "bytes=10-19")
			if resp.StatusCode != 206 || !bytes.Equal(body, data[10:20]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(data)) {
				t.Fatalf("range: %d %q %v", resp.StatusCode, body, resp.Header)
			}
			resp, _ = do(t, "GET", api+"/tool/1.0.0/tool.tar.gz", nil, "Range", fmt.Sprintf("bytes=%d-", len(data)))
			if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(data)) {
				t.Fatalf("unsatisfiable range: %d %v", resp.StatusCode, resp.Header)
			}
			resp, _ = do(t, "GET", api+"/tool/1.0.0/tool.tar.gz", nil, "If-None-Match", `"`+sums.sha256+`"`)
			if resp.StatusCode != 304 {
				t.Fatalf("If-None-Match: %d", resp.StatusCode)
			}
			resp, body = do(t, "GET", api+"/tool/1.0.0/tool.tar.gz", nil, "Range", "bytes=0-0", "If-Range", `"other"`)
			if resp.StatusCode != 200 || len(body) != len(data) {
				t.Fatalf("If-Range mismatch: %d", resp.StatusCode)
			}
			resp, _ = do(t, "HEAD", api+"/tool/1.0.0/tool.tar.gz", nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) {
				t.Fatalf("HEAD: %d", resp.StatusCode)
			}

			// The management API: files with their four sums, the
			// download count (3 GETs answered 200 or 206; HEAD, 304 and 416 are not counted).
			resp, body = do(t, "GET", base+"/api/v1/packages/alice/generic/tool/1.0.0", nil)
			var v struct {
				Type, Name, Version string
				DownloadCount       int64 `json:"download_count"`
				SemVer              bool  `json:"semver_compatible"`
				Files               []struct {
					Name                      string
					Size                      int64
					MD5, SHA1, SHA256, SHA512 string
				}
			}
			if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != 200 {
				t.Fatalf("version: %d %s", resp.StatusCode, body)
			}
			if v.DownloadCount != 3 || !v.SemVer || len(v.Files) != 1 || v.Files[0].MD5 != sums.md5 || v.Files[0].SHA1 != sums.sha1 ||
				v.Files[0].SHA256 != sums.sha256 || v.Files[0].SHA512 != sums.sha512 || v.Files[0].Size != int64(len(data)) {
				t.Fatalf("version = %s", body)
			}

			// SemVer package: a non-SemVer version is refused.
			resp, body = do(t, "PUT", api+"/tool/nightly/x", strings.NewReader("x"))
			if resp.StatusCode != 409 || !strings.Contains(string(body), "SemVer") {
				t.Fatalf("non-SemVer version: %d %s", resp.StatusCode, body)
			}
			for _, ver := range []string{"1.10.0", "2.0.0-rc.1", "1.9.0"} {
				if resp, body := do(t, "PUT", api+"/tool/"+ver+"/f", strings.NewReader(ver)); resp.StatusCode != 201 {
					t.Fatalf("upload %s: %d %s", ver, resp.StatusCode, body)
				}
			}
			resp, body = do(t, "GET", base+"/api/v1/packages/alice/generic/tool/-/latest", nil)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"version":"1.10.0"`) || !strings.Contains(string(body), `"latest_rule":"semver"`) {
				t.Fatalf("latest: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, "GET", base+"/api/v1/packages/alice/generic/tool?limit=2", nil)
			if resp.StatusCode != 200 || resp.Header.Get("X-Total-Count") != "4" || !strings.Contains(resp.Header.Get("Link"), `page=2&limit=2>; rel="next"`) ||
				!strings.HasPrefix(string(body), `[{"id"`) || !strings.Contains(string(body), `"version":"1.9.0"`) {
				t.Fatalf("versions: %d %v %s", resp.StatusCode, resp.Header, body)
			}

			// Link and unlink.
			if resp, body := do(t, "POST", base+"/api/v1/packages/alice/generic/tool/-/link/myrepo", nil); resp.StatusCode != 201 {
				t.Fatalf("link: %d %s", resp.StatusCode, body)
			}
			_, body = do(t, "GET", base+"/api/v1/packages/alice/generic/tool/1.9.0", nil)
			var linked struct {
				Repository *struct {
					ID       int64  `json:"id"`
					Name     string `json:"name"`
					FullName string `json:"full_name"`
				} `json:"repository"`
			}
			if err := json.Unmarshal(body, &linked); err != nil || linked.Repository == nil || linked.Repository.ID <= 0 ||
				linked.Repository.Name != "myrepo" || linked.Repository.FullName != "alice/myrepo" {
				t.Fatalf("linked: %s", body)
			}
			if resp, _ := do(t, "POST", base+"/api/v1/packages/alice/generic/tool/-/unlink", nil); resp.StatusCode != 204 {
				t.Fatalf("unlink: %d", resp.StatusCode)
			}

			// Delete: the last file deletes the version; a second version
			// delete is 404.
			if resp, _ := do(t, "DELETE", api+"/tool/1.9.0/f", nil); resp.StatusCode != 204 {
				t.Fatalf("file delete: %d", resp.StatusCode)
			}
			if resp, _ := do(t, "GET", base+"/api/v1/packages/alice/generic/tool/1.9.0", nil); resp.StatusCode != 404 {
				t.Fatalf("version after its last file: %d", resp.StatusCode)
			}
			if resp, _ := do(t, "DELETE", api+"/tool/1.10.0", nil); resp.StatusCode != 204 {
				t.Fatalf("version delete: %d", resp.StatusCode)
			}
			if resp, body := do(t, "DELETE", api+"/tool/1.10.0", nil); resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("second version delete: %d %s", resp.StatusCode, body)
			}
			// Owners are implicit without auth: one with nothing stored
			// lists [], as an existing Gitea owner without packages.
			resp, body = do(t, "GET", base+"/api/v1/packages/nobody", nil)
			if resp.StatusCode != 200 || string(body) != "[]" || resp.Header.Get("X-Total-Count") != "0" {
				t.Fatalf("owner without packages: %d %v %s", resp.StatusCode, resp.Header, body)
			}
			resp, body = do(t, "GET", base+"/api/v1/packages/-bad-", nil)
			var e struct{ Message, URL string }
			if resp.StatusCode != 400 || json.Unmarshal(body, &e) != nil || e.Message == "" {
				t.Fatalf("invalid owner: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestGenericMultipartAndDedup uploads with multipart/form-data, and
// shows that identical bytes are stored once, shared with OCI blobs.
func TestGenericMultipartAndDedup(t *testing.T) {
	bucket, dir := fileBucket(t)
	meta := newMeta(t, "bolt")
	base := newServer(t, meta, bucket)
	data := []byte("the same bytes in two packages and one OCI blob")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("comment", "ignored")
	fw, _ := mw.CreateFormFile("file", "a.txt")
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp, body := do(t, "PUT", base+"/api/packages/o/generic/p/1/a.txt", &buf, "Content-Type", mw.FormDataContentType())
	if resp.StatusCode != 201 {
		t.Fatalf("multipart upload: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "PUT", base+"/api/packages/o/generic/q/2/b.txt", bytes.NewReader(data), "Content-Type", "text/plain"); resp.StatusCode != 201 {
		t.Fatalf("second upload: %d %s", resp.StatusCode, body)
	}
	d := digest.FromBytes(data)
	if resp, body := do(t, "POST", base+"/v2/o/img/blobs/uploads/?digest="+d.String(), bytes.NewReader(data)); resp.StatusCode != 201 {
		t.Fatalf("OCI upload: %d %s", resp.StatusCode, body)
	}
	resp, got := do(t, "GET", base+"/api/packages/o/generic/q/2/b.txt", nil)
	if !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("download: %q %v", got, resp.Header)
	}
	var files int
	_ = filepath.Walk(filepath.Join(dir, "blobs"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasSuffix(p, ".attrs") {
			files++
		}
		return nil
	})
	if files != 1 {
		t.Fatalf("%d blob files, want 1 (content-addressed, shared)", files)
	}
	// GC keeps package files: the referencer reports them.
	var kept []digest.Digest
	if err := metadata.PackageReferencer(meta.(metadata.Packages)).References(t.Context(), func(x digest.Digest) { kept = append(kept, x) }); err != nil || len(kept) != 2 || kept[0] != d {
		t.Fatalf("references = %v, %v", kept, err)
	}
}

// TestGenericBadInput sends bad input in every segment and bodies that end
// early or are too large: always 4xx, never anything stored.
func TestGenericBadInput(t *testing.T) {
	bucket, dir := fileBucket(t)
	meta := newMeta(t, "mem")
	base := newServer(t, meta, bucket, server.WithGenericMaxFileSize(1000))
	api := base + "/api/packages/o/generic"
	long := strings.Repeat("x", 300)
	for _, p := range []string{
		"/../1/f", "/n/../f", "/n/1/..", "/n/1/a%2F..%2Fb", "/n%2F..%2Fx/1/f", "/n/1%2F2/f", "/n/1/f%00", "/n/1%00/f",
		"/n/1/f%FF", "/n/%FF/f", "/n%FF/1/f", "/" + long + "/1/f", "/n/" + long + "/f", "/n/1/" + long, "/n/%201/f", "/n/1/%20f", "/.n/1/f",
	} {
		req, _ := http.NewRequest("PUT", api+p, strings.NewReader("data"))
		req.URL.RawPath = req.URL.EscapedPath()
		req.URL.Opaque = "//" + req.URL.Host + "/api/packages/o/generic" + p
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("PUT %s: %d %s", p, resp.StatusCode, b)
		}
	}
	// Too large: by Content-Length, and streamed without one.
	resp, body := do(t, "PUT", api+"/n/1/big", bytes.NewReader(make([]byte, 1001)))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "maximum file size of 1000 bytes") {
		t.Fatalf("too large: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("PUT", api+"/n/1/big", io.MultiReader(bytes.NewReader(make([]byte, 2000))))
	req.ContentLength = -1
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 403 {
		t.Fatalf("streamed too large: %d", r2.StatusCode)
	}
	// A body that ends early: the client announces 500 bytes, sends 100
	// and closes the connection.
	u := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", u)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /api/packages/o/generic/n/1/short HTTP/1.1\r\nHost: %s\r\nContent-Length: 500\r\n\r\n%s", u, strings.Repeat("y", 100))
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn)
	conn.Close()
	// Huge Content-Length.
	conn, err = net.Dial("tcp", u)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /api/packages/o/generic/n/1/huge HTTP/1.1\r\nHost: %s\r\nContent-Length: 99999999999999999999\r\n\r\nabc", u)
	status, _ := io.ReadAll(io.LimitReader(conn, 12))
	conn.Close()
	if !strings.HasPrefix(string(status), "HTTP/1.1 4") {
		t.Fatalf("huge Content-Length: %q", status)
	}
	if resp, body := do(t, "GET", base+"/api/v1/packages/o", nil); resp.StatusCode != 200 || string(body) != "[]" {
		t.Fatalf("something was stored: owner listing answers %d %s", resp.StatusCode, body)
	}
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files left in the bucket: %v", files)
	}
}
