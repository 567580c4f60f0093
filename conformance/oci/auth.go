package oci

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/oci"
)

// authSpecs checks credentials first, then the auth challenge and the token
// flow (skipped when the registry needs no auth).
func (e *env) authSpecs() {
	Describe("auth", Label("auth"), func() {
		It("accepts the configured credentials (GET /v2/ and an upload to the run's repository)", Label(credentialsLabel, string(oci.RouteBase)), func(ctx SpecContext) {
			err := e.checkAuth(ctx)
			Expect(err).NotTo(HaveOccurred(), "cannot authenticate")
		})

		It("answers GET /v2/ with 200", Label(string(oci.RouteBase), "pull"), func(ctx SpecContext) {
			resp := e.send(ctx, oci.Request{Route: oci.RouteBase, Method: http.MethodGet}, nil)
			Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
		})

		// anonymous sends a request without credentials.
		anonymous := func(ctx SpecContext, r oci.Request) *conformance.Response {
			GinkgoHelper()
			resp, err := e.client.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), NoAuth: true})
			Expect(err).NotTo(HaveOccurred())
			return resp
		}
		// requireAuth skips when the registry lets anonymous clients push.
		requireAuth := func(ctx SpecContext) *conformance.Response {
			GinkgoHelper()
			resp := anonymous(ctx, e.req(oci.RouteUploadStart, http.MethodPost))
			if resp.Status != http.StatusUnauthorized {
				if resp.Status == http.StatusAccepted {
					if loc, err := resp.Location(); err == nil {
						_, _ = e.client.Do(ctx, conformance.Request{Method: http.MethodDelete, URL: loc.String(), Scopes: scopes(e.req(oci.RouteUploadStart, http.MethodPost))})
					}
				}
				Skip("the registry lets anonymous clients push (answered " + http.StatusText(resp.Status) + ")")
			}
			return resp
		}

		It("answers an anonymous GET /v2/ with 200, or 401 and a WWW-Authenticate challenge", Label(string(oci.RouteBase)), func(ctx SpecContext) {
			resp := anonymous(ctx, oci.Request{Route: oci.RouteBase, Method: http.MethodGet})
			Expect(resp.Status).To(BeElementOf(http.StatusOK, http.StatusUnauthorized), "%s", resp)
			if resp.Status == http.StatusUnauthorized {
				ch, ok := conformance.ParseChallenge(resp.Header.Values("WWW-Authenticate"))
				Expect(ok).To(BeTrue(), "401 without WWW-Authenticate")
				Expect(strings.ToLower(ch.Scheme)).To(BeElementOf("basic", "bearer"))
			}
		})

		It("refuses an anonymous push with 401 and a WWW-Authenticate challenge", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			resp := requireAuth(ctx)
			ch, ok := conformance.ParseChallenge(resp.Header.Values("WWW-Authenticate"))
			Expect(ok).To(BeTrue(), "401 without WWW-Authenticate")
			Expect(strings.ToLower(ch.Scheme)).To(BeElementOf("basic", "bearer"))
			if strings.EqualFold(ch.Scheme, "bearer") {
				Expect(ch.Params).To(HaveKey("realm"), "Bearer challenge without realm")
			}
		})

		It("sends an UNAUTHORIZED error body with its 401", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			resp := requireAuth(ctx)
			expectError(resp, http.StatusUnauthorized, oci.CodeUnauthorized)
		})

		It("refuses wrong credentials with 401", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			requireAuth(ctx)
			bad := *e.cfg
			bad.Username, bad.Password, bad.Token = "regkit-conformance-nobody", "wrong-password", ""
			c, err := conformance.NewClient(&bad, e.rec)
			Expect(err).NotTo(HaveOccurred())
			r := e.req(oci.RouteUploadStart, http.MethodPost)
			resp, err := c.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Scopes: scopes(r)})
			if err != nil {
				// The token endpoint refused them: with 401 too.
				Expect(err.Error()).To(ContainSubstring("token endpoint answered 401"))
				return
			}
			// Invalid credentials are 401 (403 is for valid ones without
			// the permission).
			Expect(resp.Status).To(Equal(http.StatusUnauthorized), "%s", resp)
		})

		It("issues a bearer token for the repository scope when it challenges with Bearer", Label(string(oci.RouteToken)), func(ctx SpecContext) {
			resp := requireAuth(ctx)
			ch, _ := conformance.ParseChallenge(resp.Header.Values("WWW-Authenticate"))
			if !strings.EqualFold(ch.Scheme, "bearer") {
				Skip("the registry challenges with " + ch.Scheme + ", not Bearer")
			}
			if e.cfg.Token != "" {
				Skip("a fixed token is configured")
			}
			_, ok := e.client.BearerChallenge()
			Expect(ok).To(BeTrue(), "the client never completed a Bearer challenge")
			// The authenticated upload start worked in the credentials check,
			// so the token flow did too; repeat it for a fresh scope.
			r := oci.Request{Route: oci.RouteTags, Method: http.MethodGet, Name: e.sub("token-scope")}
			got := e.send(ctx, r, nil)
			Expect(got.Status).NotTo(Equal(http.StatusUnauthorized), "%s", got)
		})

		// bearer returns the registry's Bearer challenge to an anonymous
		// push, skipping when it does not challenge with Bearer.
		bearer := func(ctx SpecContext) conformance.Challenge {
			GinkgoHelper()
			resp := requireAuth(ctx)
			ch, ok := conformance.ParseChallenge(resp.Header.Values("WWW-Authenticate"))
			Expect(ok).To(BeTrue(), "401 without WWW-Authenticate")
			if !strings.EqualFold(ch.Scheme, "bearer") {
				Skip(conformance.UnsupportedPrefix + " token flow: the registry challenges with " + ch.Scheme + ", not Bearer")
			}
			return ch
		}
		// fetchToken asks the challenge's realm for scope, with the
		// configured credentials or anonymously.
		fetchToken := func(ctx SpecContext, ch conformance.Challenge, scope string, withCredentials bool) *conformance.Response {
			GinkgoHelper()
			u, err := url.Parse(e.base)
			Expect(err).NotTo(HaveOccurred())
			u, err = u.Parse(ch.Params["realm"])
			Expect(err).NotTo(HaveOccurred(), "realm %q", ch.Params["realm"])
			q := u.Query()
			if s := ch.Params["service"]; s != "" {
				q.Set("service", s)
			}
			q.Set("scope", scope)
			u.RawQuery = q.Encode()
			h := http.Header{}
			if withCredentials {
				if e.cfg.Username == "" {
					Skip("no credentials configured")
				}
				h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(e.cfg.Username+":"+e.cfg.Password.Value())))
			}
			resp, err := e.client.Do(ctx, conformance.Request{Method: http.MethodGet, URL: u.String(), Header: h, NoAuth: true})
			Expect(err).NotTo(HaveOccurred())
			return resp
		}
		tokenOf := func(resp *conformance.Response) string {
			GinkgoHelper()
			Expect(resp.Status).To(Equal(http.StatusOK), "token endpoint: %s", resp)
			var tr struct {
				Token       string `json:"token"`
				AccessToken string `json:"access_token"`
			}
			Expect(json.Unmarshal(resp.Body, &tr)).To(Succeed(), "token endpoint body %q", string(resp.Body))
			if tr.Token == "" {
				tr.Token = tr.AccessToken
			}
			Expect(tr.Token).NotTo(BeEmpty(), "token endpoint returned no token")
			return tr.Token
		}
		// withBearer sends r with a given bearer token (or none).
		withBearer := func(ctx SpecContext, r oci.Request, tok string) *conformance.Response {
			GinkgoHelper()
			h := http.Header{}
			if tok != "" {
				h.Set("Authorization", "Bearer "+tok)
			}
			resp, err := e.client.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Header: h, NoAuth: true})
			Expect(err).NotTo(HaveOccurred())
			if resp.Status == http.StatusAccepted {
				if loc, err := resp.Location(); err == nil {
					_, _ = e.client.Do(ctx, conformance.Request{Method: http.MethodDelete, URL: loc.String(), Scopes: scopes(r)})
				}
			}
			return resp
		}

		It("challenges a push with Bearer realm, service and a scope naming the repository and push", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			ch := bearer(ctx)
			Expect(ch.Params["realm"]).NotTo(BeEmpty(), "Bearer challenge without realm")
			Expect(ch.Params).To(HaveKey("service"), "Bearer challenge without service")
			scope := ch.Params["scope"]
			Expect(scope).To(ContainSubstring("repository:"+e.repo+":"), "challenge scope %q does not name the repository", scope)
			Expect(scope).To(ContainSubstring("push"), "challenge scope %q does not ask for push", scope)
		})

		It("answers the token endpoint with a token, expires_in and issued_at", Label(string(oci.RouteToken)), func(ctx SpecContext) {
			ch := bearer(ctx)
			resp := fetchToken(ctx, ch, "repository:"+e.repo+":pull,push", true)
			tokenOf(resp)
			var tr struct {
				ExpiresIn *int    `json:"expires_in"`
				IssuedAt  *string `json:"issued_at"`
			}
			Expect(json.Unmarshal(resp.Body, &tr)).To(Succeed())
			if tr.ExpiresIn != nil {
				Expect(*tr.ExpiresIn).To(BeNumerically(">=", 60), "expires_in below the 60 seconds clients assume")
			}
			if tr.IssuedAt != nil {
				_, err := time.Parse(time.RFC3339, *tr.IssuedAt)
				Expect(err).NotTo(HaveOccurred(), "issued_at %q is not RFC 3339", *tr.IssuedAt)
			}
		})

		It("accepts the bearer token for its repository and refuses it on another", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			ch := bearer(ctx)
			a, b := e.sub("scope-a"), e.sub("scope-b")
			tok := tokenOf(fetchToken(ctx, ch, "repository:"+a+":pull,push", true))
			up := func(name string) oci.Request {
				return oci.Request{Route: oci.RouteUploadStart, Method: http.MethodPost, Name: name}
			}
			resp := withBearer(ctx, up(a), tok)
			Expect(resp.Status).To(Equal(http.StatusAccepted), "push with a token for the repository: %s", resp)
			resp = withBearer(ctx, up(b), tok)
			Expect(resp.Status).To(BeElementOf(http.StatusUnauthorized, http.StatusForbidden), "push to %s with a token for %s: %s", b, a, resp)
		})

		It("refuses a push with an anonymous bearer token with 401", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			ch := bearer(ctx)
			resp := fetchToken(ctx, ch, "repository:"+e.repo+":pull,push", false)
			if resp.Status != http.StatusOK {
				Expect(resp.Status).To(Equal(http.StatusUnauthorized), "anonymous token request: %s", resp)
				return
			}
			resp = withBearer(ctx, e.req(oci.RouteUploadStart, http.MethodPost), tokenOf(resp))
			expectError(resp, http.StatusUnauthorized, oci.CodeUnauthorized)
		})

		// deniedRepo is this run's repository in the denied namespace.
		deniedRepo := func() string {
			if e.cfg.DeniedNamespace == "" {
				Skip(conformance.UnsupportedPrefix + " 401 vs 403: no namespace the credentials may not write is configured (-denied-namespace)")
			}
			return strings.Trim(e.cfg.DeniedNamespace, "/") + "/" + path.Base(e.repo)
		}

		It("refuses a push to a namespace the credentials may not write with 403 DENIED, not 401", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			requireAuth(ctx)
			r := oci.Request{Route: oci.RouteUploadStart, Method: http.MethodPost, Name: deniedRepo()}
			resp := e.send(ctx, r, nil)
			expectError(resp, http.StatusForbidden, oci.CodeDenied)
		})

		It("refuses an anonymous push to that namespace with 401 UNAUTHORIZED", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			requireAuth(ctx)
			r := oci.Request{Route: oci.RouteUploadStart, Method: http.MethodPost, Name: deniedRepo()}
			expectError(anonymous(ctx, r), http.StatusUnauthorized, oci.CodeUnauthorized)
		})
	})
}
