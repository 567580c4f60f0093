package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// curl runs the real curl binary with args (adding -sS and a trailing
// status line) and returns the body and the HTTP status.
func curl(t *testing.T, args ...string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (apt-get install -y curl)")
	}
	out, err := exec.Command(bin, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return s[:i], s[i+1:]
}

// TestGenericCurl runs the curl examples of Gitea's generic registry
// documentation, verbatim apart from the host, against regkit: publish
// with --upload-file and with --data-binary (curl's form Content-Type),
// download, range download (-r), list versions, latest, delete.
func TestGenericCurl(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := base + "/api/packages/testuser/generic/test_package"

	if _, code := curl(t, "--upload-file", file, pkg+"/1.0.0/file.bin"); code != "201" {
		t.Fatalf("--upload-file: %s", code)
	}
	if _, code := curl(t, "-X", "PUT", "--data-binary", "@"+file, pkg+"/1.1.0/file.bin"); code != "201" {
		t.Fatalf("--data-binary: %s", code)
	}
	body, code := curl(t, pkg+"/1.1.0/file.bin")
	if code != "200" || body != string(data) {
		t.Fatalf("download: %s, %d bytes", code, len(body))
	}
	out := filepath.Join(dir, "out.bin")
	if _, code := curl(t, "-o", out, pkg+"/1.0.0/file.bin"); code != "200" {
		t.Fatalf("download -o: %s", code)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("downloaded file differs")
	}
	if body, code := curl(t, "-r", "0-99", pkg+"/1.0.0/file.bin"); code != "206" || body != string(data[:100]) {
		t.Fatalf("range: %s %q", code, body)
	}
	// curl -C - resumes a partial download with a Range request.
	part := filepath.Join(dir, "part.bin")
	if err := os.WriteFile(part, data[:4000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, code := curl(t, "-C", "-", "-o", part, pkg+"/1.0.0/file.bin"); code != "206" {
		t.Fatalf("resume: %s", code)
	}
	if got, _ := os.ReadFile(part); !bytes.Equal(got, data) {
		t.Fatal("resumed download differs")
	}
	body, code = curl(t, base+"/api/v1/packages/testuser/generic/test_package")
	var versions []struct{ Version string }
	if code != "200" || json.Unmarshal([]byte(body), &versions) != nil || len(versions) != 2 || versions[0].Version != "1.1.0" {
		t.Fatalf("list versions: %s %s", code, body)
	}
	body, code = curl(t, base+"/api/v1/packages/testuser/generic/test_package/-/latest")
	if code != "200" || !strings.Contains(body, `"version":"1.1.0"`) {
		t.Fatalf("latest: %s %s", code, body)
	}
	if _, code := curl(t, "-X", "DELETE", pkg+"/1.0.0/file.bin"); code != "204" {
		t.Fatalf("delete file: %s", code)
	}
	if _, code := curl(t, "-X", "DELETE", pkg+"/1.1.0"); code != "204" {
		t.Fatalf("delete version: %s", code)
	}
}

// TestGenericCurlAuth runs the documented curl commands with auth mode
// "tokens": --user with a token, the Authorization: token header and
// ?token=; anonymous writes are 401, a read-only token's writes 403.
func TestGenericCurlAuth(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, func(c *auth.Config) { c.AllowQueryToken = true })
	e.user("testuser", "secret-password-1", metadata.VisibilityPublic, false)
	tok, _ := e.token(metadata.TokenPersonal, "testuser", "ci", "write:packages")
	ro, _ := e.token(metadata.TokenPersonal, "testuser", "ro", "read:package")
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	data := []byte("firmware image bytes")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := e.base + "/api/packages/testuser/generic/test_package"

	if _, code := curl(t, "--upload-file", file, pkg+"/0.9.0/file.bin"); code != "401" {
		t.Fatalf("anonymous upload: %s", code)
	}
	if _, code := curl(t, "--user", "testuser:"+ro, "--upload-file", file, pkg+"/0.9.0/file.bin"); code != "403" {
		t.Fatalf("read-only token upload: %s", code)
	}
	if _, code := curl(t, "--user", "testuser:"+tok, "--upload-file", file, pkg+"/1.0.0/file.bin"); code != "201" {
		t.Fatalf("--user upload: %s", code)
	}
	if _, code := curl(t, "--user", "testuser:secret-password-1", "--upload-file", file, pkg+"/1.0.1/file.bin"); code != "201" {
		t.Fatalf("--user password upload: %s", code)
	}
	if _, code := curl(t, "--header", "Authorization: token "+tok, "--upload-file", file, pkg+"/1.0.2/file.bin"); code != "201" {
		t.Fatalf("token header upload: %s", code)
	}
	if _, code := curl(t, "--upload-file", file, pkg+"/1.0.3/file.bin?token="+tok); code != "201" {
		t.Fatalf("?token= upload: %s", code)
	}
	if body, code := curl(t, "--user", "testuser:"+tok, pkg+"/1.0.0/file.bin"); code != "200" || body != string(data) {
		t.Fatalf("download: %s %q", code, body)
	}
	if body, code := curl(t, "-r", "0-7", "--header", "Authorization: token "+tok, pkg+"/1.0.0/file.bin"); code != "206" || body != "firmware" {
		t.Fatalf("range download: %s %q", code, body)
	}
	// testuser is public: anonymous reads work.
	if body, code := curl(t, pkg+"/1.0.2/file.bin"); code != "200" || body != string(data) {
		t.Fatalf("anonymous download: %s", code)
	}
	body, code := curl(t, "--header", "Authorization: token "+tok, e.base+"/api/v1/packages/testuser/generic/test_package")
	if code != "200" || strings.Count(body, `"version"`) != 4 || !strings.Contains(body, `"login":"testuser"`) {
		t.Fatalf("list versions: %s %s", code, body)
	}
	body, code = curl(t, e.base+"/api/v1/packages/testuser/generic/test_package/-/latest?token="+tok)
	if code != "200" || !strings.Contains(body, `"version":"1.0.3"`) {
		t.Fatalf("latest: %s %s", code, body)
	}
	if _, code := curl(t, "--user", "testuser:bad-token", pkg+"/1.0.0/file.bin"); code != "401" {
		t.Fatalf("bad credentials: %s", code)
	}
	if _, code := curl(t, "--user", "testuser:"+tok, "-X", "DELETE", pkg+"/1.0.0/file.bin"); code != "403" {
		t.Fatalf("delete without delete:packages: %s", code)
	}
	// Gitea's write:package deletes too (it stands for write:packages
	// and delete:packages).
	del, _ := e.token(metadata.TokenPersonal, "testuser", "del", "write:package")
	if _, code := curl(t, "--user", "testuser:"+del, "-X", "DELETE", pkg+"/1.0.0"); code != "204" {
		t.Fatalf("delete version with Gitea's write:package: %s", code)
	}
}
