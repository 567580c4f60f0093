package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// TestBearerTokenScopedToRegistry: a bearer token of /v2/token names OCI
// repositories; it is no key to the generic package of the same name, nor
// to the owner's package listing beyond the repositories it names. Its
// refusals outside /v2 are 403 (insufficient scope), not 401.
func TestBearerTokenScopedToRegistry(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	alice := basic("alice", pw)
	e.pushImage("alice/app", "v1", alice)
	e.pushImage("alice/secret", "v1", alice)
	e.uploadFile("alice", "tool", "1.0", "tool.bin", alice)

	jwt, resp := e.tokenFor(client{user: "alice", pass: pw}, "repository:alice/tool:pull,push,delete repository:alice/app:pull")
	if jwt == "" {
		t.Fatalf("token: %s", resp)
	}
	bearer := "Bearer " + jwt
	forbidden := func(what string, resp response) {
		t.Helper()
		if resp.status != http.StatusForbidden {
			t.Fatalf("%s with a registry bearer token: %s, want 403", what, resp)
		}
		if !strings.Contains(string(resp.body), "bearer token does not cover") {
			t.Fatalf("%s: message %q does not say why", what, resp.body)
		}
	}
	forbidden("generic upload", e.send(http.MethodPut, "/api/packages/alice/generic/tool/2.0/tool.bin", bearer, []byte("evil")))
	forbidden("generic download", e.send(http.MethodGet, "/api/packages/alice/generic/tool/1.0/tool.bin", bearer, nil))
	forbidden("generic file delete", e.send(http.MethodDelete, "/api/packages/alice/generic/tool/1.0/tool.bin", bearer, nil))
	forbidden("generic version delete", e.send(http.MethodDelete, "/api/packages/alice/generic/tool/1.0", bearer, nil))
	forbidden("management version", e.send(http.MethodGet, "/api/v1/packages/alice/generic/tool/1.0", bearer, nil))
	forbidden("management delete", e.send(http.MethodDelete, "/api/v1/packages/alice/generic/tool/1.0", bearer, nil))
	forbidden("container package it does not name", e.send(http.MethodGet, "/api/v1/packages/alice/container/secret", bearer, nil))
	if resp := e.send(http.MethodGet, "/api/packages/alice/generic/tool/1.0/tool.bin", alice, nil); resp.status != http.StatusOK || string(resp.body) != "bytes of tool.bin" {
		t.Fatalf("the package after the refused requests: %s", resp)
	}

	// The listing shows only the container repository the token names.
	resp = e.send(http.MethodGet, "/api/v1/packages/alice", bearer, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("listing with the bearer token: %s", resp)
	}
	var list []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(resp.body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Type != "container" || list[0].Name != "app" {
		t.Fatalf("listing with a token for alice/app = %+v, want only container app", list)
	}
	if resp := e.send(http.MethodGet, "/api/v1/packages/alice/container/app", bearer, nil); resp.status != http.StatusOK {
		t.Fatalf("container package the token names: %s", resp)
	}
	// A token naming nothing of alice lists nothing of alice.
	other, _ := e.tokenFor(client{user: "alice", pass: pw}, "")
	forbidden("listing with a token naming no repository", e.send(http.MethodGet, "/api/v1/packages/alice", "Bearer "+other, nil))

	// On /v2 the token works as before, and a scope it lacks is the
	// challenge of the token flow.
	if resp := e.send(http.MethodGet, "/v2/alice/app/manifests/v1", bearer, nil); resp.status != http.StatusOK {
		t.Fatalf("/v2 pull with the token: %s", resp)
	}
	resp = e.send(http.MethodGet, "/v2/alice/secret/manifests/v1", bearer, nil)
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("/v2 pull outside the token's scope: %s %q", resp, resp.header.Get("WWW-Authenticate"))
	}
}

// TestNoOwnerEnumeration: a stranger gets the same answer for an owner
// that does not exist and for a private owner it may not see, on the
// user, package and token routes, anonymous or signed in.
func TestNoOwnerEnumeration(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("hidden", pw, metadata.VisibilityPrivate, false)
	e.user("stranger", pw, metadata.VisibilityPrivate, false)
	e.org("hiddenorg", metadata.VisibilityPrivate, map[string]metadata.Role{"hidden": metadata.RoleAdmin})
	e.uploadFile("hidden", "tool", "1.0", "tool.bin", basic("hidden", pw))
	strangerTok, _ := e.token(metadata.TokenPersonal, "stranger", "ci", "write:packages")
	callers := map[string]string{
		"anonymous":        "",
		"stranger":         basic("stranger", pw),
		"stranger's token": "token " + strangerTok,
	}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/users/%s"},
		{http.MethodGet, "/api/v1/users/%s/tokens"},
		{http.MethodPost, "/api/v1/users/%s/tokens"},
		{http.MethodDelete, "/api/v1/users/%s/tokens/1"},
		{http.MethodGet, "/api/v1/owners/%s/deploy_tokens"},
		{http.MethodPost, "/api/v1/owners/%s/deploy_tokens"},
		{http.MethodGet, "/api/v1/orgs/%s"},
		{http.MethodPatch, "/api/v1/orgs/%s"},
		{http.MethodDelete, "/api/v1/orgs/%s"},
		{http.MethodGet, "/api/v1/orgs/%s/members"},
		{http.MethodPut, "/api/v1/orgs/%s/members/stranger"},
		{http.MethodDelete, "/api/v1/orgs/%s/members/stranger"},
		{http.MethodGet, "/api/v1/packages/%s"},
		{http.MethodGet, "/api/v1/packages/%s/generic/tool"},
		{http.MethodGet, "/api/v1/packages/%s/generic/tool/1.0"},
		{http.MethodDelete, "/api/v1/packages/%s/generic/tool/1.0"},
		{http.MethodGet, "/api/packages/%s/generic/tool/1.0/tool.bin"},
		{http.MethodPut, "/api/packages/%s/generic/tool/2.0/tool.bin"},
		{http.MethodDelete, "/api/packages/%s/generic/tool/1.0"},
	}
	for who, authz := range callers {
		for _, rt := range routes {
			for _, pair := range [][2]string{{"hidden", "nosuchuser"}, {"hiddenorg", "nosuchorg"}} {
				get := func(name string) response {
					return e.send(rt.method, strings.Replace(rt.path, "%s", name, 1), authz, []byte(`{"name":"x","scopes":["read:packages"],"role":"read"}`), "Content-Type", "application/json")
				}
				hidden, missing := get(pair[0]), get(pair[1])
				same := hidden.status == missing.status &&
					strings.ReplaceAll(string(hidden.body), pair[0], "NAME") == strings.ReplaceAll(string(missing.body), pair[1], "NAME")
				if !same {
					t.Errorf("%s %s as %s: private owner %s answers %s, missing owner %s answers %s", rt.method, rt.path, who, pair[0], hidden, pair[1], missing)
				}
				if hidden.status < 400 {
					t.Errorf("%s %s as %s: %s succeeded: %s", rt.method, rt.path, who, pair[0], hidden)
				}
			}
		}
	}
}

// TestTokenScopesCapped: the token endpoint refuses (400, OCI JSON) more
// scopes than auth.MaxScopes, and scopes whose token its own verifier
// would reject as too long, instead of minting it; what it does issue
// verifies.
func TestTokenScopesCapped(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	alice := basic("alice", pw)
	get := func(scopes []string) response {
		q := url.Values{"service": {"regkit-test"}, "scope": scopes}
		return e.send(http.MethodGet, "/v2/token?"+q.Encode(), alice, nil)
	}
	many := make([]string, 10_000)
	for i := range many {
		many[i] = fmt.Sprintf("repository:alice/r%d:pull,push", i)
	}
	for _, c := range []struct {
		name   string
		scopes []string
	}{
		{"10,000 scopes", many},
		{"10,000 scopes in one parameter", []string{strings.Join(many, " ")}},
		{"one more than the cap", many[:auth.MaxScopes+1]},
		{"one more than the cap in one parameter", []string{strings.Join(many[:auth.MaxScopes+1], " ")}},
	} {
		resp := get(c.scopes)
		if resp.status != http.StatusBadRequest || !strings.Contains(string(resp.body), `"errors"`) || !strings.Contains(string(resp.body), "at most") {
			t.Fatalf("%s: %s, want 400 with an OCI error saying the limit", c.name, resp)
		}
	}
	// MaxScopes scopes of the longest repository names the owner has: the
	// token would be too long to verify.
	long := make([]string, auth.MaxScopes)
	for i := range long {
		name := fmt.Sprintf("alice/%02d", i)
		name += "/" + strings.Repeat("x", oci.MaxRepositoryLength-len(name)-1)
		long[i] = "repository:" + name + ":pull,push,delete"
	}
	if resp := get(long); resp.status != http.StatusBadRequest || !strings.Contains(string(resp.body), "fewer scopes") {
		t.Fatalf("scopes too long for a token: %s, want 400", resp)
	}
	// Within the limits: issued, and accepted on /v2.
	for n := 1; n <= auth.MaxScopes; n++ {
		resp := get(long[:n])
		if resp.status == http.StatusBadRequest {
			continue
		}
		if resp.status != http.StatusOK {
			t.Fatalf("%d long scopes: %s", n, resp)
		}
		var tr struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(resp.body, &tr); err != nil {
			t.Fatal(err)
		}
		name := strings.Split(long[n-1], ":")[1]
		check := e.send(http.MethodGet, "/v2/"+name+"/tags/list", "Bearer "+tr.Token, nil)
		if check.status == http.StatusUnauthorized {
			t.Fatalf("the token issued for %d scopes is refused: %s %q", n, check, check.header.Get("WWW-Authenticate"))
		}
	}
}

// TestAccountsAPIValidation: duplicate JSON keys (also differing only in
// case), role strings that are not exactly a role, and token names with
// control characters are refused, and change nothing.
func TestAccountsAPIValidation(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("root", pw, metadata.VisibilityPrivate, true)
	e.user("dev", pw, metadata.VisibilityPrivate, false)
	e.org("team", metadata.VisibilityPrivate, nil)
	root, dev := basic("root", pw), basic("dev", pw)
	send := func(method, path, authz, body string) response {
		return e.send(method, path, authz, []byte(body), "Content-Type", "application/json")
	}
	role := func() metadata.Role {
		m, err := e.ident.GetMember(t.Context(), "team", "dev")
		if err != nil {
			return ""
		}
		return m.Role
	}

	for _, c := range []struct{ method, path, authz, body string }{
		{http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{"role":"read","role":"admin"}`},
		{http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{"role":"read","ROLE":"admin"}`},
		{http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{"role":"read","\u0072ole":"admin"}`},
		{http.MethodPost, "/api/v1/admin/users", root, `{"username":"eve","password":"eve-password-1","admin":false,"Admin":true}`},
		{http.MethodPost, "/api/v1/users/dev/tokens", dev, `{"name":"ci","scopes":["read:packages"],"scopes":["write:packages"]}`},
		{http.MethodPost, "/api/v1/orgs", dev, `{"username":"x","visibility":"private","extra":{"a":1,"a":2}}`},
		{http.MethodPost, "/api/v1/orgs", dev, `{"username":"y","nested":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
	} {
		if resp := send(c.method, c.path, c.authz, c.body); resp.status != http.StatusBadRequest {
			t.Errorf("%s %s %s: %s, want 400", c.method, c.path, c.body, resp)
		}
	}
	if role() != "" {
		t.Fatalf("a refused request made dev a member with role %q", role())
	}
	for _, name := range []string{"eve", "x", "y"} {
		if _, err := e.ident.GetAccount(t.Context(), name); err == nil {
			t.Fatalf("a refused request created account %s", name)
		}
	}

	for _, bad := range []string{`"Admin"`, `"ADMIN"`, `" admin"`, `"admin\u0000"`, `"owner"`, `""`, `1`} {
		resp := send(http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{"role":`+bad+`}`)
		if resp.status != http.StatusUnprocessableEntity && resp.status != http.StatusBadRequest {
			t.Errorf("role %s: %s, want 422 (or 400 for a non-string)", bad, resp)
		}
	}
	if role() != "" {
		t.Fatalf("a refused role made dev a member with role %q", role())
	}
	if resp := send(http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{"role":"write"}`); resp.status != http.StatusNoContent || role() != metadata.RoleWrite {
		t.Fatalf("role write: %s, role %q", resp, role())
	}
	if resp := send(http.MethodPut, "/api/v1/orgs/team/members/dev", root, `{}`); resp.status != http.StatusNoContent || role() != metadata.RoleRead {
		t.Fatalf("no role: %s, role %q, want read", resp, role())
	}

	for _, bad := range []string{`"ci\n"`, `"ci\u001b[31m"`, `"\u202eic"`, `"ci\u0000"`, `"c\u2066i"`, `"\u0085"`} {
		resp := send(http.MethodPost, "/api/v1/users/dev/tokens", dev, `{"name":`+bad+`,"scopes":["read:packages"]}`)
		if resp.status != http.StatusBadRequest || !strings.Contains(jsonMessage(t, resp), "control character") {
			t.Errorf("token name %s: %s, want 400 naming the control character", bad, resp)
		}
		resp = send(http.MethodPost, "/api/v1/owners/dev/deploy_tokens", dev, `{"name":`+bad+`,"scopes":["read:packages"]}`)
		if resp.status != http.StatusBadRequest {
			t.Errorf("deploy token name %s: %s, want 400", bad, resp)
		}
	}
	if ts, err := e.ident.Tokens(t.Context(), "dev", metadata.TokenPersonal); err != nil || len(ts) != 0 {
		t.Fatalf("refused token names created tokens: %v %v", ts, err)
	}
	if resp := send(http.MethodPost, "/api/v1/users/dev/tokens", dev, `{"name":"ci – büild ✓","scopes":["read:packages"]}`); resp.status != http.StatusCreated {
		t.Fatalf("a token name with ordinary Unicode: %s", resp)
	}
}
