package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regkit/regkit/fixtures"
)

// TestLoginAndPkg logs in to a regkit with --auth tokens (the credentials
// land in docker's config.json), then copies an image and moves generic
// packages with the stored credentials alone.
func TestLoginAndPkg(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, ".docker"))
	for _, v := range []string{"REGKIT_URL", "REGKIT_USERNAME", "REGKIT_PASSWORD", "REGKIT_TOKEN"} {
		t.Setenv(v, "")
	}
	const adminPassword = "pkg-admin-password-1"
	t.Setenv(adminPasswordEnv, adminPassword)
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Auth = "tokens"
	cfg.AuthSigningKey = "pkg-signing-key-0123456789abcdef0123456789"
	addr, stop := startServe(t, cfg)
	t.Cleanup(stop)
	base := "http://" + addr
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/admin/users",
		strings.NewReader(`{"username":"alice","password":"alice-password-1","email":"alice@example.com","visibility":"private"}`))
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %v %v", err, resp)
	}
	_ = resp.Body.Close()

	if code, _, _ := regkit(t, nil, "login", "-u", "alice", "-p", "wrong-password", addr); code != exitAuth {
		t.Errorf("login with a wrong password: exit %d, want %d", code, exitAuth)
	}
	if code, _, _ := regkit(t, nil, "pkg", "ls", "--url", base, "alice"); code != exitAuth {
		t.Errorf("pkg ls before login: exit %d, want %d", code, exitAuth)
	}
	code, out, errOut := regkit(t, []byte("alice-password-1\n"), "login", "-u", "alice", "--password-stdin", addr)
	if code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: exit %d: %s%s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(home, ".docker", "config.json"))
	var dc struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err != nil || json.Unmarshal(b, &dc) != nil || dc.Auths[addr].Auth == "" {
		t.Fatalf("config.json: %s (%v), want an auth entry for %s", b, err, addr)
	}

	// Image verbs with the stored credentials.
	src := testRegistry(t)
	pushSigned(t, src, "team/app", "v1", 4<<10)
	if code, out, errOut := regkit(t, nil, "cp", "-r", hostOf(src)+"/team/app:v1", addr+"/alice/app:v1"); code != 0 {
		t.Fatalf("cp into the registry with auth: exit %d: %s%s", code, out, errOut)
	}
	if code, out, _ := regkit(t, nil, "tags", addr+"/alice/app"); code != 0 || out != "v1\n" {
		t.Errorf("tags: exit %d, %q", code, out)
	}

	// Generic packages.
	dir := t.TempDir()
	small := filepath.Join(dir, "tool.sh")
	big := filepath.Join(dir, "tool.bin")
	if err := os.WriteFile(small, []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bigData := fixtures.Blob(5, 2<<20+7)
	if err := os.WriteFile(big, bigData, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := regkit(t, nil, append([]string{"pkg", args[0], "--url", base}, args[1:]...)...)
		if code != want {
			t.Fatalf("pkg %v: exit %d, want %d: %s%s", args, code, want, out, errOut)
		}
		return out
	}
	pkg(0, "upload", "alice/tool/1.0.0", small)
	pkg(0, "upload", "--resumable-from", "1MiB", "--chunk", "512KiB", "alice/tool/1.2.0", big)
	pkg(exitConflict, "upload", "alice/tool/1.0.0", small)
	if out := pkg(0, "latest", "alice/tool"); out != "1.2.0\n" {
		t.Errorf("latest: %q", out)
	}
	if out := pkg(0, "versions", "alice/tool"); out != "1.2.0\n1.0.0\n" {
		t.Errorf("versions: %q", out)
	}
	if out := pkg(0, "ls", "--type", "generic", "alice"); strings.Count(out, "\n") != 2 {
		t.Errorf("ls: %q", out)
	}
	outFile := filepath.Join(dir, "down.bin")
	out = pkg(0, "download", "--part-size", "256KiB", "-o", outFile, "alice/tool/1.2.0/tool.bin")
	got, _ := os.ReadFile(outFile)
	if string(got) != string(bigData) || !strings.Contains(out, outFile) {
		t.Errorf("download: %d bytes, %q", len(got), out)
	}
	pkg(exitNotFound, "download", "-o", outFile, "alice/tool/9.9.9/tool.bin")
	pkg(0, "rm", "alice/tool/1.0.0")
	if out := pkg(0, "versions", "--json", "alice/tool"); !strings.Contains(out, `"version": "1.2.0"`) || strings.Contains(out, "1.0.0") {
		t.Errorf("versions after rm: %q", out)
	}
	if code, out, _ := regkit(t, nil, "logout", addr); code != 0 || !strings.Contains(out, "Removed") {
		t.Errorf("logout: exit %d %q", code, out)
	}
	pkg(exitAuth, "ls", "alice")
}
