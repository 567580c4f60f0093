package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// tokenJSON is the token API's token object.
type tokenJSON struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	SHA1           string   `json:"sha1"`
	TokenLastEight string   `json:"token_last_eight"`
	Scopes         []string `json:"scopes"`
}

// createToken creates a personal token through the API.
func (e *authEnv) createToken(user, password, name string, scopes ...string) tokenJSON {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes})
	resp := e.send(http.MethodPost, "/api/v1/users/"+user+"/tokens", basic(user, password), body, "Content-Type", "application/json")
	if resp.status != http.StatusCreated {
		e.t.Fatalf("create token: %s", resp)
	}
	var tok tokenJSON
	if err := json.Unmarshal(resp.body, &tok); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// TestAuthDockerLogin walks the docker login flow and checks the
// challenge, the token response and Basic directly on /v2.
func TestAuthDockerLogin(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)

	resp := e.send(http.MethodGet, "/v2/", "", nil)
	if resp.status != http.StatusUnauthorized || !bytes.Contains(resp.body, []byte(`"UNAUTHORIZED"`)) {
		t.Fatalf("anonymous GET /v2/: %s", resp)
	}
	want := fmt.Sprintf(`Bearer realm="%s/v2/token",service="regkit-test"`, e.base)
	if got := resp.header.Get("WWW-Authenticate"); got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	resp = e.send(http.MethodPost, "/v2/alice/app/blobs/uploads/", "", nil)
	want = fmt.Sprintf(`Bearer realm="%s/v2/token",service="regkit-test",scope="repository:alice/app:pull,push"`, e.base)
	if got := resp.header.Get("WWW-Authenticate"); resp.status != 401 || got != want {
		t.Fatalf("anonymous push: %s, challenge %q, want %q", resp, got, want)
	}
	resp = e.send(http.MethodDelete, "/v2/alice/app/manifests/v1", "", nil)
	if got := resp.header.Get("WWW-Authenticate"); !strings.HasSuffix(got, `scope="repository:alice/app:delete"`) {
		t.Fatalf("delete challenge %q", got)
	}
	resp = e.send(http.MethodPost, "/v2/alice/app/blobs/uploads/?mount=sha256:"+strings.Repeat("a", 64)+"&from=bob/lib", "", nil)
	if got := resp.header.Get("WWW-Authenticate"); !strings.HasSuffix(got, `scope="repository:alice/app:pull,push repository:bob/lib:pull"`) {
		t.Fatalf("mount challenge %q", got)
	}

	before := time.Now().Add(-time.Second)
	resp = e.send(http.MethodGet, "/v2/token?service=regkit-test&scope=repository:alice/app:pull,push&scope=repository:bob/x:pull", basic("alice", pw), nil)
	if resp.status != http.StatusOK {
		t.Fatalf("token: %s", resp)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil {
		t.Fatal(err)
	}
	issued, err := time.Parse(time.RFC3339, tr.IssuedAt)
	if tr.Token == "" || tr.AccessToken != tr.Token || tr.ExpiresIn != int(auth.DefaultTokenExpiry/time.Second) || err != nil || issued.Before(before.Truncate(time.Second)) {
		t.Fatalf("token response %s", resp.body)
	}
	// The granted access is the intersection: nothing on bob/x.
	claims, err := auth.VerifyJWT([][]byte{testKey}, "regkit-test", tr.Token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Access) != 1 || claims.Access[0].Name != "alice/app" || strings.Join(claims.Access[0].Actions, ",") != "pull,push" || claims.Subject != "alice" {
		t.Fatalf("claims %+v", claims)
	}
	if resp := e.send(http.MethodGet, "/v2/", "Bearer "+tr.Token, nil); resp.status != http.StatusOK {
		t.Fatalf("GET /v2/ with the token: %s", resp)
	}
	// The token is for alice/app only.
	if resp := e.send(http.MethodPost, "/v2/alice/other/blobs/uploads/", "Bearer "+tr.Token, nil); resp.status != http.StatusUnauthorized ||
		!strings.Contains(resp.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("token on another repository: %s %q", resp, resp.header.Get("WWW-Authenticate"))
	}
	// Basic directly on /v2 works too.
	e.pushImage("alice/app", "v1", basic("alice", pw))
	if resp := e.send(http.MethodGet, "/v2/alice/app/manifests/v1", basic("alice", pw), nil); resp.status != http.StatusOK {
		t.Fatalf("pull with Basic: %s", resp)
	}
	// Wrong password at the token endpoint: 401 with a Basic challenge.
	resp = e.send(http.MethodGet, "/v2/token?scope=repository:alice/app:pull", basic("alice", "wrong-password"), nil)
	if resp.status != http.StatusUnauthorized || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("token with a wrong password: %s", resp)
	}
}

// TestAuthGGCR pushes and pulls through go-containerregistry's token flow
// with a user's token as the password.
func TestAuthGGCR(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "bolt"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	tok := e.createToken("alice", pw, "ggcr", "write:package")
	host := strings.TrimPrefix(e.base, "http://")
	img, err := random.Image(50_000, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/alice/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	creds := remote.WithAuth(&authn.Basic{Username: "alice", Password: tok.SHA1})
	if err := remote.Write(ref, img, creds); err != nil {
		t.Fatalf("push: %v", err)
	}
	got, err := remote.Image(ref, creds)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	compareImages(t, img, got)
	if _, err := remote.Image(ref); err == nil {
		t.Fatal("anonymous pull of a private image succeeded")
	}
	other, _ := name.ParseReference(host+"/bob/app:v1", name.Insecure)
	if err := remote.Write(other, img, creds); err == nil {
		t.Fatal("push into another owner's namespace succeeded")
	}
}

// TestAuthRevocationAcrossReplicas revokes a token on one replica and
// checks that the other refuses it at once, and every bearer token issued
// for it.
func TestAuthRevocationAcrossReplicas(t *testing.T) {
	addr := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	a := newAuthServer(t, redismeta.New(c), "", nil, nil)
	b := newAuthServer(t, redismeta.New(c), "", nil, nil)
	a.user("alice", pw, metadata.VisibilityPrivate, false)
	tok := a.createToken("alice", pw, "ci", "write:packages")
	// A bearer token from replica A, used on replica B.
	jwt, resp := a.tokenFor(client{user: "alice", pass: tok.SHA1}, "repository:alice/app:pull,push")
	if jwt == "" {
		t.Fatalf("token on A: %s", resp)
	}
	if resp := b.send(http.MethodPost, "/v2/alice/app/blobs/uploads/", "Bearer "+jwt, nil); resp.status != http.StatusAccepted {
		t.Fatalf("A's bearer token on B: %s", resp)
	}
	if resp := b.send(http.MethodPost, "/v2/alice/app/blobs/uploads/", basic("alice", tok.SHA1), nil); resp.status != http.StatusAccepted {
		t.Fatalf("the token on B: %s", resp)
	}
	if resp := a.send(http.MethodDelete, "/api/v1/users/alice/tokens/"+strconv.FormatInt(tok.ID, 10), basic("alice", pw), nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete token on A: %s", resp)
	}
	for what, authz := range map[string]string{"bearer token": "Bearer " + jwt, "basic token": basic("alice", tok.SHA1), "token header": "token " + tok.SHA1} {
		if resp := b.send(http.MethodPost, "/v2/alice/app/blobs/uploads/", authz, nil); resp.status != http.StatusUnauthorized {
			t.Errorf("revoked %s on B: %s", what, resp)
		}
	}
	if _, resp := b.tokenFor(client{user: "alice", pass: tok.SHA1}, "repository:alice/app:pull"); resp.status != http.StatusUnauthorized {
		t.Errorf("token endpoint on B with the revoked token: %s", resp)
	}
	// A password change invalidates bearer tokens from password logins.
	jwt, _ = b.tokenFor(client{user: "alice", pass: pw}, "repository:alice/app:pull")
	body := []byte(`{"password":"another-long-password"}`)
	a.user("root", pw, metadata.VisibilityPrivate, true)
	if resp := a.send(http.MethodPatch, "/api/v1/admin/users/alice", basic("root", pw), body); resp.status != http.StatusOK {
		t.Fatalf("password change: %s", resp)
	}
	if resp := b.send(http.MethodGet, "/v2/alice/app/tags/list", "Bearer "+jwt, nil); resp.status != http.StatusUnauthorized {
		t.Errorf("bearer token after a password change: %s", resp)
	}
}

// TestAuthRateLimit checks 429 with Retry-After per client IP and per
// token, the failed-login lockout, and that replicas on Redis share them.
func TestAuthRateLimit(t *testing.T) {
	t.Run("per IP, shared by replicas on Redis", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { c.Close() })
		limit := func(cfg *auth.Config) { cfg.Limits.PerIP = 6 }
		a := newAuthServer(t, redismeta.New(c), "", nil, limit)
		b := newAuthServer(t, redismeta.New(c), "", nil, limit)
		for i := range 6 {
			e := a
			if i%2 == 1 {
				e = b
			}
			if resp := e.send(http.MethodGet, "/v2/", "", nil); resp.status != http.StatusUnauthorized {
				t.Fatalf("request %d: %s", i+1, resp)
			}
		}
		resp := b.send(http.MethodGet, "/v2/", "", nil)
		ra, _ := strconv.Atoi(resp.header.Get("Retry-After"))
		if resp.status != http.StatusTooManyRequests || !bytes.Contains(resp.body, []byte(`"TOOMANYREQUESTS"`)) || ra < 1 || ra > 60 {
			t.Fatalf("7th request: %s, Retry-After %q", resp, resp.header.Get("Retry-After"))
		}
		resp = a.send(http.MethodGet, "/api/v1/user", "", nil)
		if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" || !bytes.Contains(resp.body, []byte(`"message"`)) {
			t.Fatalf("/api after the limit: %s", resp)
		}
	})
	t.Run("per client behind a trusted proxy", func(t *testing.T) {
		limit := func(cfg *auth.Config) { cfg.Limits.PerIP = 3 }
		local, err := server.ParseTrustedProxies("127.0.0.1,::1")
		if err != nil {
			t.Fatal(err)
		}
		behind := newAuthServerWith(t, newMeta(t, "mem"), "", nil, limit, server.WithTrustedProxies(local))
		direct := newAuthServer(t, newMeta(t, "mem"), "", nil, limit)
		statuses := func(e *authEnv, clients ...string) []int {
			var out []int
			for _, c := range clients {
				// The client's own claim (left) is never believed.
				out = append(out, e.send(http.MethodGet, "/v2/", "", nil, "X-Forwarded-For", "203.0.113.66, "+c).status)
			}
			return out
		}
		a, b := "198.51.100.1", "198.51.100.2"
		if got := statuses(behind, a, a, a, a, b, b); !slices.Equal(got, []int{401, 401, 401, 429, 401, 401}) {
			t.Fatalf("behind a trusted proxy, clients a×4 then b×2: %v (each client has its own limit of 3)", got)
		}
		if got := statuses(direct, a, a, b, b); !slices.Equal(got, []int{401, 401, 401, 429}) {
			t.Fatalf("X-Forwarded-For from an untrusted peer: %v (one limit for the peer)", got)
		}
	})
	t.Run("per token", func(t *testing.T) {
		e := newAuthServer(t, newMeta(t, "mem"), "", nil, func(cfg *auth.Config) { cfg.Limits.PerToken = 3 })
		e.user("alice", pw, metadata.VisibilityPublic, false)
		secret, _ := e.token(metadata.TokenPersonal, "alice", "t", auth.ScopeReadPackages)
		for i := range 3 {
			if resp := e.send(http.MethodGet, "/v2/", "token "+secret, nil); resp.status != http.StatusOK {
				t.Fatalf("request %d: %s", i+1, resp)
			}
		}
		if resp := e.send(http.MethodGet, "/v2/", "token "+secret, nil); resp.status != http.StatusTooManyRequests {
			t.Fatalf("4th request with the token: %s", resp)
		}
		// Anonymous requests of the same IP are not limited per token.
		if resp := e.send(http.MethodGet, "/v2/", "", nil); resp.status != http.StatusUnauthorized {
			t.Fatalf("anonymous request: %s", resp)
		}
	})
	t.Run("failed logins", func(t *testing.T) {
		e := newAuthServer(t, newMeta(t, "mem"), "", nil, func(cfg *auth.Config) { cfg.Limits.FailedLogins = 3 })
		e.user("alice", pw, metadata.VisibilityPublic, false)
		for i := range 3 {
			if resp := e.send(http.MethodGet, "/v2/token", basic("alice", "wrong-"+strconv.Itoa(i)), nil); resp.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %s", i+1, resp)
			}
		}
		resp := e.send(http.MethodGet, "/v2/token", basic("alice", pw), nil)
		if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" {
			t.Fatalf("right password after 3 failures: %s", resp)
		}
		// Anonymous reads go on.
		if resp := e.send(http.MethodGet, "/v2/token?scope=repository:alice/app:pull", "", nil); resp.status != http.StatusOK {
			t.Fatalf("anonymous token after the lockout: %s", resp)
		}
	})
}

// TestAuthMalformedCredentials: bad Authorization headers, over-long
// credentials, bogus and forged bearer tokens give 401, never 500, on
// every kind of route.
func TestAuthMalformedCredentials(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, func(c *auth.Config) { c.Limits.FailedLogins = -1 })
	e.user("alice", pw, metadata.VisibilityPublic, false)
	e.pushImage("alice/app", "v1", basic("alice", pw))
	now := time.Now()
	claims := auth.Claims{Issuer: "regkit-test", Audience: "regkit-test", Subject: "alice", IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expires: now.Add(time.Hour).Unix(), Access: []auth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push", "delete"}}}}
	forged, _ := auth.SignJWT([]byte("an-attacker's-key-0123456789abcdef"), claims)
	noStamp, _ := auth.SignJWT(testKey, claims) // right key but no password stamp
	claims.Expires = now.Add(-time.Minute).Unix()
	expired, _ := auth.SignJWT(testKey, claims)
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"iss":"regkit-test","aud":"regkit-test","sub":"alice","exp":9999999999}`)) + "."
	headers := map[string]string{
		"unknown scheme":       "Digest username=alice",
		"no value":             "Bearer",
		"bad base64":           "Basic %%%",
		"basic without colon":  "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")),
		"wrong password":       basic("alice", "not-the-password"),
		"unknown user":         basic("nobody", pw),
		"long password":        basic("alice", strings.Repeat("x", 5000)),
		"long header":          "Bearer " + strings.Repeat("a", 20000),
		"long user":            basic(strings.Repeat("u", 1000), "p"),
		"bogus bearer":         "Bearer not-a-token",
		"bogus jwt":            "Bearer aaaa.bbbb.cccc",
		"forged jwt":           "Bearer " + forged,
		"jwt without stamp":    "Bearer " + noStamp,
		"expired jwt":          "Bearer " + expired,
		"alg none":             "Bearer " + none,
		"unknown token":        "token 0123456789abcdef0123456789abcdef01234567",
		"binary":               "Basic \x00\x01\x02",
		"two spaces":           "Bearer a b",
		"basic of long secret": basic(strings.Repeat("a", 200), ""),
	}
	paths := []struct{ method, path string }{
		{http.MethodGet, "/v2/"},
		{http.MethodGet, "/v2/alice/app/manifests/v1"},
		{http.MethodPost, "/v2/alice/app/blobs/uploads/"},
		{http.MethodGet, "/v2/_catalog"},
		{http.MethodGet, "/v2/token?scope=repository:alice/app:pull"},
		{http.MethodGet, "/api/v1/user"},
		{http.MethodGet, "/api/v1/users/alice/tokens"},
	}
	for what, h := range headers {
		for _, p := range paths {
			req, _ := http.NewRequest(p.method, e.base+p.path, nil)
			req.Header["Authorization"] = []string{h}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// Go refuses to send some invalid header bytes at all.
				if what == "binary" {
					continue
				}
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s on %s %s: %d, want 401", what, p.method, p.path, resp.StatusCode)
			}
		}
	}
	// Two Authorization headers are refused too.
	req, _ := http.NewRequest(http.MethodGet, e.base+"/v2/", nil)
	req.Header["Authorization"] = []string{basic("alice", pw), basic("alice", pw)}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("two Authorization headers: %v %v", resp.StatusCode, err)
	}
	// ?token= is off by default.
	secret, _ := e.token(metadata.TokenPersonal, "alice", "q", auth.ScopeReadPackages)
	if resp := e.send(http.MethodGet, "/api/v1/user?token="+secret, "", nil); resp.status != http.StatusUnauthorized {
		t.Errorf("?token= while disabled: %s", resp)
	}
	q := newAuthServer(t, newMeta(t, "mem"), "", nil, func(c *auth.Config) { c.AllowQueryToken = true })
	q.user("alice", pw, metadata.VisibilityPublic, false)
	secret, _ = q.token(metadata.TokenPersonal, "alice", "q", auth.ScopeReadPackages)
	if resp := q.send(http.MethodGet, "/api/v1/user?token="+secret, "", nil); resp.status != http.StatusOK {
		t.Errorf("?token= while enabled: %s", resp)
	}
	if resp := q.send(http.MethodGet, "/api/v1/user?token=bogus", "", nil); resp.status != http.StatusUnauthorized {
		t.Errorf("bogus ?token=: %s", resp)
	}
}

// TestAuthCrossOwner: one owner's credentials cannot touch another's
// images or tokens.
func TestAuthCrossOwner(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	e.user("bob", pw, metadata.VisibilityPrivate, false)
	e.pushImage("bob/app", "v1", basic("bob", pw))
	aliceTok := e.createToken("alice", pw, "all", "write:packages", "delete:packages")
	bobTok := e.createToken("bob", pw, "ci", "read:packages")
	aliceDeploy, _ := e.token(metadata.TokenDeploy, "alice", "deploy", auth.ScopeWritePackages)
	for what, c := range map[string]client{
		"alice's password": {user: "alice", pass: pw},
		"alice's token":    {user: "alice", pass: aliceTok.SHA1},
		"alice's deploy":   {user: "x", pass: aliceDeploy},
		"token as bob":     {user: "bob", pass: aliceTok.SHA1}, // the user name does not matter, the token does
	} {
		for _, op := range []struct{ method, path string }{
			{http.MethodGet, "/v2/bob/app/manifests/v1"},
			{http.MethodPost, "/v2/bob/app/blobs/uploads/"},
			{http.MethodDelete, "/v2/bob/app/manifests/v1"},
		} {
			if resp := e.oci(c, op.method, op.path, nil); resp.status != http.StatusForbidden || !bytes.Contains(resp.body, []byte(`"DENIED"`)) {
				t.Errorf("%s: %s %s: %s, want 403 DENIED", what, op.method, op.path, resp)
			}
		}
		if repos, _ := e.catalog(c); len(repos) != 0 {
			t.Errorf("%s sees %v in the catalog", what, repos)
		}
	}
	bobID := strconv.FormatInt(bobTok.ID, 10)
	for what, r := range map[string]struct {
		method, path, authz string
		want                int
	}{
		"list bob's tokens with alice's password":         {http.MethodGet, "/api/v1/users/bob/tokens", basic("alice", pw), 403},
		"delete bob's token with alice's password":        {http.MethodDelete, "/api/v1/users/bob/tokens/" + bobID, basic("alice", pw), 403},
		"delete bob's token as if it were alice's":        {http.MethodDelete, "/api/v1/users/alice/tokens/" + bobID, basic("alice", pw), 404},
		"create a token for bob with alice's password":    {http.MethodPost, "/api/v1/users/bob/tokens", basic("alice", pw), 403},
		"list alice's tokens with alice's token":          {http.MethodGet, "/api/v1/users/alice/tokens", "token " + aliceTok.SHA1, 403},
		"create a token with a token":                     {http.MethodPost, "/api/v1/users/alice/tokens", basic("alice", aliceTok.SHA1), 403},
		"bob's deploy tokens with alice's deploy token":   {http.MethodGet, "/api/v1/owners/bob/deploy_tokens", "token " + aliceDeploy, 403},
		"alice's deploy tokens with alice's deploy token": {http.MethodGet, "/api/v1/owners/alice/deploy_tokens", "token " + aliceDeploy, 403},
	} {
		body := []byte(`{"name":"x","scopes":["read:packages"]}`)
		if resp := e.send(r.method, r.path, r.authz, body); resp.status != r.want {
			t.Errorf("%s: %s, want %d", what, resp, r.want)
		}
	}
	// Bob's token still works.
	if resp := e.send(http.MethodGet, "/v2/bob/app/manifests/v1", basic("bob", bobTok.SHA1), nil); resp.status != http.StatusOK {
		t.Fatalf("bob's token after the attempts: %s", resp)
	}
}

// TestAuthTokenAPI checks the Gitea-shaped token API and the account API.
func TestAuthTokenAPI(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	created, err := e.svc.Bootstrap(t.Context(), pw)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	if created, err := e.svc.Bootstrap(t.Context(), "another-password"); err != nil || created {
		t.Fatalf("second Bootstrap = %v, %v", created, err)
	}
	admin := basic("admin", pw)
	// The bootstrap admin is public, as Gitea creates users: anyone pulls
	// what it publishes.
	if a, err := e.ident.GetAccount(t.Context(), "admin"); err != nil || a.Visibility != metadata.VisibilityPublic || !a.SiteAdmin {
		t.Fatalf("bootstrap admin %+v, %v", a, err)
	}
	e.pushImage("admin/tool", "v1", admin)
	if resp := e.oci(client{}, http.MethodGet, "/v2/admin/tool/manifests/v1", nil, "Accept", "application/vnd.oci.image.manifest.v1+json"); resp.status != http.StatusOK {
		t.Fatalf("anonymous pull of the admin's image: %s", resp)
	}
	post := func(path, authz, body string) response {
		return e.send(http.MethodPost, path, authz, []byte(body), "Content-Type", "application/json")
	}
	// The admin creates users and an organization with members.
	if resp := post("/api/v1/admin/users", admin, `{"username":"dev","password":"`+pw+`","email":"dev@example.com","visibility":"private"}`); resp.status != http.StatusCreated ||
		!bytes.Contains(resp.body, []byte(`"login":"dev"`)) {
		t.Fatalf("create user: %s", resp)
	}
	if resp := post("/api/v1/admin/users", admin, `{"username":"dev","password":"`+pw+`"}`); resp.status != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate user: %s", resp)
	}
	if resp := post("/api/v1/admin/users", admin, `{"username":"x y","password":"`+pw+`"}`); resp.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid name: %s", resp)
	}
	if resp := post("/api/v1/admin/users", basic("dev", pw), `{"username":"evil","password":"`+pw+`"}`); resp.status != http.StatusForbidden {
		t.Fatalf("user creation by a non-admin: %s", resp)
	}
	if resp := post("/api/v1/orgs", admin, `{"username":"team","visibility":"private"}`); resp.status != http.StatusCreated {
		t.Fatalf("create org: %s", resp)
	}
	if resp := e.send(http.MethodPut, "/api/v1/orgs/team/members/dev", admin, []byte(`{"role":"write"}`)); resp.status != http.StatusNoContent {
		t.Fatalf("add member: %s", resp)
	}
	if resp := e.send(http.MethodPut, "/api/v1/orgs/team/members/dev", basic("dev", pw), []byte(`{"role":"admin"}`)); resp.status != http.StatusForbidden {
		t.Fatalf("self-promotion: %s", resp)
	}
	resp := e.send(http.MethodGet, "/api/v1/orgs/team/members", basic("dev", pw), nil)
	if resp.status != http.StatusOK || !bytes.Contains(resp.body, []byte(`"role":"write"`)) {
		t.Fatalf("members: %s", resp)
	}

	// The token API, as Gitea.
	resp = post("/api/v1/users/dev/tokens", basic("dev", pw), `{"name":"ci","scopes":["write:package","read:package"]}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("create token: %s", resp)
	}
	var raw map[string]any
	_ = json.Unmarshal(resp.body, &raw)
	for _, k := range []string{"id", "name", "sha1", "token_last_eight", "scopes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("token object has no %q: %s", k, resp.body)
		}
	}
	var tok tokenJSON
	_ = json.Unmarshal(resp.body, &tok)
	if !auth.LooksLikeSecret(tok.SHA1) || tok.TokenLastEight != tok.SHA1[32:] || strings.Join(tok.Scopes, " ") != "delete:packages read:packages write:packages" {
		t.Fatalf("token %s", resp.body)
	}
	if resp := post("/api/v1/users/dev/tokens", basic("dev", pw), `{"name":"ci","scopes":["read:packages"]}`); resp.status != http.StatusBadRequest {
		t.Fatalf("duplicate token name: %s", resp)
	}
	if resp := post("/api/v1/users/dev/tokens", basic("dev", pw), `{"name":"x","scopes":["write:admin"]}`); resp.status != http.StatusBadRequest ||
		!bytes.Contains(resp.body, []byte("write:admin")) {
		t.Fatalf("unknown scope: %s", resp)
	}
	if resp := post("/api/v1/users/dev/tokens", "", `{"name":"x","scopes":["read:packages"]}`); resp.status != http.StatusUnauthorized ||
		resp.header.Get("WWW-Authenticate") == "" || !bytes.Contains(resp.body, []byte(`"url"`)) {
		t.Fatalf("anonymous token creation: %s", resp)
	}
	resp = e.send(http.MethodGet, "/api/v1/users/dev/tokens", basic("dev", pw), nil)
	if resp.status != http.StatusOK || bytes.Contains(resp.body, []byte(tok.SHA1)) || !bytes.Contains(resp.body, []byte(`"sha1":""`)) {
		t.Fatalf("token list: %s", resp)
	}
	// The token works on the org's images with the member's rights.
	if resp := e.oci(client{user: "dev", pass: tok.SHA1}, http.MethodPost, "/v2/team/app/blobs/uploads/", nil); resp.status != http.StatusAccepted {
		t.Fatalf("push to the org with the token: %s", resp)
	}
	if resp := e.send(http.MethodGet, "/api/v1/user", "token "+tok.SHA1, nil); resp.status != http.StatusOK || !bytes.Contains(resp.body, []byte(`"dev"`)) {
		t.Fatalf("GET /api/v1/user with the token: %s", resp)
	}
	// Deploy tokens of the organization: by its admins.
	resp = post("/api/v1/owners/team/deploy_tokens", admin, `{"name":"pull","scopes":["read:packages"],"package_types":["container"]}`)
	if resp.status != http.StatusCreated || !bytes.Contains(resp.body, []byte(`"package_types":["container"]`)) {
		t.Fatalf("create deploy token: %s", resp)
	}
	if resp := post("/api/v1/owners/team/deploy_tokens", admin, `{"name":"bad","scopes":["delete:packages"]}`); resp.status != http.StatusBadRequest {
		t.Fatalf("deploy token with delete: %s", resp)
	}
	if resp := post("/api/v1/owners/team/deploy_tokens", basic("dev", pw), `{"name":"w","scopes":["write:packages"]}`); resp.status != http.StatusForbidden {
		t.Fatalf("deploy token by a writer: %s", resp)
	}
	var dep tokenJSON
	_ = json.Unmarshal(resp.body, &dep)
	// Deletion by name (as Gitea allows) and by ID.
	if resp := e.send(http.MethodDelete, "/api/v1/users/dev/tokens/ci", basic("dev", pw), nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete by name: %s", resp)
	}
	if resp := e.send(http.MethodDelete, "/api/v1/users/dev/tokens/"+strconv.FormatInt(tok.ID, 10), basic("dev", pw), nil); resp.status != http.StatusNotFound {
		t.Fatalf("second delete: %s", resp)
	}
	if resp := e.send(http.MethodGet, "/api/v1/user", "token "+tok.SHA1, nil); resp.status != http.StatusUnauthorized {
		t.Fatalf("deleted token: %s", resp)
	}
	// Removing the member revokes the access at once.
	dev2 := e.createToken("dev", pw, "ci2", "write:packages")
	if resp := e.send(http.MethodDelete, "/api/v1/orgs/team/members/dev", admin, nil); resp.status != http.StatusNoContent {
		t.Fatalf("remove member: %s", resp)
	}
	if resp := e.oci(client{user: "dev", pass: dev2.SHA1}, http.MethodPost, "/v2/team/app/blobs/uploads/", nil); resp.status != http.StatusForbidden {
		t.Fatalf("push after removal from the org: %s", resp)
	}
	// Deleting the user deletes the tokens.
	if resp := e.send(http.MethodDelete, "/api/v1/admin/users/dev", admin, nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete user: %s", resp)
	}
	if resp := e.send(http.MethodGet, "/v2/", "token "+dev2.SHA1, nil); resp.status != http.StatusUnauthorized {
		t.Fatalf("token of a deleted user: %s", resp)
	}
}

// secretLog is a concurrency-safe log buffer.
type secretLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *secretLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *secretLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestAuthSecretsNotInLogs runs a whole session — bootstrap, users, token
// creation, pushes and pulls with tokens and bearer tokens, failed logins,
// revocation, rate limiting — with the server's log captured at debug
// level, and greps it for every secret used.
func TestAuthSecretsNotInLogs(t *testing.T) {
	var logs secretLog
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newAuthServer(t, newMeta(t, "bolt"), "", log, func(c *auth.Config) {
		c.Limits.FailedLogins = 4
		c.AllowQueryToken = true
	})
	secrets := []string{pw, "second-user-password", "wrong-password-attempt"}
	if _, err := e.svc.Bootstrap(t.Context(), pw); err != nil {
		t.Fatal(err)
	}
	admin := basic("admin", pw)
	if resp := e.send(http.MethodPost, "/api/v1/admin/users", admin, []byte(`{"username":"dev","password":"second-user-password"}`)); resp.status != 201 {
		t.Fatalf("create user: %s", resp)
	}
	tok := e.createToken("dev", "second-user-password", "ci", "write:packages", "delete:packages")
	secrets = append(secrets, tok.SHA1)
	jwt, _ := e.tokenFor(client{user: "dev", pass: tok.SHA1}, "repository:dev/app:pull,push,delete")
	secrets = append(secrets, jwt)
	e.pushImage("dev/app", "v1", "Bearer "+jwt)
	e.pushImage("dev/app", "v2", basic("dev", tok.SHA1))
	e.send(http.MethodGet, "/v2/dev/app/manifests/v1", "token "+tok.SHA1, nil)
	e.send(http.MethodGet, "/api/v1/user?token="+tok.SHA1, "", nil)
	e.send(http.MethodGet, "/api/v1/users/dev/tokens?access_token="+tok.SHA1, "", nil)
	e.send(http.MethodDelete, "/v2/dev/app/manifests/v2", "Bearer "+jwt, nil)
	// Failures: wrong passwords, a malformed body holding a password, an
	// invalid manifest, a bad JWT.
	for range 5 {
		e.send(http.MethodGet, "/v2/token", basic("dev", "wrong-password-attempt"), nil)
	}
	e.send(http.MethodPost, "/api/v1/admin/users", admin, []byte(`{"username":"x","password":"wrong-password-attempt"`))
	e.send(http.MethodPut, "/v2/dev/app/manifests/bad", "Bearer "+jwt, []byte("not json "+tok.SHA1), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	e.send(http.MethodGet, "/v2/", "Bearer "+jwt[:len(jwt)-4]+"AAAA", nil)
	if resp := e.send(http.MethodDelete, "/api/v1/users/dev/tokens/ci", basic("dev", "second-user-password"), nil); resp.status != 204 && resp.status != 429 {
		t.Fatalf("delete token: %s", resp)
	}
	e.send(http.MethodGet, "/v2/dev/app/manifests/v1", basic("dev", tok.SHA1), nil)

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, "token created") {
		t.Fatalf("the log did not capture the session:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %q… appears in the log", s[:4])
		}
		// Nor encoded, as in a logged Authorization header.
		if enc := base64.StdEncoding.EncodeToString([]byte(s)); strings.Contains(out, enc[:len(enc)-4]) {
			t.Errorf("base64 of secret %q… appears in the log", s[:4])
		}
	}
	if m := regexp.MustCompile(`\b[0-9a-f]{40}\b`).FindString(out); m != "" {
		t.Errorf("something shaped like a token secret is in the log: %s…", m[:6])
	}
}
