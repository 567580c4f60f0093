package server_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
)

// TestAuthLimitedVisibility: Gitea's "limited" visibility is stored and
// shown as such, and lets every signed-in user (not anonymous callers)
// read the owner, its images and its packages.
func TestAuthLimitedVisibility(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "bolt"), "", nil, nil)
	e.user("root", pw, metadata.VisibilityPrivate, true)
	e.user("bob", pw, metadata.VisibilityPrivate, false)
	root, bob := basic("root", pw), basic("bob", pw)
	resp := e.send(http.MethodPost, "/api/v1/admin/users", root,
		[]byte(`{"username":"lim","password":"`+pw+`","email":"lim@example.com","visibility":"limited"}`), "Content-Type", "application/json")
	if resp.status != http.StatusCreated || !bytes.Contains(resp.body, []byte(`"visibility":"limited"`)) {
		t.Fatalf("create a limited user: %s", resp)
	}
	if a, err := e.ident.GetAccount(t.Context(), "lim"); err != nil || a.Visibility != metadata.VisibilityLimited {
		t.Fatalf("stored account %+v, %v", a, err)
	}
	lim := basic("lim", pw)
	e.pushImage("lim/app", "v1", lim)
	if resp := e.send(http.MethodPut, "/api/packages/lim/generic/tool/1.0.0/f.txt", lim, []byte("data")); resp.status != http.StatusCreated {
		t.Fatalf("upload: %s", resp)
	}
	accept := []string{"Accept", "application/vnd.oci.image.manifest.v1+json"}
	for _, c := range []struct {
		who   string
		authz string
		cl    client
		want  int // OCI pull; the API reads answer the same
	}{
		{"signed-in user", bob, client{user: "bob", pass: pw}, http.StatusOK},
		{"anonymous", "", client{}, http.StatusUnauthorized},
	} {
		if got := e.oci(c.cl, http.MethodGet, "/v2/lim/app/manifests/v1", nil, accept...); got.status != c.want {
			t.Errorf("%s: pull: %s, want %d", c.who, got, c.want)
		}
		for _, path := range []string{"/api/v1/users/lim", "/api/v1/packages/lim", "/api/packages/lim/generic/tool/1.0.0/f.txt"} {
			if got := e.send(http.MethodGet, path, c.authz, nil); got.status != c.want {
				t.Errorf("%s: GET %s: %s, want %d", c.who, path, got, c.want)
			}
		}
	}
	// Reading is all it gives.
	if got := e.send(http.MethodPut, "/api/packages/lim/generic/tool/1.0.1/f.txt", bob, []byte("x")); got.status != http.StatusForbidden {
		t.Errorf("bob uploads to lim: %s, want 403", got)
	}
	// A limited organization: its members stay members-only, but any
	// signed-in user sees the organization.
	resp = e.send(http.MethodPatch, "/api/v1/admin/users/lim", root, []byte(`{"visibility":"private"}`), "Content-Type", "application/json")
	if resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"visibility":"private"`) {
		t.Fatalf("make lim private: %s", resp)
	}
	if got := e.oci(client{user: "bob", pass: pw}, http.MethodGet, "/v2/lim/app/manifests/v1", nil, accept...); got.status != http.StatusForbidden {
		t.Errorf("bob pulls private lim: %s, want 403", got)
	}
	e.org("team", metadata.VisibilityLimited, nil)
	if got := e.send(http.MethodGet, "/api/v1/orgs/team", bob, nil); got.status != http.StatusOK || !strings.Contains(string(got.body), `"visibility":"limited"`) {
		t.Errorf("bob reads the limited org: %s", got)
	}
	if got := e.send(http.MethodGet, "/api/v1/orgs/team", "", nil); got.status != http.StatusUnauthorized {
		t.Errorf("anonymous reads the limited org: %s, want 401", got)
	}
}

// TestAuthSiteAdminExemptFromLimits: as in Gitea, quotas and the file-size
// limit do not apply to uploads by site admins (password or token); they
// apply to everyone else, the owner included.
func TestAuthSiteAdminExemptFromLimits(t *testing.T) {
	meta := newMeta(t, "mem")
	q := quota.New(meta, quota.WithLimit("alice", 100))
	e := newAuthServerWith(t, meta, "", nil, nil, server.WithQuota(q), server.WithGenericMaxFileSize(150))
	e.user("root", pw, metadata.VisibilityPrivate, true)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	rootTok, _ := e.token(metadata.TokenPersonal, "root", "ci", auth.ScopeWritePackages)
	big := bytes.Repeat([]byte("x"), 200)
	for _, c := range []struct {
		who   string
		authz string
		want  int
	}{
		{"alice", basic("alice", pw), http.StatusForbidden},
		{"root", basic("root", pw), http.StatusCreated},
		{"root's token", "token " + rootTok, http.StatusCreated},
	} {
		file := "/api/packages/alice/generic/tool/1.0.0/" + "f" + strconv.Itoa(len(c.authz)) + ".bin"
		if got := e.send(http.MethodPut, file, c.authz, big); got.status != c.want {
			t.Errorf("%s: a 200-byte file over the 150-byte limit and alice's 100-byte quota: %s, want %d", c.who, got, c.want)
		}
		blob := append([]byte(c.who), big...)
		d := digest.FromBytes(blob)
		authz := c.authz
		if strings.HasPrefix(authz, "token ") {
			authz = basic("root", rootTok)
		}
		got := e.send(http.MethodPost, "/v2/alice/app/blobs/uploads/?digest="+d.String(), authz, blob, "Content-Type", "application/octet-stream")
		if got.status != c.want {
			t.Errorf("%s: a blob over alice's quota: %s, want %d", c.who, got, c.want)
		}
	}
}
