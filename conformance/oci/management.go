package oci

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// managementSpecs covers manifest, tag and blob deletion (end-9, end-10).
func (e *env) managementSpecs() {
	Describe("management", Label("management"), func() {
		get := func(ctx SpecContext, repo, ref string, d digest.Digest, method string) *conformance.Response {
			r := oci.Request{Route: oci.RouteManifest, Method: method, Name: repo, Reference: ref, Digest: d}
			return e.send(ctx, r, nil, "Accept", manifestAccept)
		}
		del := func(ctx SpecContext, repo, ref string, d digest.Digest) *conformance.Response {
			r := oci.Request{Route: oci.RouteManifestDelete, Method: http.MethodDelete, Name: repo, Reference: ref, Digest: d}
			return e.send(ctx, r, nil)
		}
		tagsOf := func(ctx SpecContext, repo string) *conformance.Response {
			return e.send(ctx, oci.Request{Route: oci.RouteTags, Method: http.MethodGet, Name: repo}, nil)
		}

		Describe("deleting a tag", Ordered, Label(string(oci.RouteManifestDelete)), func() {
			repo := e.sub("delete-tag")
			m := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
			var resp *conformance.Response
			unsupported := e.gate(featDelete)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featDelete) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, repo, m) })
				Expect(e.pushAll(ctx, repo, "keep", m)).To(Succeed())
				p, err := e.pushManifest(ctx, repo, "remove", m.Content)
				Expect(err).NotTo(HaveOccurred())
				Expect(p.Status).To(Equal(http.StatusCreated), "%s", p)
				resp = del(ctx, repo, "remove", "")
				if resp.Status == http.StatusBadRequest || resp.Status == http.StatusMethodNotAllowed {
					*unsupported = conformance.UnsupportedPrefix + " deleting tags (DELETE by tag answered " + http.StatusText(resp.Status) + ")"
				}
			})
			It("DELETE by tag answers 202 Accepted", func() {
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			})
			It("GET of the deleted tag answers 404 MANIFEST_UNKNOWN", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				expectError(get(ctx, repo, "remove", "", http.MethodGet), http.StatusNotFound, oci.CodeManifestUnknown)
			})
			It("keeps the manifest: GET by digest answers 200", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				Expect(get(ctx, repo, "", m.Digest(), http.MethodGet).Status).To(Equal(http.StatusOK))
			})
			It("keeps the other tag", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				Expect(get(ctx, repo, "keep", "", http.MethodGet).Status).To(Equal(http.StatusOK))
			})
			It("drops the tag from tags/list", Label(string(oci.RouteTags), "discovery"), func(ctx SpecContext) {
				Expect(decodeTags(tagsOf(ctx, repo)).list()).To(Equal([]string{"keep"}))
			})
		})

		Describe("deleting a manifest by digest", Ordered, Label(string(oci.RouteManifestDelete)), func() {
			repo := e.sub("delete-manifest")
			m := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
			tags := []string{"one", "two", "three"}
			var resp *conformance.Response
			e.gate(featDelete)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featDelete) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, repo, m) })
				Expect(e.pushAll(ctx, repo, tags[0], m)).To(Succeed())
				for _, t := range tags[1:] {
					p, err := e.pushManifest(ctx, repo, t, m.Content)
					Expect(err).NotTo(HaveOccurred())
					Expect(p.Status).To(Equal(http.StatusCreated), "%s", p)
				}
				resp = del(ctx, repo, "", m.Digest())
			})
			It("DELETE by digest answers 202 Accepted", func() {
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			})
			It("GET by digest answers 404 MANIFEST_UNKNOWN", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				expectError(get(ctx, repo, "", m.Digest(), http.MethodGet), http.StatusNotFound, oci.CodeManifestUnknown)
			})
			It("HEAD by digest answers 404", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				Expect(get(ctx, repo, "", m.Digest(), http.MethodHead).Status).To(Equal(http.StatusNotFound))
			})
			DescribeTable("GET by a tag that pointed at it", Label(string(oci.RouteManifest)),
				func(ctx SpecContext, tag string) {
					expectError(get(ctx, repo, tag, "", http.MethodGet), http.StatusNotFound, oci.CodeManifestUnknown)
				},
				Entry("answers 404 for the first tag", tags[0]),
				Entry("answers 404 for the second tag", tags[1]),
				Entry("answers 404 for the third tag", tags[2]),
			)
			It("drops every tag from tags/list, leaving \"tags\": [] (not null)", Label(string(oci.RouteTags), "discovery"), func(ctx SpecContext) {
				resp := tagsOf(ctx, repo)
				if resp.Status == http.StatusNotFound {
					return // an emptied repository may be gone entirely
				}
				tl := decodeTags(resp)
				Expect(tl.Tags).NotTo(BeNil(), `"tags" is null or absent: %s`, string(resp.Body))
				Expect(tl.list()).To(BeEmpty())
			})
			It("DELETE of the deleted manifest answers 404 MANIFEST_UNKNOWN", func(ctx SpecContext) {
				expectError(del(ctx, repo, "", m.Digest()), http.StatusNotFound, oci.CodeManifestUnknown)
			})
		})

		Describe("deleting an index", Ordered, Label(string(oci.RouteManifestDelete)), func() {
			repo := e.sub("delete-index")
			child := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
			idx := fixtures.Index(child)
			e.gate(featDelete)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featDelete) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, repo, idx) })
				Expect(e.pushAll(ctx, repo, "index", idx)).To(Succeed())
			})
			It("DELETE of the index by digest answers 202 and the index is gone", func(ctx SpecContext) {
				Expect(del(ctx, repo, "", idx.Digest()).Status).To(Equal(http.StatusAccepted))
				Expect(get(ctx, repo, "", idx.Digest(), http.MethodGet).Status).To(Equal(http.StatusNotFound))
			})
			It("keeps the index's children", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				resp := get(ctx, repo, "", child.Digest(), http.MethodGet)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(string(resp.Body)).To(Equal(string(child.Data)))
			})
		})

		It("DELETE of an unknown manifest answers 404 MANIFEST_UNKNOWN", Label(string(oci.RouteManifestDelete)), func(ctx SpecContext) {
			e.need(ctx, featDelete)
			expectError(del(ctx, e.repo, "", digest.FromString("never pushed "+e.repo)), http.StatusNotFound, oci.CodeManifestUnknown)
		})

		Describe("deleting a blob", Ordered, Label(string(oci.RouteBlobDelete)), func() {
			b := e.blob(1234)
			blobReq := func(method string, d digest.Digest) oci.Request {
				route := oci.RouteBlob
				if method == http.MethodDelete {
					route = oci.RouteBlobDelete
				}
				return oci.Request{Route: route, Method: method, Name: e.repo, Digest: d}
			}
			var resp *conformance.Response
			e.gate(featDelete)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featDelete) {
					return
				}
				Expect(e.pushBlob(ctx, e.repo, b)).To(Succeed())
				resp = e.send(ctx, blobReq(http.MethodDelete, b.Digest()), nil)
			})
			It("DELETE answers 202 Accepted", func() {
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			})
			It("GET of the deleted blob answers 404 BLOB_UNKNOWN", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				expectError(e.send(ctx, blobReq(http.MethodGet, b.Digest()), nil), http.StatusNotFound, oci.CodeBlobUnknown)
			})
			It("HEAD of the deleted blob answers 404", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				Expect(e.send(ctx, blobReq(http.MethodHead, b.Digest()), nil).Status).To(Equal(http.StatusNotFound))
			})
			It("DELETE of an unknown blob answers 404 BLOB_UNKNOWN", func(ctx SpecContext) {
				expectError(e.send(ctx, blobReq(http.MethodDelete, digest.FromString("never pushed blob "+e.repo)), nil), http.StatusNotFound, oci.CodeBlobUnknown)
			})
		})
	})
}
