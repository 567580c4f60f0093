package oci

import (
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// referrerSpecs covers the referrers API (end-12a, end-12b).
func (e *env) referrerSpecs() {
	Describe("discovery", Label("discovery", "referrers"), func() {
		Describe("referrers", Ordered, ContinueOnFailure, func() {
			repo := e.sub("referrers")
			subject := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
			sd := subject.Descriptor
			const typeA, typeB = "application/vnd.regkit.test.sbom", "application/vnd.regkit.test.signature"
			refs := []struct {
				name string
				m    fixtures.Manifest
			}{
				{"an artifact with artifactType and annotations", fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed(), ArtifactType: typeA, Blobs: 1, Subject: &sd,
					Annotations: map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z", "io.regkit.note": "sbom"}})},
				{"a second artifact of another type", fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed(), ArtifactType: typeB, Subject: &sd})},
				{"an image whose artifactType comes from its config", fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed(), Subject: &sd, ConfigMediaType: "application/vnd.regkit.test.config+json"})},
				{"an index with a subject", fixtures.IndexWith(fixtures.IndexOptions{Subject: &sd, ArtifactType: typeA, Annotations: map[string]string{"io.regkit.kind": "index"}}, fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()}))},
			}
			get := func(ctx SpecContext, d digest.Digest, artifactType string) *conformance.Response {
				r := oci.Request{Route: oci.RouteReferrers, Method: http.MethodGet, Name: repo, Digest: d}
				if artifactType != "" {
					r.Route, r.ArtifactType = oci.RouteReferrersFiltered, artifactType
				}
				return e.send(ctx, r, nil)
			}
			decode := func(resp *conformance.Response) v1.Index {
				GinkgoHelper()
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				var idx v1.Index
				Expect(json.Unmarshal(resp.Body, &idx)).To(Succeed(), "referrers body %q", string(resp.Body))
				return idx
			}
			find := func(idx v1.Index, d digest.Digest) *v1.Descriptor {
				for i := range idx.Manifests {
					if idx.Manifests[i].Digest == d {
						return &idx.Manifests[i]
					}
				}
				return nil
			}
			e.gate(featReferrers)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featReferrers) {
					return
				}
				all := []fixtures.Manifest{subject}
				for _, r := range refs {
					all = append(all, r.m)
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, repo, all...) })
				Expect(e.pushAll(ctx, repo, "subject", subject)).To(Succeed())
				for _, r := range refs {
					Expect(e.pushAll(ctx, repo, "", r.m)).To(Succeed(), "pushing %s", r.name)
				}
			})

			It("answers 200 with Content-Type application/vnd.oci.image.index.v1+json", Label(string(oci.RouteReferrers)), func(ctx SpecContext) {
				resp := get(ctx, subject.Digest(), "")
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(resp.Header.Get("Content-Type")).To(Equal(oci.MediaTypeImageIndex))
			})
			It("returns an image index (schemaVersion 2, mediaType index)", Label(string(oci.RouteReferrers)), func(ctx SpecContext) {
				idx := decode(get(ctx, subject.Digest(), ""))
				Expect(idx.SchemaVersion).To(Equal(2))
				Expect(idx.MediaType).To(Equal(oci.MediaTypeImageIndex))
			})
			It("lists one descriptor per referrer", Label(string(oci.RouteReferrers)), func(ctx SpecContext) {
				idx := decode(get(ctx, subject.Digest(), ""))
				var got []digest.Digest
				for _, d := range idx.Manifests {
					got = append(got, d.Digest)
				}
				var want []digest.Digest
				for _, r := range refs {
					want = append(want, r.m.Digest())
				}
				Expect(got).To(ConsistOf(want))
			})
			var fields []TableEntry
			for _, r := range refs {
				fields = append(fields,
					Entry("describes "+r.name+" with its mediaType, digest and size", r.m, "basic"),
					Entry("gives "+r.name+" its artifactType", r.m, "artifactType"),
					Entry("gives "+r.name+" exactly its annotations", r.m, "annotations"),
				)
			}
			DescribeTable("descriptor", Label(string(oci.RouteReferrers)),
				func(ctx SpecContext, m fixtures.Manifest, what string) {
					want := m.ReferrerDescriptor()
					got := find(decode(get(ctx, subject.Digest(), "")), m.Digest())
					Expect(got).NotTo(BeNil(), "referrer %s not listed", m.Digest())
					switch what {
					case "basic":
						Expect(got.MediaType).To(Equal(want.MediaType))
						Expect(got.Size).To(Equal(want.Size))
					case "artifactType":
						Expect(got.ArtifactType).To(Equal(want.ArtifactType))
					case "annotations":
						if len(want.Annotations) == 0 {
							Expect(got.Annotations).To(BeEmpty())
						} else {
							Expect(got.Annotations).To(Equal(want.Annotations))
						}
					}
				}, fields)

			It("filters by ?artifactType= and answers with OCI-Filters-Applied: artifactType", Label(string(oci.RouteReferrersFiltered)), func(ctx SpecContext) {
				resp := get(ctx, subject.Digest(), typeB)
				idx := decode(resp)
				Expect(resp.Header.Get(oci.OCIFiltersApplied)).To(Equal("artifactType"))
				Expect(idx.Manifests).To(HaveLen(1))
				Expect(idx.Manifests[0].Digest).To(Equal(refs[1].m.Digest()))
			})
			It("filters by an artifactType shared by two referrers", Label(string(oci.RouteReferrersFiltered)), func(ctx SpecContext) {
				idx := decode(get(ctx, subject.Digest(), typeA))
				var got []digest.Digest
				for _, d := range idx.Manifests {
					got = append(got, d.Digest)
				}
				Expect(got).To(ConsistOf(refs[0].m.Digest(), refs[3].m.Digest()))
			})
			It("answers a filter that matches nothing with an empty manifests list", Label(string(oci.RouteReferrersFiltered)), func(ctx SpecContext) {
				resp := get(ctx, subject.Digest(), "application/vnd.regkit.test.nothing")
				idx := decode(resp)
				Expect(idx.Manifests).To(BeEmpty())
				Expect(string(resp.Body)).To(MatchRegexp(`"manifests"\s*:\s*\[\s*\]`), "manifests must be [], not null or absent")
			})
			It("answers an unknown subject with 200 and an empty manifests list", Label(string(oci.RouteReferrers)), func(ctx SpecContext) {
				resp := get(ctx, digest.FromString("no such subject "+repo), "")
				idx := decode(resp)
				Expect(idx.Manifests).To(BeEmpty())
				Expect(string(resp.Body)).To(MatchRegexp(`"manifests"\s*:\s*\[\s*\]`), "manifests must be [], not null or absent")
			})
			It("answers a malformed digest with 400", Label(string(oci.RouteReferrers)), func(ctx SpecContext) {
				resp := get(ctx, digest.Digest("sha256:not-a-digest"), "")
				Expect(resp.Status).To(Equal(http.StatusBadRequest), "%s", resp)
			})
			It("drops a deleted referrer", Label(string(oci.RouteReferrers), string(oci.RouteManifestDelete), "management"), func(ctx SpecContext) {
				e.need(ctx, featDelete)
				r := oci.Request{Route: oci.RouteManifestDelete, Method: http.MethodDelete, Name: repo, Digest: refs[1].m.Digest()}
				del := e.send(ctx, r, nil)
				Expect(del.Status).To(Equal(http.StatusAccepted), "%s", del)
				idx := decode(get(ctx, subject.Digest(), ""))
				Expect(find(idx, refs[1].m.Digest())).To(BeNil(), "deleted referrer still listed")
				Expect(idx.Manifests).To(HaveLen(len(refs) - 1))
			})
		})
	})
}
