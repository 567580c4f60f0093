package oci

import (
	"fmt"
	"net/http"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// blobCheck is one assertion on the GET or HEAD of a pushed blob.
type blobCheck struct {
	method string
	check  func(resp *conformance.Response, c fixtures.Content)
}

// pullSpecs covers end-2 (blobs, ranges) and the failure cases of end-2 and
// end-3; manifestSpecs covers reading pushed manifests back.
func (e *env) pullSpecs() {
	img := fixtures.Image(fixtures.ImageOptions{Seed: e.nextSeed(), Layers: 1, LayerSize: 4096})
	zero := fixtures.NewContent("application/octet-stream", []byte{}, false)
	big := e.blob(1<<20 + 17)
	blobs := map[string]fixtures.Content{
		"config blob":       img.Config,
		"4 KiB layer":       img.Layers[0],
		"zero-byte blob":    zero,
		"1 MiB + 17 B blob": big,
	}
	order := []string{"config blob", "4 KiB layer", "zero-byte blob", "1 MiB + 17 B blob"}

	Describe("pull", Label("pull"), func() {
		Describe("blobs", Ordered, ContinueOnFailure, func() {
			BeforeAll(func(ctx SpecContext) {
				if !e.ready(ctx) {
					return
				}
				for _, k := range order {
					Expect(e.pushBlob(ctx, e.repo, blobs[k])).To(Succeed(), "pushing the %s", k)
				}
			})

			get := func(ctx SpecContext, method string, d digest.Digest, hdr ...string) *conformance.Response {
				r := e.req(oci.RouteBlob, method)
				r.Digest = d
				return e.send(ctx, r, nil, hdr...)
			}
			checks := map[string]blobCheck{
				"GET answers 200": {http.MethodGet, func(resp *conformance.Response, _ fixtures.Content) {
					Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				}},
				"GET returns the pushed bytes": {http.MethodGet, func(resp *conformance.Response, c fixtures.Content) {
					Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
					Expect(resp.Body).To(HaveLen(len(c.Data)))
					Expect(digest.FromBytes(resp.Body)).To(Equal(digest.FromBytes(c.Data)), "body differs from the pushed blob")
				}},
				"GET has Content-Length": {http.MethodGet, func(resp *conformance.Response, c fixtures.Content) {
					Expect(resp.Header.Get("Content-Length")).To(Equal(strconv.Itoa(len(c.Data))))
				}},
				"GET has Docker-Content-Digest": {http.MethodGet, func(resp *conformance.Response, c fixtures.Content) {
					Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(c.Digest())))
				}},
				"HEAD answers 200 with no body": {http.MethodHead, func(resp *conformance.Response, _ fixtures.Content) {
					Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
					Expect(resp.Body).To(BeEmpty())
				}},
				"HEAD has Content-Length": {http.MethodHead, func(resp *conformance.Response, c fixtures.Content) {
					Expect(resp.Header.Get("Content-Length")).To(Equal(strconv.Itoa(len(c.Data))))
				}},
				"HEAD has Docker-Content-Digest": {http.MethodHead, func(resp *conformance.Response, c fixtures.Content) {
					Expect(resp.Header.Get(oci.DockerContentDigest)).To(Equal(string(c.Digest())))
				}},
			}
			checkOrder := []string{"GET answers 200", "GET returns the pushed bytes", "GET has Content-Length", "GET has Docker-Content-Digest",
				"HEAD answers 200 with no body", "HEAD has Content-Length", "HEAD has Docker-Content-Digest"}
			var entries []TableEntry
			for _, k := range order {
				for _, ck := range checkOrder {
					entries = append(entries, Entry(fmt.Sprintf("%s: %s", k, ck), k, ck))
				}
			}
			DescribeTable("of a pushed blob", Label(string(oci.RouteBlob)),
				func(ctx SpecContext, blobName, checkName string) {
					c, ck := blobs[blobName], checks[checkName]
					ck.check(get(ctx, ck.method, c.Digest()), c)
				}, entries)

			type rangeCase struct {
				header     string
				start, end int // inclusive; end -1 means unsatisfiable
			}
			size := len(big.Data)
			DescribeTable("a Range GET", Label(string(oci.RouteBlob)),
				func(ctx SpecContext, rc rangeCase) {
					resp := get(ctx, http.MethodGet, big.Digest(), "Range", rc.header)
					if rc.end < 0 {
						Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
						return
					}
					Expect(resp.Status).To(Equal(http.StatusPartialContent), "%s", resp)
					Expect(resp.Header.Get(oci.ContentRange)).To(Equal(fmt.Sprintf("bytes %d-%d/%d", rc.start, rc.end, size)))
					Expect(resp.Body).To(Equal(big.Data[rc.start:rc.end+1]), "range body differs")
				},
				Entry("bytes=0-99 answers 206 with the first 100 bytes", rangeCase{"bytes=0-99", 0, 99}),
				Entry("bytes=1000-1999 answers 206 with those bytes", rangeCase{"bytes=1000-1999", 1000, 1999}),
				Entry("bytes=<last byte>-<last byte> answers 206 with one byte", rangeCase{fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size - 1}),
				Entry("an open range bytes=N- answers 206 with the rest", rangeCase{fmt.Sprintf("bytes=%d-", size-300), size - 300, size - 1}),
				Entry("a suffix range bytes=-50 answers 206 with the last 50 bytes", rangeCase{"bytes=-50", size - 50, size - 1}),
				Entry("a range past the end is clipped to the blob", rangeCase{fmt.Sprintf("bytes=%d-%d", size-10, size+1000), size - 10, size - 1}),
				Entry("a range starting at the size answers 416", rangeCase{fmt.Sprintf("bytes=%d-", size), 0, -1}),
				Entry("a range starting past the size answers 416", rangeCase{fmt.Sprintf("bytes=%d-%d", size+10, size+20), 0, -1}),
				Entry("a malformed range answers 416", rangeCase{"bytes=abc-def", 0, -1}),
			)
		})

		Describe("unknown content", func() {
			unknown := digest.FromString("regkit conformance: never pushed " + e.repo)
			It("GET of an unknown blob answers 404 BLOB_UNKNOWN", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				r := e.req(oci.RouteBlob, http.MethodGet)
				r.Digest = unknown
				expectError(e.send(ctx, r, nil), http.StatusNotFound, oci.CodeBlobUnknown)
			})
			It("HEAD of an unknown blob answers 404 with no body", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				r := e.req(oci.RouteBlob, http.MethodHead)
				r.Digest = unknown
				resp := e.send(ctx, r, nil)
				Expect(resp.Status).To(Equal(http.StatusNotFound))
				Expect(resp.Body).To(BeEmpty())
			})
			It("GET of an unknown tag answers 404 MANIFEST_UNKNOWN", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				r := e.req(oci.RouteManifest, http.MethodGet)
				r.Reference = "never-pushed"
				expectError(e.send(ctx, r, nil, "Accept", manifestAccept), http.StatusNotFound, oci.CodeManifestUnknown)
			})
			It("GET of an unknown manifest digest answers 404 MANIFEST_UNKNOWN", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				r := e.req(oci.RouteManifest, http.MethodGet)
				r.Digest = unknown
				expectError(e.send(ctx, r, nil, "Accept", manifestAccept), http.StatusNotFound, oci.CodeManifestUnknown)
			})
			It("HEAD of an unknown manifest answers 404 with no body", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				r := e.req(oci.RouteManifest, http.MethodHead)
				r.Reference = "never-pushed"
				resp := e.send(ctx, r, nil, "Accept", manifestAccept)
				Expect(resp.Status).To(Equal(http.StatusNotFound))
				Expect(resp.Body).To(BeEmpty())
			})
			It("GET of a manifest in an unknown repository answers 404 NAME_UNKNOWN or MANIFEST_UNKNOWN", Label(string(oci.RouteManifest)), func(ctx SpecContext) {
				r := e.req(oci.RouteManifest, http.MethodGet)
				r.Name = e.sub("no-such-repository")
				r.Reference = "latest"
				expectError(e.send(ctx, r, nil, "Accept", manifestAccept), http.StatusNotFound, oci.CodeNameUnknown, oci.CodeManifestUnknown)
			})
			It("GET of a blob in an unknown repository answers 404 NAME_UNKNOWN or BLOB_UNKNOWN", Label(string(oci.RouteBlob)), func(ctx SpecContext) {
				r := e.req(oci.RouteBlob, http.MethodGet)
				r.Name = e.sub("no-such-repository")
				r.Digest = unknown
				expectError(e.send(ctx, r, nil), http.StatusNotFound, oci.CodeNameUnknown, oci.CodeBlobUnknown)
			})
		})

		Describe("malformed references", func() {
			var tagEntries, digestEntries, blobEntries []TableEntry
			for _, b := range fixtures.BadTags() {
				tagEntries = append(tagEntries, Entry("a tag that is "+b.Name+" answers 404", b.Value))
			}
			for _, b := range fixtures.BadDigests() {
				digestEntries = append(digestEntries, Entry("a manifest digest that is "+b.Name+" answers 400 with an OCI error", b.Value))
				blobEntries = append(blobEntries, Entry("a blob digest that is "+b.Name+" answers 400 DIGEST_INVALID", b.Value))
			}
			DescribeTable("GET manifest", Label(string(oci.RouteManifest)),
				func(ctx SpecContext, tag string) {
					r := e.req(oci.RouteManifest, http.MethodGet)
					r.Reference = tag
					resp := e.send(ctx, r, nil, "Accept", manifestAccept)
					Expect(resp.Status).To(Equal(http.StatusNotFound), "%s", resp)
				}, tagEntries)
			DescribeTable("GET manifest", Label(string(oci.RouteManifest)),
				func(ctx SpecContext, d string) {
					r := e.req(oci.RouteManifest, http.MethodGet)
					r.Reference = d
					resp := e.send(ctx, r, nil, "Accept", manifestAccept)
					Expect(resp.Status).To(Equal(http.StatusBadRequest), "%s", resp)
					Expect(ociError(resp)).NotTo(BeNil(), "want an OCI JSON error body, got %q", string(resp.Body))
				}, digestEntries)
			DescribeTable("GET blob", Label(string(oci.RouteBlob)),
				func(ctx SpecContext, d string) {
					r := e.req(oci.RouteBlob, http.MethodGet)
					r.Digest = digest.Digest(d)
					expectError(e.send(ctx, r, nil), http.StatusBadRequest, oci.CodeDigestInvalid)
				}, blobEntries)
		})
	})
}
