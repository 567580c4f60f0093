package oci

import (
	"net/http"
	"strings"

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
			resp := e.send(ctx, oci.Request{Route: oci.RouteBase, Method: http.MethodGet, N: -1}, nil)
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
			resp := anonymous(ctx, oci.Request{Route: oci.RouteBase, Method: http.MethodGet, N: -1})
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

		It("refuses wrong credentials", Label(string(oci.RouteUploadStart)), func(ctx SpecContext) {
			requireAuth(ctx)
			bad := *e.cfg
			bad.Username, bad.Password, bad.Token = "regkit-conformance-nobody", "wrong-password", ""
			c, err := conformance.NewClient(&bad, e.rec)
			Expect(err).NotTo(HaveOccurred())
			r := e.req(oci.RouteUploadStart, http.MethodPost)
			resp, err := c.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Scopes: scopes(r)})
			if err != nil {
				// The token endpoint refused them: that is a refusal too.
				Expect(err.Error()).To(ContainSubstring("token"))
				return
			}
			Expect(resp.Status).To(BeElementOf(http.StatusUnauthorized, http.StatusForbidden), "%s", resp)
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
			r := oci.Request{Route: oci.RouteTags, Method: http.MethodGet, Name: e.sub("token-scope"), N: -1}
			got := e.send(ctx, r, nil)
			Expect(got.Status).NotTo(Equal(http.StatusUnauthorized), "%s", got)
		})
	})
}
