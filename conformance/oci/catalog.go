package oci

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// catalogSpecs covers GET /v2/_catalog and its pagination.
func (e *env) catalogSpecs() {
	Describe("discovery", Label("discovery"), func() {
		Describe("catalog", Ordered, ContinueOnFailure, Label(string(oci.RouteCatalog)), func() {
			repos := []string{e.sub("catalog-a"), e.sub("catalog-b"), e.sub("catalog-c")}
			m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
			list := func(ctx SpecContext, n int, last string) (*conformance.Response, []string) {
				GinkgoHelper()
				resp := e.send(ctx, oci.Request{Route: oci.RouteCatalog, Method: http.MethodGet, N: &n, Last: last}, nil)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				var body struct {
					Repositories *[]string `json:"repositories"`
				}
				Expect(json.Unmarshal(resp.Body, &body)).To(Succeed(), "catalog body %q", string(resp.Body))
				Expect(body.Repositories).NotTo(BeNil(), `"repositories" must be a list`)
				return resp, *body.Repositories
			}
			e.gate(featCatalog)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featCatalog) {
					return
				}
				for _, r := range repos {
					DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, r, m) })
					Expect(e.pushAll(ctx, r, "latest", m)).To(Succeed())
				}
			})
			It("lists the run's repositories (walking pages after the namespace)", func(ctx SpecContext) {
				last := strings.TrimSuffix(e.repo, "/")
				var seen []string
				for range 50 {
					_, page := list(ctx, 100, last)
					if len(page) == 0 {
						break
					}
					seen = append(seen, page...)
					last = page[len(page)-1]
					if !strings.HasPrefix(last, e.repo) && last > e.repo+"/~" {
						break
					}
				}
				for _, r := range repos {
					Expect(seen).To(ContainElement(r))
				}
			})
			It("n=1 returns exactly one repository and a next Link", func(ctx SpecContext) {
				resp, page := list(ctx, 1, "")
				Expect(page).To(HaveLen(1))
				_, ok := oci.ParseNextLink(resp.Header.Get(oci.Link))
				Expect(ok).To(BeTrue(), "want a next Link, got %q", resp.Header.Get(oci.Link))
			})
			It("last=<repository> returns the repositories after it (exclusive, in order)", func(ctx SpecContext) {
				_, page := list(ctx, 2, repos[0])
				Expect(page).To(HaveLen(2))
				Expect(page).To(Equal(repos[1:]))
			})
			It("following the next Link continues after the previous page", func(ctx SpecContext) {
				resp, first := list(ctx, 1, repos[0])
				Expect(first).To(Equal(repos[1:2]))
				next, ok := oci.ParseNextLink(resp.Header.Get(oci.Link))
				Expect(ok).To(BeTrue(), "want a next Link, got %q", resp.Header.Get(oci.Link))
				u, err := resp.Resolve(next)
				Expect(err).NotTo(HaveOccurred())
				more := e.sendTo(ctx, http.MethodGet, u, "", nil)
				Expect(more.Status).To(Equal(http.StatusOK), "%s", more)
				var body struct {
					Repositories []string `json:"repositories"`
				}
				Expect(json.Unmarshal(more.Body, &body)).To(Succeed())
				Expect(body.Repositories).To(Equal(repos[2:3]))
			})
			It("returns each page in lexical order", func(ctx SpecContext) {
				_, page := list(ctx, 100, "")
				Expect(slices.IsSorted(page)).To(BeTrue(), "page not sorted: %v", page)
			})
			It("n=0 returns an empty list", func(ctx SpecContext) {
				_, page := list(ctx, 0, "")
				Expect(page).To(BeEmpty())
			})
		})
	})
}
