package oci

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/oci"
)

// mountSpecs covers cross-repository mounts (end-11).
func (e *env) mountSpecs() {
	Describe("push", Label("push"), func() {
		Describe("cross-repository mount", Ordered, ContinueOnFailure, Label(string(oci.RouteBlobMount)), func() {
			src, dst := e.sub("mount-source"), e.sub("mount-target")
			b := e.blob(1500)
			var mount *conformance.Response
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				Expect(e.pushBlob(ctx, src, b)).To(Succeed())
				r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: dst, Digest: b.Digest(), From: src}
				mount = e.send(ctx, r, nil)
			})
			It("POST ?mount=&from= of a readable blob answers 201", func() {
				Expect(mount.Status).To(Equal(http.StatusCreated), "%s", mount)
			})
			It("answers with Location /v2/<target>/blobs/<digest>", func() {
				loc, err := mount.Location()
				Expect(err).NotTo(HaveOccurred())
				Expect(loc.EscapedPath()).To(Equal(oci.Request{Route: oci.RouteBlob, Name: dst, Digest: b.Digest()}.Path()))
			})
			It("answers with Docker-Content-Digest", func() {
				Expect(mount.Header.Get(oci.DockerContentDigest)).To(Equal(string(b.Digest())))
			})
			It("serves the mounted blob byte-exact from the target", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				e.expectBlob(ctx, dst, b)
			})
			It("answers 202 with an upload Location when the blob is not in the source", func(ctx SpecContext) {
				r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: dst, Digest: digest.FromString("never pushed " + dst), From: src}
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				e.sendTo(ctx, http.MethodDelete, loc, dst, nil)
			})
			It("answers 202 with an upload Location when the source repository does not exist", func(ctx SpecContext) {
				r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: dst, Digest: b.Digest(), From: e.sub("no-such-source")}
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				e.sendTo(ctx, http.MethodDelete, loc, dst, nil)
			})
			It("answers a mount without from= with 201 (discovered) or 202 (upload)", func(ctx SpecContext) {
				r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: e.sub("mount-nofrom"), Digest: b.Digest()}
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), "%s", resp)
				_, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				if ok, _ := e.has(ctx, featAutoMount); !ok && e.setting(featAutoMount) == conformance.FeatureOff {
					Expect(resp.Status).To(Equal(http.StatusAccepted), "automatic content discovery is configured off")
				}
			})
			It("mounts without from= when automatic content discovery is on", func(ctx SpecContext) {
				e.need(ctx, featAutoMount)
				c := e.blob(800)
				Expect(e.pushBlob(ctx, src, c)).To(Succeed())
				r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: e.sub("mount-auto"), Digest: c.Digest()}
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				e.expectBlob(ctx, e.sub("mount-auto"), c)
			})
		})
	})
}
