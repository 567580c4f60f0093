package oci

import (
	"net/http"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// manifestKind is one shape of manifest that is pushed and read back.
type manifestKind struct {
	name  string
	tag   string
	m     fixtures.Manifest
	feats []feature
	// byDigest pushes the manifest by its digest with ?tag= (end-7b):
	// a manifest pushed by tag gets the registry's canonical (sha256)
	// digest, so a sha512 manifest must be pushed by digest.
	byDigest bool
}

// manifestKinds returns every manifest shape a registry must store and
// serve byte-exact.
func (e *env) manifestKinds() []manifestKind {
	s := e.nextSeed
	img := func(o fixtures.ImageOptions) fixtures.Manifest { o.Seed = s(); return fixtures.Image(o) }
	return []manifestKind{
		{name: "an OCI image with two layers", tag: "oci-image", m: img(fixtures.ImageOptions{Layers: 2})},
		{name: "an OCI image with no layers (layers: [])", tag: "no-layers", m: img(fixtures.ImageOptions{Layers: -1})},
		{name: "an OCI image with a zero-byte layer", tag: "zero-layer", m: img(fixtures.ImageOptions{LayerSize: fixtures.ZeroSize})},
		{name: "an OCI image without a mediaType field", tag: "no-media-type", m: img(fixtures.ImageOptions{OmitMediaType: true})},
		{name: "an OCI image with unknown fields and a data field", tag: "unknown-fields", m: img(fixtures.ImageOptions{UnknownFields: true, InlineData: true})},
		{name: "an OCI image with non-distributable layers that were never pushed", tag: "non-distributable", m: img(fixtures.ImageOptions{NonDistributable: 2})},
		{name: "an OCI image with annotations and an artifactType", tag: "annotated", m: img(fixtures.ImageOptions{ArtifactType: "application/vnd.regkit.test.image", Annotations: map[string]string{"org.opencontainers.image.title": "regkit", "io.regkit.test": "yes"}})},
		{name: "a Docker v2 schema 2 image", tag: "docker-image", m: img(fixtures.ImageOptions{Docker: true, Layers: 2})},
		{name: "an OCI index of two images", tag: "oci-index", m: fixtures.Index(img(fixtures.ImageOptions{}), img(fixtures.ImageOptions{}))},
		{name: "a nested OCI index (an index of an index and an image)", tag: "nested-index", m: fixtures.Index(fixtures.Index(img(fixtures.ImageOptions{})), img(fixtures.ImageOptions{}))},
		{name: "a Docker manifest list", tag: "docker-list", m: fixtures.IndexWith(fixtures.IndexOptions{Docker: true}, img(fixtures.ImageOptions{Docker: true}), img(fixtures.ImageOptions{Docker: true}))},
		{name: "an OCI artifact with the empty config", tag: "artifact", m: fixtures.Artifact(fixtures.ArtifactOptions{Seed: s(), Blobs: 2, ArtifactType: "application/vnd.regkit.test.artifact"})},
		{name: "an OCI artifact with no blobs", tag: "artifact-no-blobs", m: fixtures.Artifact(fixtures.ArtifactOptions{Seed: s(), InlineData: true})},
		{name: "a large (1 MiB) OCI image manifest", tag: "large", m: img(fixtures.ImageOptions{Pad: 1 << 20})},
		{name: "an OCI image with sha512 digests", tag: "sha512-image", m: img(fixtures.ImageOptions{SHA512: true}), feats: []feature{featSHA512}, byDigest: true},
	}
}

// manifestSpecs pushes every manifest kind by tag (end-7) and reads it back
// by tag and digest with GET and HEAD (end-3).
func (e *env) manifestSpecs() {
	for _, k := range e.manifestKinds() {
		Describe("manifest: "+k.name, Ordered, ContinueOnFailure, func() {
			var put *conformance.Response
			e.gate(k.feats...)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, k.feats...) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, k.m) })
				for _, b := range k.m.Blobs() {
					Expect(e.pushBlob(ctx, e.repo, b)).To(Succeed(), "pushing blob %s", b.Digest())
				}
				children := k.m.Manifests()
				for _, c := range children[:len(children)-1] {
					resp, err := e.pushManifest(ctx, e.repo, "", c.Content)
					Expect(err).NotTo(HaveOccurred())
					Expect(resp.Status).To(Equal(http.StatusCreated), "pushing child manifest %s: %s", c.Digest(), resp)
				}
				var err error
				if k.byDigest {
					r := oci.Request{Route: oci.RouteManifestPutTags, Method: http.MethodPut, Name: e.repo, Digest: k.m.Digest(), Tags: []string{k.tag}}
					put, err = e.try(ctx, r, k.m.Content.Data, "Content-Type", k.m.Content.MediaType())
				} else {
					put, err = e.pushManifest(ctx, e.repo, k.tag, k.m.Content)
				}
				Expect(err).NotTo(HaveOccurred())
			})
			pushed := func() {
				GinkgoHelper()
				if put == nil || put.Status != http.StatusCreated {
					Skip("skipped: the manifest push failed")
				}
			}
			get := func(ctx SpecContext, method string, byDigest bool) *conformance.Response {
				GinkgoHelper()
				r := e.req(oci.RouteManifest, method)
				if byDigest {
					r.Digest = k.m.Digest()
				} else {
					r.Reference = k.tag
				}
				return e.send(ctx, r, nil, "Accept", manifestAccept)
			}
			m := k.m

			It("PUT by tag answers 201 Created", Label(string(oci.RouteManifestPut), "push"), func() {
				Expect(put).NotTo(BeNil())
				Expect(put.Status).To(Equal(http.StatusCreated), "%s", put)
			})
			It("PUT by tag answers with a Location", Label(string(oci.RouteManifestPut), "push"), func() {
				pushed()
				_, err := put.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("PUT by tag answers with Docker-Content-Digest of the body", Label(string(oci.RouteManifestPut), "push"), func() {
				pushed()
				Expect(put.Header.Get(oci.DockerContentDigest)).To(Equal(string(m.Digest())))
			})
			It("GET by tag returns the pushed bytes", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodGet, false)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(string(resp.Body)).To(Equal(string(m.Data)), "manifest not served byte-exact")
			})
			It("GET by tag has the pushed Content-Type", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodGet, false)
				Expect(resp.Header.Get("Content-Type")).To(Equal(m.MediaType()))
			})
			It("GET by tag has Docker-Content-Digest", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodGet, false)
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(m.Digest())))
			})
			It("GET by digest returns the pushed bytes", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodGet, true)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(string(resp.Body)).To(Equal(string(m.Data)), "manifest not served byte-exact")
			})
			It("HEAD by tag has Content-Length and no body", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodHead, false)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(resp.Header.Get("Content-Length")).To(Equal(strconv.Itoa(len(m.Data))))
				Expect(resp.Body).To(BeEmpty())
			})
			It("HEAD by digest has Docker-Content-Digest and Content-Type", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				pushed()
				resp := get(ctx, http.MethodHead, true)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(m.Digest())))
				Expect(resp.Header.Get("Content-Type")).To(Equal(m.MediaType()))
			})
			It("PUT of the same manifest by digest answers 201 with its digest", Label(string(oci.RouteManifestPut), "push"), func(ctx SpecContext) {
				pushed()
				resp, err := e.pushManifest(ctx, e.repo, "", m.Content)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(m.Digest())))
			})
		})
	}
}
