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

// pushSpecs covers manifest PUT failures (end-7) and invalid names.
func (e *env) pushSpecs() {
	Describe("push", Label("push"), func() {
		Describe("manifest validation", Label(string(oci.RouteManifestPut)), func() {
			It("rejects an image whose blobs were never pushed with 400 MANIFEST_BLOB_UNKNOWN", func(ctx SpecContext) {
				e.need(ctx, featBlobCheck)
				m := fixtures.UnknownBlobs(e.nextSeed())
				resp, err := e.pushManifest(ctx, e.repo, "unknown-blobs", m.Content)
				Expect(err).NotTo(HaveOccurred())
				expectError(resp, http.StatusBadRequest, oci.CodeManifestBlobUnknown)
			})
			It("rejects an image whose layer is missing (config pushed) with 400 MANIFEST_BLOB_UNKNOWN", func(ctx SpecContext) {
				e.need(ctx, featBlobCheck)
				m := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
				Expect(e.pushBlob(ctx, e.repo, m.Config)).To(Succeed())
				resp, err := e.pushManifest(ctx, e.repo, "", m.Content)
				Expect(err).NotTo(HaveOccurred())
				expectError(resp, http.StatusBadRequest, oci.CodeManifestBlobUnknown)
			})
			It("does not serve a manifest it rejected", func(ctx SpecContext) {
				e.need(ctx, featBlobCheck)
				m := fixtures.UnknownBlobs(e.nextSeed())
				_, err := e.pushManifest(ctx, e.repo, "rejected", m.Content)
				Expect(err).NotTo(HaveOccurred())
				r := e.req(oci.RouteManifest, http.MethodGet)
				r.Reference = "rejected"
				resp := e.send(ctx, r, nil, "Accept", manifestAccept)
				Expect(resp.Status).To(Equal(http.StatusNotFound), "%s", resp)
			})

			var invalid []TableEntry
			for _, b := range fixtures.InvalidManifests() {
				invalid = append(invalid, Entry("rejects a body that is "+b.Name+" with 400 MANIFEST_INVALID", b))
			}
			DescribeTable("invalid manifests",
				func(ctx SpecContext, b fixtures.BadBody) {
					r := e.req(oci.RouteManifestPut, http.MethodPut)
					r.Reference = "invalid"
					expectError(e.send(ctx, r, b.Body, "Content-Type", b.MediaType), http.StatusBadRequest, oci.CodeManifestInvalid)
				}, invalid)

			It("rejects a PUT by a digest that does not match the body with 400 DIGEST_INVALID", func(ctx SpecContext) {
				m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
				Expect(e.pushBlob(ctx, e.repo, m.Config)).To(Succeed())
				r := e.req(oci.RouteManifestPut, http.MethodPut)
				r.Digest = digest.FromString("not the manifest")
				expectError(e.send(ctx, r, m.Data, "Content-Type", m.MediaType()), http.StatusBadRequest, oci.CodeDigestInvalid)
			})

			var badTags []TableEntry
			for _, b := range fixtures.BadTags() {
				badTags = append(badTags, Entry("rejects a tag that is "+b.Name+" with 400", b.Value))
			}
			DescribeTable("invalid tags",
				func(ctx SpecContext, tag string) {
					m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
					Expect(e.pushBlob(ctx, e.repo, m.Config)).To(Succeed())
					r := e.req(oci.RouteManifestPut, http.MethodPut)
					r.Reference = tag
					resp := e.send(ctx, r, m.Data, "Content-Type", m.MediaType())
					Expect(resp.Status).To(Equal(http.StatusBadRequest), "%s", resp)
					Expect(ociError(resp)).NotTo(BeNil(), "want an OCI JSON error body, got %q", string(resp.Body))
				}, badTags)

			It("accepts a 16 MiB manifest or refuses it with 413", func(ctx SpecContext) {
				m := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed(), Pad: 16 << 20})
				for _, b := range m.Blobs() {
					Expect(e.pushBlob(ctx, e.repo, b)).To(Succeed())
				}
				resp, err := e.pushManifest(ctx, e.repo, "huge", m.Content)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Status).To(BeElementOf(http.StatusCreated, http.StatusRequestEntityTooLarge), "%s", resp)
				if resp.Status == http.StatusCreated {
					DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, m) })
				}
			})

			It("tags a manifest PUT by digest with each ?tag= when it supports them", Label(string(oci.RouteManifestPutTags)), func(ctx SpecContext) {
				m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
				Expect(e.pushBlob(ctx, e.repo, m.Config)).To(Succeed())
				r := e.req(oci.RouteManifestPut, http.MethodPut)
				r.Digest = m.Digest()
				r.Tags = []string{"via-query-1", "via-query-2"}
				resp := e.send(ctx, r, m.Data, "Content-Type", m.MediaType())
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, m) })
				tr := e.req(oci.RouteManifest, http.MethodHead)
				tr.Reference = "via-query-1"
				got := e.send(ctx, tr, nil, "Accept", manifestAccept)
				if got.Status == http.StatusNotFound && resp.Header.Get("OCI-Tag") == "" {
					Skip(conformance.UnsupportedPrefix + " manifest PUT by digest ignores ?tag=")
				}
				Expect(got.Status).To(Equal(http.StatusOK))
				tr.Reference = "via-query-2"
				Expect(e.send(ctx, tr, nil, "Accept", manifestAccept).Status).To(Equal(http.StatusOK))
			})
		})

		Describe("subject", Label(string(oci.RouteManifestPut), "referrers"), func() {
			It("accepts a manifest whose subject does not exist and answers with OCI-Subject", func(ctx SpecContext) {
				e.need(ctx, featReferrers)
				subject := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()}).Descriptor
				a := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed(), Subject: &subject})
				Expect(e.pushBlob(ctx, e.repo, a.Config)).To(Succeed())
				resp, err := e.pushManifest(ctx, e.repo, "", a.Content)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, a) })
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				Expect(resp.Header.Get(oci.OCISubject)).To(Equal(string(subject.Digest)))
			})
			It("accepts an index with a subject and answers with OCI-Subject", func(ctx SpecContext) {
				e.need(ctx, featReferrers)
				subject := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()}).Descriptor
				child := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed()})
				idx := fixtures.IndexWith(fixtures.IndexOptions{Subject: &subject, ArtifactType: "application/vnd.regkit.test.index"}, child)
				Expect(e.pushAll(ctx, e.repo, "", idx.Children[0])).To(Succeed())
				resp, err := e.pushManifest(ctx, e.repo, "", idx.Content)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, idx) })
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				Expect(resp.Header.Get(oci.OCISubject)).To(Equal(string(subject.Digest)))
			})
		})

		Describe("invalid repository names", Label(string(oci.RouteUploadStart), string(oci.RouteManifestPut)), func() {
			var upload, manifest []TableEntry
			for _, b := range fixtures.BadNames() {
				upload = append(upload, Entry("POST upload to a name with a component that is "+b.Name+" answers 400 NAME_INVALID", b.Value))
				manifest = append(manifest, Entry("PUT manifest to a name with a component that is "+b.Name+" answers 400 NAME_INVALID", b.Value))
			}
			DescribeTable("upload", func(ctx SpecContext, bad string) {
				r := e.req(oci.RouteUploadStart, http.MethodPost)
				r.Name = e.repo + "/" + bad
				resp := e.send(ctx, r, nil)
				if resp.Status == http.StatusAccepted {
					if loc, err := resp.Location(); err == nil {
						e.sendTo(ctx, http.MethodDelete, loc, r.Name, nil)
					}
				}
				expectError(resp, http.StatusBadRequest, oci.CodeNameInvalid)
			}, upload)
			DescribeTable("manifest", func(ctx SpecContext, bad string) {
				m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed()})
				r := e.req(oci.RouteManifestPut, http.MethodPut)
				r.Name = e.repo + "/" + bad
				r.Reference = "latest"
				expectError(e.send(ctx, r, m.Data, "Content-Type", m.MediaType()), http.StatusBadRequest, oci.CodeNameInvalid)
			}, manifest)
		})
	})
}
