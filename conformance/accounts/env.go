package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	spec "github.com/regkit/regkit/spec/accounts"
)

// env is the state of one registered suite; every spec closes over it.
type env struct {
	cfg    *conformance.Config
	client *conformance.Client
	rec    *conformance.Recorder
	prefix string // starts every account name of this run
	err    error  // why the suite cannot run (set up once)

	// Accounts of the run.
	alice, bob, team string
	alicePW, bobPW   string
}

func newEnv(cfg *conformance.Config) *env {
	var b [4]byte
	_, _ = rand.Read(b[:])
	p := "conf" + hex.EncodeToString(b[:])
	e := &env{cfg: cfg, rec: conformance.NewRecorder(60), prefix: p,
		alice: p + "-alice", bob: p + "-bob", team: p + "-team",
		alicePW: "alice-" + hex.EncodeToString(b[:]) + "-pw", bobPW: "bob-" + hex.EncodeToString(b[:]) + "-pw"}
	e.client, e.err = conformance.NewClient(cfg, e.rec)
	return e
}

// setup checks that the configured credentials are a site admin's.
func (e *env) setup(ctx context.Context) {
	if e.err != nil {
		return
	}
	if e.cfg.Username == "" || e.cfg.Password.Value() == "" {
		e.err = fmt.Errorf("the accounts suite needs a site admin's --username and --password")
		return
	}
	resp, err := e.do(ctx, e.admin(), http.MethodGet, e.path(spec.RouteCurrentUser), nil)
	if err != nil {
		e.err = err
		return
	}
	var u spec.User
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &u) != nil || !u.IsAdmin {
		e.err = fmt.Errorf("GET /api/v1/user as %q: %s; the accounts suite needs a site admin", e.cfg.Username, resp)
	}
}

// need skips the spec when the suite cannot run.
func (e *env) need() {
	if e.err != nil {
		Skip(e.err.Error())
	}
}

// cleanup deletes what the run created, whatever failed.
func (e *env) cleanup(ctx context.Context) {
	if e.err != nil {
		return
	}
	for _, p := range []string{e.pathQ(spec.RouteDeleteOrg, "purge=true", e.team),
		e.pathQ(spec.RouteAdminDeleteUser, "purge=true", e.alice), e.pathQ(spec.RouteAdminDeleteUser, "purge=true", e.bob)} {
		_, _ = e.do(ctx, e.admin(), http.MethodDelete, p, nil)
	}
}

// attachExchanges adds the spec's HTTP exchanges to its report when it
// failed.
func (e *env) attachExchanges() {
	if CurrentSpecReport().Failed() {
		AddReportEntry(conformance.ExchangesEntry, e.rec.Exchanges(), types.ReportEntryVisibilityNever)
	}
}

// path is the path of route with its placeholders filled by args.
func (e *env) path(route spec.RouteID, args ...string) string {
	GinkgoHelper()
	p, err := spec.Path(route, args...)
	Expect(err).NotTo(HaveOccurred())
	return p
}

// pathQ is path with a query.
func (e *env) pathQ(route spec.RouteID, query string, args ...string) string {
	p, err := spec.Path(route, args...)
	if err != nil {
		return "/invalid"
	}
	return p + "?" + query
}

// admin is the Authorization of the configured site admin.
func (e *env) admin() string { return basic(e.cfg.Username, e.cfg.Password.Value()) }

// basic is the Authorization of a password login.
func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// tokenAuth is the Authorization of a token, the way Gitea documents it.
func tokenAuth(secret string) string { return "token " + secret }

// jsonBody encodes v.
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

func ptr[T any](v T) *T { return &v }

// do sends one request with the given Authorization (never the client's
// own credentials) and a JSON body.
func (e *env) do(ctx context.Context, authz, method, path string, body []byte) (*conformance.Response, error) {
	h := http.Header{"Accept": {"application/json"}}
	if authz != "" {
		h.Set("Authorization", authz)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return e.client.Do(ctx, conformance.Request{Method: method, URL: path, Header: h, Body: body, NoAuth: true})
}

// send is do that fails the spec on a transport error.
func (e *env) send(ctx context.Context, authz, method, path string, body []byte) *conformance.Response {
	GinkgoHelper()
	resp, err := e.do(ctx, authz, method, path, body)
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, path)
	return resp
}

// decode expects status want and decodes the body into v.
func decode(resp *conformance.Response, want int, v any) {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(want), "%s", resp)
	if v != nil {
		Expect(json.Unmarshal(resp.Body, v)).To(Succeed(), "%s", resp)
	}
}
