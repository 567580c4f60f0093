package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// testKey is the signing key shared by the replicas of a test.
var testKey = []byte("regkit-test-signing-key-0123456789abcdef")

// cheapKDF keeps password hashing fast in tests.
var cheapKDF = auth.KDF{Time: 1, Memory: 64, Threads: 1}

// authEnv is an in-process registry with auth mode "tokens".
type authEnv struct {
	t     *testing.T
	base  string
	svc   *auth.Service
	ident metadata.Identity
	meta  metadata.Store
}

// newAuthServer starts a registry with auth over meta (with the bucket at
// bucketURL, mem:// when empty); edit adjusts the auth configuration.
func newAuthServer(t *testing.T, meta metadata.Store, bucketURL string, log *slog.Logger, edit func(*auth.Config)) *authEnv {
	t.Helper()
	return newAuthServerWith(t, meta, bucketURL, log, edit)
}

// newAuthServerWith is newAuthServer with more server options.
func newAuthServerWith(t *testing.T, meta metadata.Store, bucketURL string, log *slog.Logger, edit func(*auth.Config), opts ...server.Option) *authEnv {
	t.Helper()
	ident, ok := meta.(metadata.Identity)
	if !ok {
		t.Fatalf("%T does not implement metadata.Identity", meta)
	}
	cfg := auth.Config{Identity: ident, SigningKeys: [][]byte{testKey}, Service: "regkit-test", KDF: cheapKDF, Log: log}
	if c, ok := meta.(metadata.Counter); ok {
		cfg.Counter = c
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bucketURL == "" {
		bucketURL = "mem://"
	}
	st, err := storage.Open(context.Background(), bucketURL, meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ts := httptest.NewServer(server.New(meta, st, append([]server.Option{server.WithLogger(log), server.WithAuth(svc)}, opts...)...))
	t.Cleanup(ts.Close)
	return &authEnv{t: t, base: ts.URL, svc: svc, ident: ident, meta: meta}
}

// user creates a user with password.
func (e *authEnv) user(name, password string, vis metadata.Visibility, admin bool) {
	e.t.Helper()
	h, err := auth.HashPassword(password, cheapKDF)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.ident.CreateAccount(e.t.Context(), metadata.Account{Name: name, Type: metadata.AccountUser, Visibility: vis, PasswordHash: h, SiteAdmin: admin}); err != nil {
		e.t.Fatal(err)
	}
}

// org creates an organization with members (user → role).
func (e *authEnv) org(name string, vis metadata.Visibility, members map[string]metadata.Role) {
	e.t.Helper()
	ctx := e.t.Context()
	if _, err := e.ident.CreateAccount(ctx, metadata.Account{Name: name, Type: metadata.AccountOrganization, Visibility: vis}); err != nil {
		e.t.Fatal(err)
	}
	for u, r := range members {
		if err := e.ident.SetMember(ctx, name, u, r); err != nil {
			e.t.Fatal(err)
		}
	}
}

// token creates a token and returns its secret.
func (e *authEnv) token(kind metadata.TokenKind, owner, name string, scopes ...string) (string, metadata.Token) {
	e.t.Helper()
	secret, tok, err := e.svc.NewToken(e.t.Context(), metadata.Token{Kind: kind, Owner: owner, Name: name, Scopes: scopes, PackageTypes: nil})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, tok
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// response is a response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// send sends one request; auth is the Authorization header ("" none).
func (e *authEnv) send(method, path, authz string, body []byte, header ...string) response {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.base + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// client is how a docker-like client presents an identity: it asks the
// token endpoint for a token with the scope of its operation (with Basic
// credentials when it has some, anonymously otherwise), sends the request
// with it, and on a Bearer challenge fetches a token for the challenged
// scope and retries once. Or it sends a fixed bearer token as is.
type client struct {
	user, pass string // Basic credentials for the token endpoint
	bearer     string // a fixed bearer token
}

// clientScope is the scope a client asks for before a request, computed
// as clients do from the operation.
func clientScope(method, path string) string {
	rest := strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "/v2/")
	if rest == "_catalog" {
		return "registry:catalog:*"
	}
	name := rest
	for _, marker := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(rest, marker); i >= 0 {
			name = rest[:i]
			break
		}
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		return "repository:" + name + ":pull"
	case http.MethodDelete:
		return "repository:" + name + ":delete"
	}
	return "repository:" + name + ":pull,push"
}

// tokenFor asks the token endpoint for scope.
func (e *authEnv) tokenFor(c client, scope string) (string, response) {
	e.t.Helper()
	q := url.Values{"service": {"regkit-test"}}
	if scope != "" {
		q["scope"] = strings.Fields(scope)
	}
	authz := ""
	if c.user != "" || c.pass != "" {
		authz = basic(c.user, c.pass)
	}
	resp := e.send(http.MethodGet, "/v2/token?"+q.Encode(), authz, nil)
	if resp.status != http.StatusOK {
		return "", resp
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil || tr.Token == "" {
		e.t.Fatalf("token endpoint body %s: %v", resp.body, err)
	}
	return tr.Token, resp
}

// oci sends a /v2 request as c, going through the token flow.
func (e *authEnv) oci(c client, method, path string, body []byte, header ...string) response {
	e.t.Helper()
	if c.bearer != "" {
		return e.send(method, path, "Bearer "+c.bearer, body, header...)
	}
	tok, tresp := e.tokenFor(c, clientScope(method, path))
	if tok == "" {
		return tresp
	}
	resp := e.send(method, path, "Bearer "+tok, body, header...)
	if resp.status != http.StatusUnauthorized {
		return resp
	}
	chs, err := oci.ParseChallenges(resp.header.Values("WWW-Authenticate"))
	if err != nil || len(chs) != 1 || chs[0].Scheme != "Bearer" || chs[0].Params["realm"] != e.base+"/v2/token" || chs[0].Params["service"] != "regkit-test" {
		e.t.Fatalf("challenge %q: %v", resp.header.Values("WWW-Authenticate"), err)
	}
	if tok, tresp = e.tokenFor(c, chs[0].Params["scope"]); tok == "" {
		return tresp
	}
	return e.send(method, path, "Bearer "+tok, body, header...)
}

// pushImage pushes a small image to repo:tag with authz (Basic directly on
// /v2) and returns the manifest digest.
func (e *authEnv) pushImage(repo, tag, authz string) digest.Digest {
	e.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := digest.FromBytes(cfg)
	resp := e.send(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), authz, cfg, "Content-Type", "application/octet-stream")
	if resp.status != http.StatusCreated {
		e.t.Fatalf("push config blob to %s: %s", repo, resp)
	}
	m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, cd, len(cfg))
	resp = e.send(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, authz, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if resp.status != http.StatusCreated {
		e.t.Fatalf("push manifest %s:%s: %s", repo, tag, resp)
	}
	return digest.FromBytes(m)
}

// catalog lists the catalog as c (through the token flow); ok is false
// with the response when it did not answer 200.
func (e *authEnv) catalog(c client) ([]string, response) {
	e.t.Helper()
	resp := e.oci(c, http.MethodGet, "/v2/_catalog", nil)
	if resp.status != http.StatusOK {
		return nil, resp
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		e.t.Fatalf("catalog body %s: %v", resp.body, err)
	}
	return body.Repositories, resp
}
