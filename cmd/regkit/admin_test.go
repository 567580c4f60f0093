package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// tokensServeConfig is a serve configuration on a free port with its
// data in a temporary directory, --auth tokens with a signing key file,
// and the site admin bootstrapped with adminPW.
func tokensServeConfig(t *testing.T, adminPW string) serveConfig {
	t.Helper()
	t.Setenv(adminPasswordEnv, adminPW)
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte("# current\n0123456789abcdef0123456789abcdef-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Auth = "tokens"
	cfg.AuthSigningKeyFile = keyFile
	return cfg
}

// TestAdminCommand bootstraps the site admin with REGKIT_ADMIN_PASSWORD,
// manages users, organizations, members and tokens with regkit admin, and
// pushes with a created token through the bearer flow.
func TestAdminCommand(t *testing.T) {
	const adminPW = "bootstrap-password-1"
	cfg := tokensServeConfig(t, adminPW)
	addr, stop := startServe(t, cfg)
	defer stop()
	t.Setenv("REGKIT_URL", "http://"+addr)

	admin := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"admin"}, args...), &out, &errOut)
		if code != 0 {
			return out.String() + errOut.String(), &exitError{code: code}
		}
		return out.String(), nil
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := admin(args...)
		if err != nil {
			t.Fatalf("regkit admin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("users", "create", "dev", "-new-password", "dev-password-123", "-private")
	if out := must("users", "list"); !strings.Contains(out, `"login": "dev"`) || !strings.Contains(out, `"login": "admin"`) {
		t.Fatalf("users list:\n%s", out)
	}
	if out := must("users", "get", "dev"); !strings.Contains(out, `"visibility": "private"`) {
		t.Fatalf("users get:\n%s", out)
	}
	must("orgs", "create", "team", "-private")
	if out := must("orgs", "get", "team"); !strings.Contains(out, `"name": "team"`) {
		t.Fatalf("orgs get:\n%s", out)
	}
	must("members", "set", "team", "dev", "-role", "write")
	if out := must("members", "list", "team"); !strings.Contains(out, `"role": "write"`) {
		t.Fatalf("members list:\n%s", out)
	}
	// Tokens of dev, created with dev's password.
	out := must("-user", "dev", "-password", "dev-password-123", "tokens", "create", "dev", "ci", "-scopes", "write:packages")
	var tok struct {
		ID   int64  `json:"id"`
		SHA1 string `json:"sha1"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || len(tok.SHA1) != 40 {
		t.Fatalf("tokens create: %v\n%s", err, out)
	}
	if out := must("-user", "dev", "-password", "dev-password-123", "whoami"); !strings.Contains(out, `"login": "dev"`) {
		t.Fatalf("whoami:\n%s", out)
	}
	// Deploy token of the organization, by the admin.
	if out := must("tokens", "create", "-deploy", "team", "pull", "-scopes", "read:packages", "-types", "container"); !strings.Contains(out, `"sha1"`) {
		t.Fatalf("deploy token:\n%s", out)
	}
	if out := must("tokens", "list", "-deploy", "team"); !strings.Contains(out, `"name": "pull"`) || strings.Contains(out, tok.SHA1) {
		t.Fatalf("deploy tokens list:\n%s", out)
	}

	img, err := random.Image(20_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "dev", Password: tok.SHA1})); err != nil {
		t.Fatalf("push with the token: %v", err)
	}
	if _, err := remote.Image(ref); err == nil {
		t.Fatal("anonymous pull of a private organization's image succeeded")
	}

	must("-user", "dev", "-password", "dev-password-123", "tokens", "delete", "dev", "ci")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "dev", Password: tok.SHA1})); err == nil {
		t.Fatal("push with a deleted token succeeded")
	}
	if _, err := admin("-password", "wrong", "users", "list"); err == nil {
		t.Fatal("admin with a wrong password succeeded")
	}
	if _, err := admin("users", "frobnicate"); err == nil {
		t.Fatal("unknown verb succeeded")
	}
	must("users", "delete", "dev")

	// team still owns team/app: it goes only with -purge, and the name
	// then starts empty.
	if out, err := admin("orgs", "delete", "team"); err == nil {
		t.Fatalf("orgs delete of an organization with a repository succeeded:\n%s", out)
	}
	must("orgs", "delete", "team", "-purge")
	must("orgs", "create", "team", "-private")
	adminAuth := remote.WithAuth(&authn.Basic{Username: "admin", Password: adminPW})
	if _, err := remote.Image(ref, adminAuth); err == nil {
		t.Fatal("the recreated organization inherited team/app")
	}
}
