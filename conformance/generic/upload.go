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
func (e *env) uploadSessionSpecs() {
	Describe("a resumable upload", Ordered, Label(generic.AreaGeneric, LabelExtension), func() {
		name := e.pkg("resumable")
		data := e.data(300*1024 + 3)
		var loc *url.URL
		at := func(ctx SpecContext, method string, body []byte, hdr ...string) *conformance.Response {
			return e.sendURL(ctx, method, loc.String(), body, hdr...)
		}
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, "1.0.0") })
		})
		It("POST answers 202 with the session's Location and Range 0-0", Label(string(generic.RouteUploadStart)), func(ctx SpecContext) {
			resp := e.send(ctx, e.file(generic.RouteUploadStart, http.MethodPost, name, "1.0.0", "big.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			var err error
			loc, err = resp.Location()
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Header.Get("Range")).To(Equal("0-0"))
		})
		It("PATCH of the first chunk answers 202 with its Range", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			Expect(loc).NotTo(BeNil(), "no session")
			resp := at(ctx, http.MethodPatch, data[:100*1024], "Content-Range", fmt.Sprintf("0-%d", 100*1024-1))
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(fmt.Sprintf("0-%d", 100*1024-1)))
		})
		It("PATCH at the wrong offset answers 416 with the current Range", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			resp := at(ctx, http.MethodPatch, data[:10], "Content-Range", "0-9")
			Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(fmt.Sprintf("0-%d", 100*1024-1)))
		})
		It("GET answers 204 with the offset", Label(string(generic.RouteUploadStatus)), func(ctx SpecContext) {
			resp := at(ctx, http.MethodGet, nil)
			Expect(resp.Status).To(Equal(http.StatusNoContent), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(fmt.Sprintf("0-%d", 100*1024-1)))
		})
		It("PATCH without Content-Range appends at the offset", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			resp := at(ctx, http.MethodPatch, data[100*1024:200*1024])
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			Expect(resp.Header.Get("Range")).To(Equal(fmt.Sprintf("0-%d", 200*1024-1)))
		})
		It("PUT with the last chunk answers 201 with the file's Location", Label(string(generic.RouteUploadFinish)), func(ctx SpecContext) {
			resp := at(ctx, http.MethodPut, data[200*1024:])
			Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
			l, err := resp.Location()
			Expect(err).NotTo(HaveOccurred())
			Expect(l.Path).To(Equal(e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "big.bin").Path()))
		})
		It("the file is intact, with its four sums", Label(string(generic.RouteDownload), string(generic.RouteFiles)), func(ctx SpecContext) {
			got := e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "big.bin"), nil)
			Expect(got.Body).To(Equal(data))
			var files []fileJSON
			decode(e.send(ctx, e.mgmt(generic.RouteFiles, http.MethodGet, generic.TypeGeneric, name, "1.0.0"), nil), &files)
			Expect(files).To(HaveLen(1))
			s := sumsOf(data)
			Expect(sums{files[0].MD5, files[0].SHA1, files[0].SHA256, files[0].SHA512}).To(Equal(s))
		})
		It("the finished session is gone: 404", Label(string(generic.RouteUploadStatus)), func(ctx SpecContext) {
			Expect(at(ctx, http.MethodGet, nil).Status).To(Equal(http.StatusNotFound))
		})
		It("DELETE cancels a session: 204, then 404", Label(string(generic.RouteUploadCancel)), func(ctx SpecContext) {
			resp := e.send(ctx, e.file(generic.RouteUploadStart, http.MethodPost, name, "1.0.0", "cancelled.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusAccepted), "%s", resp)
			l, err := resp.Location()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.sendURL(ctx, http.MethodPatch, l.String(), []byte("abc")).Status).To(Equal(http.StatusAccepted))
			Expect(e.sendURL(ctx, http.MethodDelete, l.String(), nil).Status).To(Equal(http.StatusNoContent))
			Expect(e.sendURL(ctx, http.MethodGet, l.String(), nil).Status).To(Equal(http.StatusNotFound))
			Expect(e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "cancelled.bin"), nil).Status).To(Equal(http.StatusNotFound))
		})
		It("an unknown session answers 404", Label(string(generic.RouteUploadChunk)), func(ctx SpecContext) {
			r := e.file(generic.RouteUploadChunk, http.MethodPatch, name, "1.0.0", "big.bin")
			r.UploadID = "nosuchupload"
			Expect(e.send(ctx, r, []byte("x")).Status).To(Equal(http.StatusNotFound))
		})
	})
}
