package generic

import (
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/generic"
)

// uploadSessionSpecs covers regkit's resumable uploads (gen-upload-*).
// Every spec opens sessions of its own, in a version of its own.
func (e *env) uploadSessionSpecs() {
	Describe("a resumable upload", Label(generic.AreaGeneric, LabelExtension), func() {
		name := e.pkg("resumable")
		data := e.data(300*1024 + 3)
		const chunk = 100 * 1024
		rng := func(n int) string { return fmt.Sprintf("0-%d", n-1) }
		// session starts a session for a file of a fresh version and
		// returns its Location and the file's request.
		session := func(ctx SpecContext) (*url.URL, generic.Request) {
			v := fmt.Sprint(e.nextSeed())
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, v) })
			resp := e.send(ctx, e.file(generic.RouteUploadStart, http.MethodPost, name, v, "big.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			loc, err := resp.Location()
			Expect(err).NotTo(HaveOccurred())
			return loc, e.file(generic.RouteDownload, http.MethodGet, name, v, "big.bin")
		}
		at := func(ctx SpecContext, loc *url.URL, method string, body []byte, hdr ...string) *conformance.Response {
			return e.sendURL(ctx, method, loc.String(), body, hdr...)
		}
		// first sends the first chunk with its Content-Range.
		first := func(ctx SpecContext, loc *url.URL) {
			resp := at(ctx, loc, http.MethodPatch, data[:chunk], "Content-Range", rng(chunk))
			Expect(resp.Status).To(Equal(http.StatusAccepted), "first chunk: %s", resp)
		}
		// finish sends the rest and the last chunk, and returns the PUT's
		// response.
		finish := func(ctx SpecContext, loc *url.URL) *conformance.Response {
			first(ctx, loc)
			resp := at(ctx, loc, http.MethodPatch, data[chunk:2*chunk])
			Expect(resp.Status).To(Equal(http.StatusAccepted), "second chunk: %s", resp)
			return at(ctx, loc, http.MethodPut, data[2*chunk:])
		}
		It("POST answers 202 with the session's Location and Range 0-0", Label(string(generic.RouteUploadStart)), func(ctx SpecContext) {
			v := fmt.Sprint(e.nextSeed())
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, v) })
			resp := e.send(ctx, e.file(generic.RouteUploadStart, http.MethodPost, name, v, "big.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			_, err := resp.Location()
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Header.Get("Range")).To(Equal("0-0"))
		})
		It("PATCH of the first chunk answers 202 with its Range", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			loc, _ := session(ctx)
			resp := at(ctx, loc, http.MethodPatch, data[:chunk], "Content-Range", rng(chunk))
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(rng(chunk)))
		})
		It("PATCH at the wrong offset answers 416 with the current Range", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			loc, _ := session(ctx)
			first(ctx, loc)
			resp := at(ctx, loc, http.MethodPatch, data[:10], "Content-Range", "0-9")
			Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(rng(chunk)))
		})
		It("GET answers 204 with the offset", Label(string(generic.RouteUploadStatus)), func(ctx SpecContext) {
			loc, _ := session(ctx)
			first(ctx, loc)
			resp := at(ctx, loc, http.MethodGet, nil)
			Expect(resp.Status).To(Equal(http.StatusNoContent), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(rng(chunk)))
		})
		It("PATCH without Content-Range appends at the offset", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			loc, _ := session(ctx)
			first(ctx, loc)
			resp := at(ctx, loc, http.MethodPatch, data[chunk:2*chunk])
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(rng(2 * chunk)))
		})
		It("PUT with the last chunk answers 201 with the file's Location", Label(string(generic.RouteUploadFinish)), func(ctx SpecContext) {
			loc, file := session(ctx)
			resp := finish(ctx, loc)
			Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
			l, err := resp.Location()
			Expect(err).NotTo(HaveOccurred())
			Expect(l.Path).To(Equal(file.Path()))
		})
		It("the file is intact, with its four sums", Label(string(generic.RouteDownload), string(generic.RouteFiles)), func(ctx SpecContext) {
			loc, file := session(ctx)
			Expect(finish(ctx, loc).Status).To(Equal(http.StatusCreated))
			got := e.send(ctx, file, nil)
			Expect(got.Body).To(Equal(data))
			var files []fileJSON
			decode(e.send(ctx, e.mgmt(generic.RouteFiles, http.MethodGet, generic.TypeGeneric, name, file.Version), nil), &files)
			Expect(files).To(HaveLen(1))
			Expect(sums{files[0].MD5, files[0].SHA1, files[0].SHA256, files[0].SHA512}).To(Equal(sumsOf(data)))
		})
		It("the finished session is gone: 404", Label(string(generic.RouteUploadStatus)), func(ctx SpecContext) {
			loc, _ := session(ctx)
			Expect(finish(ctx, loc).Status).To(Equal(http.StatusCreated))
			Expect(at(ctx, loc, http.MethodGet, nil).Status).To(Equal(http.StatusNotFound))
		})
		It("DELETE cancels a session: 204, then 404", Label(string(generic.RouteUploadCancel)), func(ctx SpecContext) {
			loc, file := session(ctx)
			Expect(at(ctx, loc, http.MethodPatch, []byte("abc")).Status).To(Equal(http.StatusAccepted))
			Expect(at(ctx, loc, http.MethodDelete, nil).Status).To(Equal(http.StatusNoContent))
			Expect(at(ctx, loc, http.MethodGet, nil).Status).To(Equal(http.StatusNotFound))
			Expect(e.send(ctx, file, nil).Status).To(Equal(http.StatusNotFound))
		})
		It("an unknown session answers 404", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			r := e.file(generic.RouteUploadChunk, http.MethodPatch, name, "1.0.0", "big.bin")
			r.UploadID = "nosuchupload"
			Expect(e.send(ctx, r, []byte("x")).Status).To(Equal(http.StatusNotFound))
		})
	})
}
