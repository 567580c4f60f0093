package server_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// TestAuthManifestRoundTrips counts the Redis round trips of a manifest
// GET and HEAD by tag with auth mode tokens, for a bearer token, a
// personal token and an anonymous caller of a public owner: at most two
// (the identity version and the manifest). A revocation, a visibility
// change and a membership change on another replica still take effect at
// the next request.
func TestAuthManifestRoundTrips(t *testing.T) {
	addr := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	counted := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { counted.Close() })
	n := redistest.CountRoundTrips(counted)
	a := newAuthServer(t, redismeta.New(admin), "", nil, nil)
	b := newAuthServer(t, redismeta.New(counted), "", nil, nil)
	a.user("alice", pw, metadata.VisibilityPrivate, false)
	a.user("bob", pw, metadata.VisibilityPrivate, false)
	a.org("acme", metadata.VisibilityPrivate, map[string]metadata.Role{"bob": metadata.RoleRead})
	a.pushImage("alice/app", "v1", basic("alice", pw))
	a.user("root", pw, metadata.VisibilityPrivate, true)
	a.pushImage("acme/app", "v1", basic("root", pw))
	secret, tok := a.token(metadata.TokenPersonal, "alice", "ci", auth.ScopeReadPackages)
	jwt, resp := a.tokenFor(client{user: "alice", pass: secret}, "repository:alice/app:pull")
	if jwt == "" {
		t.Fatalf("bearer token: %s", resp)
	}
	bobSecret, _ := a.token(metadata.TokenPersonal, "bob", "ci", auth.ScopeReadPackages)
	accept := "Accept"
	mt := "application/vnd.oci.image.manifest.v1+json"
	count := func(what, method, path, authz string, want int) {
		t.Helper()
		for i := range 3 { // the first request fills the caches
			n.Store(0)
			resp := b.send(method, path, authz, nil, accept, mt)
			if resp.status != want {
				t.Fatalf("%s %s (%d): %s", what, method, i, resp)
			}
			if got := n.Load(); i > 0 && got > 2 {
				t.Errorf("%s %s: %d Redis round trips, want at most 2", what, method, got)
			}
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		count("bearer token", m, "/v2/alice/app/manifests/v1", "Bearer "+jwt, http.StatusOK)
		count("personal token", m, "/v2/alice/app/manifests/v1", "token "+secret, http.StatusOK)
		count("member's token", m, "/v2/acme/app/manifests/v1", "token "+bobSecret, http.StatusOK)
	}
	// Anonymous callers of a private owner are challenged; once it is
	// public (changed on replica A), B serves them at once.
	count("anonymous, private", http.MethodGet, "/v2/alice/app/manifests/v1", "", http.StatusUnauthorized)
	acc, err := a.ident.GetAccount(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	acc.Visibility = metadata.VisibilityPublic
	if err := a.ident.UpdateAccount(t.Context(), acc); err != nil {
		t.Fatal(err)
	}
	anon, resp := b.tokenFor(client{}, "repository:alice/app:pull")
	if anon == "" {
		t.Fatalf("anonymous token: %s", resp)
	}
	count("anonymous bearer, public", http.MethodGet, "/v2/alice/app/manifests/v1", "Bearer "+anon, http.StatusOK)
	// A membership removed on A is gone on B at the next request.
	if err := a.ident.DeleteMember(t.Context(), "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if resp := b.send(http.MethodGet, "/v2/acme/app/manifests/v1", "token "+bobSecret, nil, accept, mt); resp.status != http.StatusForbidden {
		t.Errorf("removed member on B: %s", resp)
	}
	// A token revoked on A is refused by B at the next request, directly
	// and behind its bearer token.
	if resp := a.send(http.MethodDelete, "/api/v1/users/alice/tokens/"+strconv.FormatInt(tok.ID, 10), basic("alice", pw), nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete token on A: %s", resp)
	}
	for what, authz := range map[string]string{"bearer token": "Bearer " + jwt, "personal token": "token " + secret} {
		if resp := b.send(http.MethodGet, "/v2/alice/app/manifests/v1", authz, nil, accept, mt); resp.status != http.StatusUnauthorized {
			t.Errorf("revoked %s on B: %s", what, resp)
		}
	}
}

// TestOpenManifestRoundTrips counts the Redis round trips of a manifest
// GET and HEAD by tag and by digest through the whole server (server/oci
// over registry/local) on an open registry: exactly one each.
func TestOpenManifestRoundTrips(t *testing.T) {
	addr := redistest.Start(t)
	counted := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { counted.Close() })
	n := redistest.CountRoundTrips(counted)
	base := newServer(t, redismeta.New(counted), "mem://")
	cfg := []byte(`{}`)
	cd := digest.FromBytes(cfg)
	if resp, body := do(t, http.MethodPost, base+"/v2/alice/app/blobs/uploads/?digest="+cd.String(), bytes.NewReader(cfg)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push config: %d %s", resp.StatusCode, body)
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() + `","size":2},"layers":[]}`)
	if resp, body := do(t, http.MethodPut, base+"/v2/alice/app/manifests/v1", bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest: %d %s", resp.StatusCode, body)
	}
	for _, ref := range []string{"v1", digest.FromBytes(m).String()} {
		for i, method := range []string{http.MethodGet, http.MethodHead, http.MethodGet} {
			n.Store(0)
			if resp, body := do(t, method, base+"/v2/alice/app/manifests/"+ref, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d %s", method, ref, resp.StatusCode, body)
			}
			if got := n.Load(); got != 1 && i > 0 { // the first may open a connection
				t.Errorf("%s manifest %s: %d Redis round trips, want 1", method, ref, got)
			}
		}
	}
}
