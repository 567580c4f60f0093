package oci

import (
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// sha512Specs covers sha512 digests on blobs, uploads and manifests.
func (e *env) sha512Specs() {
	Describe("sha512", func() {
		Describe("digests", Ordered, ContinueOnFailure, func() {
			b := fixtures.NewContent("application/octet-stream", fixtures.Blob(e.nextSeed()*1000+999, 4000), true)
			a := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed(), Blobs: 1, SHA512: true})
			e.gate(featSHA512)
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx, featSHA512) {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.cleanup(ctx, e.repo, a) })
			})

			It("POST then PUT ?digest=sha512:… answers 201 with a sha512 Docker-Content-Digest", Label(string(oci.RouteUploadFinish), "push"), func(ctx SpecContext) {
				loc := e.startUpload(ctx, e.repo)
				resp := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(b.Digest())), e.repo, b.Data, "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(b.Digest())))
			})
			It("GET by sha512 digest returns the pushed bytes", Label(string(oci.RouteBlob), "pull"), func(ctx SpecContext) {
				e.expectBlob(ctx, e.repo, b)
			})
			It("HEAD by sha512 digest has Content-Length and Docker-Content-Digest", Label(string(oci.RouteBlob), "pull"), func(ctx SpecContext) {
				r := e.req(oci.RouteBlob, http.MethodHead)
				r.Digest = b.Digest()
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(resp.Header.Get("Content-Length")).To(Equal(fmt.Sprint(len(b.Data))))
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(b.Digest())))
			})
			It("a chunked upload finishes with a sha512 digest", Label(string(oci.RouteUploadChunk), "push"), func(ctx SpecContext) {
				c := fixtures.NewContent("application/octet-stream", fixtures.Blob(e.nextSeed()*1000+999, 2000), true)
				loc := e.startUpload(ctx, e.repo)
				resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, c.Data[:1000], "Content-Type", "application/octet-stream", oci.ContentRange, "0-999")
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				resp = e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(c.Digest())), e.repo, c.Data[1000:], "Content-Type", "application/octet-stream", oci.ContentRange, "1000-1999")
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				e.expectBlob(ctx, e.repo, c)
			})
			It("single POST ?digest=sha512:… stores the blob", Label(string(oci.RouteUploadMonolithic), "push"), func(ctx SpecContext) {
				c := fixtures.NewContent("application/octet-stream", fixtures.Blob(e.nextSeed()*1000+999, 1200), true)
				r := e.req(oci.RouteUploadMonolithic, http.MethodPost)
				r.Digest = c.Digest()
				resp := e.send(ctx, r, c.Data, "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), "%s", resp)
				if resp.Status == http.StatusAccepted {
					loc, err := resp.Location()
					Expect(err).NotTo(HaveOccurred())
					put := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(c.Digest())), e.repo, c.Data, "Content-Type", "application/octet-stream")
					Expect(put.Status).To(Equal(http.StatusCreated), "%s", put)
				}
				e.expectBlob(ctx, e.repo, c)
			})
			It("a wrong sha512 digest answers 400 DIGEST_INVALID", Label(string(oci.RouteUploadFinish), "push"), func(ctx SpecContext) {
				loc := e.startUpload(ctx, e.repo)
				wrong := digest.SHA512.FromString("wrong " + b.Digest().String())
				expectError(e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(wrong)), e.repo, b.Data), http.StatusBadRequest, oci.CodeDigestInvalid)
			})
			It("POST ?digest-algorithm=sha512 starts an upload that finishes with a sha512 digest", Label(string(oci.RouteUploadAlgorithm), "push"), func(ctx SpecContext) {
				c := fixtures.NewContent("application/octet-stream", fixtures.Blob(e.nextSeed()*1000+999, 900), true)
				loc := e.startUpload(ctx, e.repo, "digest-algorithm", "sha512")
				resp := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(c.Digest())), e.repo, c.Data, "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				e.expectBlob(ctx, e.repo, c)
			})
			It("a manifest PUT by its sha512 digest answers 201 with a sha512 Docker-Content-Digest", Label(string(oci.RouteManifestPut), "push"), func(ctx SpecContext) {
				for _, bl := range a.Blobs() {
					Expect(e.pushBlob(ctx, e.repo, bl)).To(Succeed())
				}
				resp, err := e.pushManifest(ctx, e.repo, "", a.Content)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(a.Digest())))
			})
			It("GET of a manifest by its sha512 digest returns the pushed bytes", Label(string(oci.RouteManifest), "pull"), func(ctx SpecContext) {
				r := e.req(oci.RouteManifest, http.MethodGet)
				r.Digest = a.Digest()
				resp := e.send(ctx, r, nil, "Accept", manifestAccept)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				Expect(string(resp.Body)).To(Equal(string(a.Data)))
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(a.Digest())))
			})
		})
	})
}
