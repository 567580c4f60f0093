package oci

import (
	"encoding/json"
	"net/http"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// tagList is the body of a tags/list response.
type tagList struct {
	Name string    `json:"name"`
	Tags *[]string `json:"tags"`
}

// decodeTags decodes a tags/list body, failing the spec when it is not one.
func decodeTags(resp *conformance.Response) tagList {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
	var tl tagList
	Expect(json.Unmarshal(resp.Body, &tl)).To(Succeed(), "tags/list body %q", string(resp.Body))
	return tl
}

func (tl tagList) list() []string {
	if tl.Tags == nil {
		return nil
	}
	return *tl.Tags
}

// tagSpecs covers tag listing and its pagination (end-8a, end-8b).
func (e *env) tagSpecs() {
	Describe("discovery", Label("discovery"), func() {
		Describe("tags", Ordered, ContinueOnFailure, func() {
			repo := e.sub("tags")
			m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
			tags := []string{"zeta", "alpha", "Beta", "1.10", "1.2", "_under", "v1.0.0", "latest"}
			sorted := slices.Clone(tags)
			slices.Sort(sorted)
			list := func(ctx SpecContext, n *int, last string) *conformance.Response {
				r := oci.Request{Route: oci.RouteTags, Method: http.MethodGet, Name: repo}
				if n != nil || last != "" {
					r.Route, r.N, r.Last = oci.RouteTagsPaged, n, last
				}
				return e.send(ctx, r, nil)
			}
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, repo, m) })
				Expect(e.pushBlob(ctx, repo, m.Config)).To(Succeed())
				for _, t := range tags {
					resp, err := e.pushManifest(ctx, repo, t, m.Content)
					Expect(err).NotTo(HaveOccurred())
					Expect(resp.Status).To(Equal(http.StatusCreated), "tagging %s: %s", t, resp)
				}
			})

			It("lists every tag with the repository name", Label(string(oci.RouteTags)), func(ctx SpecContext) {
				tl := decodeTags(list(ctx, nil, ""))
				Expect(tl.Name).To(Equal(repo))
				Expect(tl.list()).To(ConsistOf(tags))
			})
			It("lists tags in lexical order", Label(string(oci.RouteTags)), func(ctx SpecContext) {
				tl := decodeTags(list(ctx, nil, ""))
				Expect(tl.list()).To(Equal(sorted))
			})
			It("answers with Content-Type application/json", Label(string(oci.RouteTags)), func(ctx SpecContext) {
				resp := list(ctx, nil, "")
				Expect(resp.Header.Get("Content-Type")).To(HavePrefix("application/json"))
			})

			type page struct {
				n        *int
				last     string
				want     []string
				wantLink bool
			}
			DescribeTable("pagination", Label(string(oci.RouteTagsPaged)),
				func(ctx SpecContext, p page) {
					resp := list(ctx, p.n, p.last)
					tl := decodeTags(resp)
					Expect(tl.Tags).NotTo(BeNil(), `"tags" must be a list, not null`)
					Expect(tl.list()).To(Equal(p.want))
					_, hasNext := oci.ParseNextLink(resp.Header.Get(oci.Link))
					if p.wantLink {
						Expect(hasNext).To(BeTrue(), "want Link: <…>; rel=\"next\", got %q", resp.Header.Get(oci.Link))
					}
				},
				Entry("n=3 returns exactly the first three tags and a next Link", page{n: new(3), want: sorted[:3], wantLink: true}),
				Entry("n=1 returns exactly the first tag and a next Link", page{n: new(1), want: sorted[:1], wantLink: true}),
				Entry("n=3&last=<third tag> returns the next three tags (last is exclusive)", page{n: new(3), last: sorted[2], want: sorted[3:6], wantLink: true}),
				Entry("n=100 returns every tag", page{n: new(100), want: sorted}),
				Entry("n=0 returns an empty list", page{n: new(0), want: []string{}}),
				Entry("last=<last tag> returns an empty list", page{n: new(10), last: sorted[len(sorted)-1], want: []string{}}),
				Entry("last=<a value between tags> returns the tags after it", page{n: new(2), last: "alpha0", want: []string{"latest", "v1.0.0"}}),
			)

			It("omits the next Link on the last page", Label(string(oci.RouteTagsPaged)), func(ctx SpecContext) {
				resp := list(ctx, new(len(tags)), "")
				decodeTags(resp)
				_, hasNext := oci.ParseNextLink(resp.Header.Get(oci.Link))
				if hasNext {
					// A Link to an empty page is allowed but must lead to one.
					next, _ := oci.ParseNextLink(resp.Header.Get(oci.Link))
					u, err := resp.Resolve(next)
					Expect(err).NotTo(HaveOccurred())
					more := e.sendTo(ctx, http.MethodGet, u, repo, nil)
					Expect(decodeTags(more).list()).To(BeEmpty())
				}
			})
			It("following the next Link gives the second page", Label(string(oci.RouteTagsPaged)), func(ctx SpecContext) {
				resp := list(ctx, new(3), "")
				next, ok := oci.ParseNextLink(resp.Header.Get(oci.Link))
				Expect(ok).To(BeTrue(), "no next Link: %q", resp.Header.Get(oci.Link))
				u, err := resp.Resolve(next)
				Expect(err).NotTo(HaveOccurred())
				tl := decodeTags(e.sendTo(ctx, http.MethodGet, u, repo, nil))
				Expect(tl.list()).To(Equal(sorted[3:6]))
			})
			It("following next Links with n=2 walks every tag exactly once, in order", Label(string(oci.RouteTagsPaged)), func(ctx SpecContext) {
				resp := list(ctx, new(2), "")
				var got []string
				for range 20 {
					tl := decodeTags(resp)
					Expect(len(tl.list())).To(BeNumerically("<=", 2), "a page holds more than n tags")
					got = append(got, tl.list()...)
					next, ok := oci.ParseNextLink(resp.Header.Get(oci.Link))
					if !ok {
						break
					}
					u, err := resp.Resolve(next)
					Expect(err).NotTo(HaveOccurred())
					resp = e.sendTo(ctx, http.MethodGet, u, repo, nil)
				}
				Expect(got).To(Equal(sorted))
			})
			It("lists tags of an unknown repository as 404 NAME_UNKNOWN", Label(string(oci.RouteTags)), func(ctx SpecContext) {
				r := oci.Request{Route: oci.RouteTags, Method: http.MethodGet, Name: e.sub("no-such-repository")}
				expectError(e.send(ctx, r, nil), http.StatusNotFound, oci.CodeNameUnknown)
			})
		})
	})
}
