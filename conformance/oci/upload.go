package oci

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// startUpload POSTs an upload start and returns the session's Location.
func (e *env) startUpload(ctx context.Context, repo string, query ...string) *url.URL {
	GinkgoHelper()
	r := oci.Request{Route: oci.RouteUploadStart, Method: http.MethodPost, Name: repo}
	if len(query) == 2 && query[0] == "digest-algorithm" {
		r.DigestAlgorithm = query[1]
	}
	resp := e.send(ctx, r, nil)
	Expect(resp.Status).To(Equal(http.StatusAccepted), "POST %s: %s", r.Path(), resp)
	loc, err := resp.Location()
	Expect(err).NotTo(HaveOccurred(), "POST %s", r.Path())
	return loc
}

// readBlob GETs a blob from repo.
func (e *env) readBlob(ctx context.Context, repo string, d digest.Digest) *conformance.Response {
	GinkgoHelper()
	return e.send(ctx, oci.Request{Route: oci.RouteBlob, Method: http.MethodGet, Name: repo, Digest: d}, nil)
}

// expectBlob asserts that repo serves c byte-exact.
func (e *env) expectBlob(ctx context.Context, repo string, c fixtures.Content) {
	GinkgoHelper()
	resp := e.readBlob(ctx, repo, c.Digest())
	Expect(resp.Status).To(Equal(http.StatusOK), "GET blob %s: %s", c.Digest(), resp)
	Expect(digest.FromBytes(resp.Body)).To(Equal(digest.FromBytes(c.Data)), "blob %s not served byte-exact (%d bytes, want %d)", c.Digest(), len(resp.Body), len(c.Data))
}

// uploadSpecs covers the upload routes: end-4a, end-4b, end-5, end-6,
// end-13 and upload-cancel.
func (e *env) uploadSpecs() {
	Describe("push", Label("push"), func() {
		Describe("monolithic upload (POST then PUT)", Ordered, ContinueOnFailure, Label(string(oci.RouteUploadStart), string(oci.RouteUploadFinish)), func() {
			b := e.blob(3000)
			var post, put *conformance.Response
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				post = e.send(ctx, e.req(oci.RouteUploadStart, http.MethodPost), nil)
				if loc, err := post.Location(); err == nil && post.Status == http.StatusAccepted {
					put = e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(b.Digest())), e.repo, b.Data, "Content-Type", "application/octet-stream")
				}
			})
			It("POST answers 202 Accepted", func() {
				Expect(post.Status).To(Equal(http.StatusAccepted), "%s", post)
			})
			It("POST answers with a Location that resolves to an upload URL", func() {
				loc, err := post.Location()
				Expect(err).NotTo(HaveOccurred())
				Expect(loc.Scheme).To(BeElementOf("http", "https"))
				Expect(loc.Path).To(ContainSubstring("/v2/"))
			})
			It("POST answers with a Location on the registry's host when it is absolute", func() {
				l := post.Header.Get(oci.Location)
				Expect(l).NotTo(BeEmpty())
				if u, err := url.Parse(l); err == nil && u.IsAbs() {
					Expect(u.Host).NotTo(BeEmpty())
				} else {
					Expect(l).To(HavePrefix("/"), "a relative Location must be an absolute path")
				}
			})
			It("PUT with the blob answers 201 Created", func() {
				Expect(put).NotTo(BeNil(), "no PUT was sent")
				Expect(put.Status).To(Equal(http.StatusCreated), "%s", put)
			})
			It("PUT answers with a Location", func() {
				Expect(put).NotTo(BeNil())
				_, err := put.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("PUT answers with Docker-Content-Digest", func() {
				Expect(put).NotTo(BeNil())
				Expect(put.Header.Get(oci.DockerContentDigest)).To(Equal(string(b.Digest())))
			})
			It("serves the blob byte-exact afterwards", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				e.expectBlob(ctx, e.repo, b)
			})
		})

		Describe("single POST upload (?digest=)", Label(string(oci.RouteUploadMonolithic)), func() {
			It("answers 201 with a Location, or 202 to continue, and serves the blob", func(ctx SpecContext) {
				b := e.blob(2048)
				r := e.req(oci.RouteUploadMonolithic, http.MethodPost)
				r.Digest = b.Digest()
				resp := e.send(ctx, r, b.Data, "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), "%s", resp)
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				if resp.Status == http.StatusAccepted {
					put := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(b.Digest())), e.repo, b.Data, "Content-Type", "application/octet-stream")
					Expect(put.Status).To(Equal(http.StatusCreated), "%s", put)
				}
				e.expectBlob(ctx, e.repo, b)
			})
			It("stores a zero-byte blob", func(ctx SpecContext) {
				b := fixtures.NewContent("application/octet-stream", []byte{}, false)
				r := e.req(oci.RouteUploadMonolithic, http.MethodPost)
				r.Digest = b.Digest()
				resp := e.send(ctx, r, b.Data, "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(BeElementOf(http.StatusCreated, http.StatusAccepted), "%s", resp)
				if resp.Status == http.StatusAccepted {
					loc, err := resp.Location()
					Expect(err).NotTo(HaveOccurred())
					put := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(b.Digest())), e.repo, nil)
					Expect(put.Status).To(Equal(http.StatusCreated), "%s", put)
				}
				got := e.readBlob(ctx, e.repo, b.Digest())
				Expect(got.Status).To(Equal(http.StatusOK), "%s", got)
				Expect(got.Body).To(BeEmpty())
			})
		})

		Describe("chunked upload", Ordered, Label(string(oci.RouteUploadChunk), "chunked"), func() {
			b := e.blob(3 * 1024)
			chunk := func(i int) []byte { return b.Data[i*1024 : (i+1)*1024] }
			var locs []*url.URL
			patch := func(ctx SpecContext, loc *url.URL, i int) *conformance.Response {
				return e.sendTo(ctx, http.MethodPatch, loc, e.repo, chunk(i),
					"Content-Type", "application/octet-stream",
					oci.ContentRange, fmt.Sprintf("%d-%d", i*1024, (i+1)*1024-1))
			}
			last := func() *url.URL { return locs[len(locs)-1] }
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				locs = []*url.URL{e.startUpload(ctx, e.repo)}
			})
			It("PATCH of the first chunk answers 202 with Location and Range: 0-1023", func(ctx SpecContext) {
				resp := patch(ctx, last(), 0)
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-1023"))
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				locs = append(locs, loc)
			})
			It("GET of the upload URL answers 204 with Location and Range: 0-1023", Label(string(oci.RouteUploadStatus)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodGet, last(), e.repo, nil)
				Expect(resp.Status).To(Equal(http.StatusNoContent), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-1023"))
				_, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("PATCH whose Content-Range does not start at the current size answers 416", func(ctx SpecContext) {
				resp := patch(ctx, last(), 2)
				Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
			})
			It("PATCH of the second chunk answers 202 with Range: 0-2047", func(ctx SpecContext) {
				resp := patch(ctx, last(), 1)
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-2047"))
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				locs = append(locs, loc)
			})
			It("PATCH that repeats an earlier range, to any upload URL, answers 416", func(ctx SpecContext) {
				resp := patch(ctx, locs[1], 0)
				Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
			})
			It("PUT with the last chunk and ?digest= answers 201 with Location and Docker-Content-Digest", Label(string(oci.RouteUploadFinish)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPut, withQuery(last(), "digest", string(b.Digest())), e.repo, chunk(2),
					"Content-Type", "application/octet-stream", oci.ContentRange, "2048-3071")
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				_, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(b.Digest())))
			})
			It("serves the blob byte-exact afterwards", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				e.expectBlob(ctx, e.repo, b)
			})
		})

		Describe("an older upload URL", Ordered, Label(string(oci.RouteUploadChunk), "chunked"), func() {
			b := e.blob(2 * 1024)
			var first, latest *url.URL
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				first = e.startUpload(ctx, e.repo)
				resp := e.sendTo(ctx, http.MethodPatch, first, e.repo, b.Data[:1024], "Content-Type", "application/octet-stream", oci.ContentRange, "0-1023")
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			})
			It("keeps working: PATCH of the next chunk to the POST's Location answers 202 with Range: 0-2047", func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPatch, first, e.repo, b.Data[1024:], "Content-Type", "application/octet-stream", oci.ContentRange, "1024-2047")
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-2047"))
				var err error
				latest, err = resp.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("then finishes: PUT ?digest= answers 201 and the blob is served byte-exact", Label(string(oci.RouteUploadFinish)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPut, withQuery(latest, "digest", string(b.Digest())), e.repo, nil)
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				e.expectBlob(ctx, e.repo, b)
			})
		})

		Describe("streamed upload (PATCH without Content-Range)", Ordered, Label(string(oci.RouteUploadChunk), "chunked"), func() {
			b := e.blob(5000)
			var loc *url.URL
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				loc = e.startUpload(ctx, e.repo)
			})
			It("PATCH of a chunked-encoded body answers 202 with Range covering it", func(ctx SpecContext) {
				resp, err := e.client.Do(ctx, conformance.Request{Method: http.MethodPatch, URL: loc.String(), Body: b.Data[:3000], Chunked: true,
					Header: headers("Content-Type", "application/octet-stream"), Scopes: scopes(e.req(oci.RouteUploadChunk, http.MethodPatch))})
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-2999"))
				loc, err = resp.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("a second PATCH appends", func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, b.Data[3000:], "Content-Type", "application/octet-stream")
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				Expect(resp.Header.Get(oci.Range)).To(Equal("0-4999"))
				var err error
				loc, err = resp.Location()
				Expect(err).NotTo(HaveOccurred())
			})
			It("PUT ?digest= with an empty body answers 201", Label(string(oci.RouteUploadFinish)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(b.Digest())), e.repo, nil)
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
			})
			It("serves the blob byte-exact afterwards", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				e.expectBlob(ctx, e.repo, b)
			})
		})

		Describe("upload cancellation", Ordered, Label(string(oci.RouteUploadCancel)), func() {
			var loc *url.URL
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				loc = e.startUpload(ctx, e.repo)
				resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, fixtures.Blob(e.nextSeed(), 100), "Content-Type", "application/octet-stream", oci.ContentRange, "0-99")
				Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
				if l, err := resp.Location(); err == nil {
					loc = l
				}
			})
			It("DELETE of the upload URL answers 204", func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodDelete, loc, e.repo, nil)
				Expect(resp.Status).To(Equal(http.StatusNoContent), "%s", resp)
			})
			It("GET of the cancelled upload answers 404 BLOB_UPLOAD_UNKNOWN", Label(string(oci.RouteUploadStatus)), func(ctx SpecContext) {
				expectError(e.sendTo(ctx, http.MethodGet, loc, e.repo, nil), http.StatusNotFound, oci.CodeBlobUploadUnknown)
			})
			It("PATCH to the cancelled upload answers 404 BLOB_UPLOAD_UNKNOWN", Label(string(oci.RouteUploadChunk)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, []byte("more"), "Content-Type", "application/octet-stream", oci.ContentRange, "100-103")
				expectError(resp, http.StatusNotFound, oci.CodeBlobUploadUnknown)
			})
			It("PUT to the cancelled upload answers 404 BLOB_UPLOAD_UNKNOWN", Label(string(oci.RouteUploadFinish)), func(ctx SpecContext) {
				resp := e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(digest.FromString("x"))), e.repo, []byte("x"))
				expectError(resp, http.StatusNotFound, oci.CodeBlobUploadUnknown)
			})
		})

		Describe("unknown upload sessions", func() {
			unknownID := "regkit-conformance-no-such-upload"
			DescribeTable("answer 404 BLOB_UPLOAD_UNKNOWN",
				func(ctx SpecContext, route oci.RouteID, method string, body []byte) {
					r := e.req(route, method)
					r.UploadID = unknownID
					if route == oci.RouteUploadFinish {
						r.Digest = digest.FromBytes(body)
					}
					expectError(e.send(ctx, r, body, "Content-Type", "application/octet-stream"), http.StatusNotFound, oci.CodeBlobUploadUnknown)
				},
				Entry("GET upload status", Label(string(oci.RouteUploadStatus)), oci.RouteUploadStatus, http.MethodGet, nil),
				Entry("PATCH a chunk", Label(string(oci.RouteUploadChunk)), oci.RouteUploadChunk, http.MethodPatch, []byte("abc")),
				Entry("PUT to finish", Label(string(oci.RouteUploadFinish)), oci.RouteUploadFinish, http.MethodPut, []byte("abc")),
				Entry("DELETE to cancel", Label(string(oci.RouteUploadCancel)), oci.RouteUploadCancel, http.MethodDelete, nil),
			)
		})

		Describe("digest mismatch", Label(string(oci.RouteUploadFinish)), func() {
			type path struct {
				name   string
				upload func(ctx SpecContext, b fixtures.Content, wrong digest.Digest) *conformance.Response
			}
			paths := []path{
				{"single POST ?digest= (or its PUT when the POST answers 202)", func(ctx SpecContext, b fixtures.Content, wrong digest.Digest) *conformance.Response {
					r := e.req(oci.RouteUploadMonolithic, http.MethodPost)
					r.Digest = wrong
					resp := e.send(ctx, r, b.Data, "Content-Type", "application/octet-stream")
					if resp.Status != http.StatusAccepted {
						return resp
					}
					// No single-POST support: the upload continues, and its
					// PUT must refuse the digest.
					loc, err := resp.Location()
					Expect(err).NotTo(HaveOccurred())
					return e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(wrong)), e.repo, b.Data, "Content-Type", "application/octet-stream")
				}},
				{"POST then PUT with the body", func(ctx SpecContext, b fixtures.Content, wrong digest.Digest) *conformance.Response {
					loc := e.startUpload(ctx, e.repo)
					return e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(wrong)), e.repo, b.Data, "Content-Type", "application/octet-stream")
				}},
				{"chunked PATCH then PUT with no body", func(ctx SpecContext, b fixtures.Content, wrong digest.Digest) *conformance.Response {
					loc := e.startUpload(ctx, e.repo)
					resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, b.Data, "Content-Type", "application/octet-stream", oci.ContentRange, fmt.Sprintf("0-%d", len(b.Data)-1))
					Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
					loc, err := resp.Location()
					Expect(err).NotTo(HaveOccurred())
					return e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(wrong)), e.repo, nil)
				}},
				{"chunked PATCH then PUT with the last chunk", func(ctx SpecContext, b fixtures.Content, wrong digest.Digest) *conformance.Response {
					loc := e.startUpload(ctx, e.repo)
					resp := e.sendTo(ctx, http.MethodPatch, loc, e.repo, b.Data[:100], "Content-Type", "application/octet-stream", oci.ContentRange, "0-99")
					Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
					loc, err := resp.Location()
					Expect(err).NotTo(HaveOccurred())
					return e.sendTo(ctx, http.MethodPut, withQuery(loc, "digest", string(wrong)), e.repo, b.Data[100:], "Content-Type", "application/octet-stream", oci.ContentRange, fmt.Sprintf("100-%d", len(b.Data)-1))
				}},
			}
			var status, absent []TableEntry
			for _, p := range paths {
				status = append(status, Entry(p.name+" with a wrong digest answers 400 DIGEST_INVALID", p))
				absent = append(absent, Entry(p.name+" with a wrong digest stores nothing under that digest", p))
			}
			DescribeTable("status", func(ctx SpecContext, p path) {
				b := e.blob(700)
				wrong := digest.FromString("regkit conformance wrong digest " + b.Digest().String())
				expectError(p.upload(ctx, b, wrong), http.StatusBadRequest, oci.CodeDigestInvalid)
			}, status)
			DescribeTable("storage", func(ctx SpecContext, p path) {
				b := e.blob(700)
				wrong := digest.FromString("regkit conformance wrong digest " + b.Digest().String())
				p.upload(ctx, b, wrong)
				Expect(e.readBlob(ctx, e.repo, wrong).Status).To(Equal(http.StatusNotFound))
				Expect(e.readBlob(ctx, e.repo, b.Digest()).Status).To(Equal(http.StatusNotFound), "a rejected upload must not store the blob")
			}, absent)
		})

		Describe("concurrent uploads of the same blob", Label(string(oci.RouteUploadFinish)), func() {
			It("all finish with 201 and the blob is served byte-exact", func(ctx SpecContext) {
				b := e.blob(256 << 10)
				const n = 4
				var wg sync.WaitGroup
				errs := make([]string, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer GinkgoRecover()
						if err := e.pushBlob(ctx, e.repo, b); err != nil {
							errs[i] = err.Error()
						}
					}()
				}
				wg.Wait()
				Expect(strings.Join(errs, "")).To(BeEmpty())
				e.expectBlob(ctx, e.repo, b)
			})
			It("interleaved chunked uploads of the same blob both complete", Label(string(oci.RouteUploadChunk)), func(ctx SpecContext) {
				b := e.blob(2000)
				a1, a2 := e.startUpload(ctx, e.repo), e.startUpload(ctx, e.repo)
				r1 := e.sendTo(ctx, http.MethodPatch, a1, e.repo, b.Data[:1000], "Content-Type", "application/octet-stream", oci.ContentRange, "0-999")
				r2 := e.sendTo(ctx, http.MethodPatch, a2, e.repo, b.Data[:1000], "Content-Type", "application/octet-stream", oci.ContentRange, "0-999")
				Expect(r1.Status).To(Equal(http.StatusAccepted), "%s", r1)
				Expect(r2.Status).To(Equal(http.StatusAccepted), "%s", r2)
				l1, _ := r1.Location()
				l2, _ := r2.Location()
				p2 := e.sendTo(ctx, http.MethodPut, withQuery(l2, "digest", string(b.Digest())), e.repo, b.Data[1000:], "Content-Type", "application/octet-stream", oci.ContentRange, "1000-1999")
				p1 := e.sendTo(ctx, http.MethodPut, withQuery(l1, "digest", string(b.Digest())), e.repo, b.Data[1000:], "Content-Type", "application/octet-stream", oci.ContentRange, "1000-1999")
				Expect(p2.Status).To(Equal(http.StatusCreated), "%s", p2)
				Expect(p1.Status).To(Equal(http.StatusCreated), "%s", p1)
				e.expectBlob(ctx, e.repo, b)
			})
		})
	})
}
