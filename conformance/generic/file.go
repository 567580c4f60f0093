package generic

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/generic"
)

// labels returns the labels of a spec: route IDs, the area, and
// "extension" when ext is set.
func labels(area string, ext bool, routes ...generic.RouteID) Labels {
	l := Labels{area}
	for _, r := range routes {
		l = append(l, string(r))
	}
	if ext {
		l = append(l, LabelExtension)
	}
	return l
}

// fileSpecs covers gen-upload: body forms, Location, duplicates, SemVer
// packages.
func (e *env) fileSpecs() {
	Describe("uploading a file", func() {
		type bodyCase struct {
			header []string
			// body returns the request body, its Content-Type ("" none)
			// and the file it carries.
			body func(data []byte) ([]byte, string, []byte)
		}
		raw := func(data []byte) ([]byte, string, []byte) { return data, "", data }
		DescribeTable("answers 201 and stores the bytes",
			func(ctx SpecContext, bc bodyCase) {
				name := e.pkg("bodies")
				data := e.data(3000)
				body, ct, file := bc.body(data)
				hdr := bc.header
				if ct != "" {
					hdr = append(hdr, "Content-Type", ct)
				}
				v := fmt.Sprint(e.nextSeed())
				DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, v) })
				resp := e.upload(ctx, name, v, "file.bin", body, hdr...)
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				got := e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, v, "file.bin"), nil)
				Expect(got.Status).To(Equal(http.StatusOK), "%s", got)
				Expect(got.Body).To(Equal(file), "downloaded bytes differ from the uploaded file")
			},
			Entry("a raw body (curl --upload-file)", labels(generic.AreaGeneric, false, generic.RouteUpload, generic.RouteDownload),
				bodyCase{body: raw}),
			Entry("a raw body with Content-Type application/octet-stream", labels(generic.AreaGeneric, false, generic.RouteUpload, generic.RouteDownload),
				bodyCase{body: raw, header: []string{"Content-Type", "application/octet-stream"}}),
			Entry("a raw body with curl's default application/x-www-form-urlencoded (curl --data-binary)", labels(generic.AreaGeneric, true, generic.RouteUpload, generic.RouteDownload),
				bodyCase{body: raw, header: []string{"Content-Type", "application/x-www-form-urlencoded"}}),
			Entry("a multipart/form-data body with one file part", labels(generic.AreaGeneric, false, generic.RouteUpload, generic.RouteDownload),
				bodyCase{body: func(data []byte) ([]byte, string, []byte) {
					var b bytes.Buffer
					mw := multipart.NewWriter(&b)
					_ = mw.WriteField("note", "a form field before the file")
					fw, _ := mw.CreateFormFile("file", "file.bin")
					_, _ = fw.Write(data)
					_ = mw.Close()
					return b.Bytes(), mw.FormDataContentType(), data
				}}),
			Entry("an empty file", labels(generic.AreaGeneric, false, generic.RouteUpload, generic.RouteDownload),
				bodyCase{body: func([]byte) ([]byte, string, []byte) { return []byte{}, "", []byte{} }}),
		)

		Describe("into an existing version", Ordered, ContinueOnFailure, Label(generic.AreaGeneric, string(generic.RouteUpload)), func() {
			name := e.pkg("dup")
			first := []byte("the first upload")
			var resp *conformance.Response
			BeforeAll(func(ctx SpecContext) {
				if e.checkAuth(ctx) != nil {
					return
				}
				DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, "1.0.0") })
				resp = e.upload(ctx, name, "1.0.0", "file.txt", first)
			})
			It("the first upload answers 201 with a Location", Label(LabelExtension), func() {
				Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
				loc, err := resp.Location()
				Expect(err).NotTo(HaveOccurred())
				Expect(loc.Path).To(Equal(e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "file.txt").Path()))
			})
			It("a second upload of the same filename answers 409 and overwrites nothing", func(ctx SpecContext) {
				r := e.upload(ctx, name, "1.0.0", "file.txt", []byte("another body"))
				Expect(r.Status).To(Equal(http.StatusConflict), "%s", r)
				got := e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "file.txt"), nil)
				Expect(got.Body).To(Equal(first))
			})
			It("filenames are case-insensitive: FILE.TXT is a duplicate too", func(ctx SpecContext) {
				r := e.upload(ctx, name, "1.0.0", "FILE.TXT", []byte("x"))
				Expect(r.Status).To(Equal(http.StatusConflict), "%s", r)
			})
			It("another filename in the same version answers 201", func(ctx SpecContext) {
				r := e.upload(ctx, name, "1.0.0", "other.txt", []byte("other"))
				Expect(r.Status).To(Equal(http.StatusCreated), "%s", r)
			})
		})

		Describe("a SemVer package", Ordered, ContinueOnFailure, Label(generic.AreaGeneric, string(generic.RouteUpload)), func() {
			name := e.pkg("semver")
			BeforeAll(func(ctx SpecContext) {
				if e.checkAuth(ctx) != nil {
					return
				}
				DeferCleanup(func(ctx SpecContext) {
					for _, v := range []string{"1.0.0", "v1.1.0", "nightly"} {
						e.deleteVersion(ctx, name, v)
					}
				})
				e.mustUpload(ctx, name, "1.0.0", "f", []byte("1"))
			})
			It("is marked semver-compatible by the management API", Label(string(generic.RouteVersion), LabelExtension), func(ctx SpecContext) {
				var p pkgJSON
				decode(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "1.0.0"), nil), &p)
				Expect(p.SemVer).NotTo(BeNil(), "semver_compatible is missing")
				Expect(*p.SemVer).To(BeTrue())
			})
			It("refuses a non-SemVer version with 409 and a message saying so", Label(LabelExtension), func(ctx SpecContext) {
				r := e.upload(ctx, name, "nightly", "f", []byte("n"))
				Expect(r.Status).To(Equal(http.StatusConflict), "%s", r)
				Expect(strings.ToLower(string(r.Body))).To(ContainSubstring("semver"))
			})
			It("accepts another SemVer version, with a leading v", func(ctx SpecContext) {
				Expect(e.upload(ctx, name, "v1.1.0", "f", []byte("2")).Status).To(Equal(http.StatusCreated))
			})
		})
	})
}

// downloadSpecs covers gen-download: headers, HEAD, ranges, conditional
// requests and download counts.
func (e *env) downloadSpecs() {
	Describe("downloading a file", Ordered, ContinueOnFailure, func() {
		name := e.pkg("download")
		data := e.data(64*1024 + 17)
		size := len(data)
		s := sumsOf(data)
		get := func(ctx SpecContext, method string, hdr ...string) *conformance.Response {
			return e.send(ctx, e.file(generic.RouteDownload, method, name, "2.0.0", "data file.bin"), nil, hdr...)
		}
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, "2.0.0") })
			e.mustUpload(ctx, name, "2.0.0", "data file.bin", data)
		})

		type headerCase struct {
			method, header string
			check          func(v string)
		}
		DescribeTable("has the download headers",
			func(ctx SpecContext, hc headerCase) {
				resp := get(ctx, hc.method)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				hc.check(resp.Header.Get(hc.header))
			},
			Entry("GET: Content-Type application/octet-stream", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "Content-Type", func(v string) { Expect(v).To(Equal("application/octet-stream")) }}),
			Entry("GET: Content-Length", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "Content-Length", func(v string) { Expect(v).To(Equal(strconv.Itoa(size))) }}),
			Entry("GET: Content-Disposition attachment with the filename", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "Content-Disposition", func(v string) {
					Expect(v).To(HavePrefix("attachment"), "Content-Disposition %q", v)
					Expect(v).To(Or(ContainSubstring(`filename="data file.bin"`), ContainSubstring("filename*=UTF-8''data%20file.bin")), "Content-Disposition %q", v)
				}}),
			Entry("GET: X-Content-Type-Options nosniff", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "X-Content-Type-Options", func(v string) { Expect(v).To(Equal("nosniff")) }}),
			Entry("GET: Accept-Ranges bytes", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "Accept-Ranges", func(v string) { Expect(v).To(Equal("bytes")) }}),
			Entry("GET: Last-Modified", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodGet, "Last-Modified", func(v string) {
					_, err := http.ParseTime(v)
					Expect(err).NotTo(HaveOccurred(), "Last-Modified %q", v)
				}}),
			Entry("GET: ETag is the quoted sha256", labels(generic.AreaGeneric, true, generic.RouteDownload),
				headerCase{http.MethodGet, "ETag", func(v string) { Expect(v).To(Equal(`"` + s.SHA256 + `"`)) }}),
			Entry("GET: a sha256 Digest header", labels(generic.AreaGeneric, true, generic.RouteDownload),
				headerCase{http.MethodGet, "Digest", func(v string) { Expect(v).To(HavePrefix("SHA-256=")) }}),
			Entry("HEAD: Content-Length", labels(generic.AreaGeneric, false, generic.RouteDownload),
				headerCase{http.MethodHead, "Content-Length", func(v string) { Expect(v).To(Equal(strconv.Itoa(size))) }}),
		)
		It("GET returns the file", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			Expect(get(ctx, http.MethodGet).Body).To(Equal(data))
		})
		It("HEAD has no body", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			resp := get(ctx, http.MethodHead)
			Expect(resp.Status).To(Equal(http.StatusOK))
			Expect(resp.Body).To(BeEmpty())
		})

		type rangeCase struct {
			header     string
			start, end int // inclusive; end < 0: unsatisfiable
		}
		DescribeTable("a Range GET", Label(generic.AreaGeneric, string(generic.RouteDownload)),
			func(ctx SpecContext, rc rangeCase) {
				resp := get(ctx, http.MethodGet, "Range", rc.header)
				if rc.end < 0 {
					Expect(resp.Status).To(Equal(http.StatusRequestedRangeNotSatisfiable), "%s", resp)
					Expect(resp.Header.Get("Content-Range")).To(Equal(fmt.Sprintf("bytes */%d", size)))
					return
				}
				Expect(resp.Status).To(Equal(http.StatusPartialContent), "%s", resp)
				Expect(resp.Header.Get("Content-Range")).To(Equal(fmt.Sprintf("bytes %d-%d/%d", rc.start, rc.end, size)))
				Expect(resp.Body).To(Equal(data[rc.start : rc.end+1]))
			},
			Entry("bytes=0-99 answers 206 with the first 100 bytes", rangeCase{"bytes=0-99", 0, 99}),
			Entry("bytes=1000- answers 206 with the rest", rangeCase{"bytes=1000-", 1000, size - 1}),
			Entry("bytes=-10 answers 206 with the last 10 bytes", rangeCase{"bytes=-10", size - 10, size - 1}),
			Entry("a range past the end is clipped", rangeCase{fmt.Sprintf("bytes=%d-%d", size-5, size+100), size - 5, size - 1}),
			Entry("a range starting at the size answers 416 with Content-Range bytes */size", rangeCase{fmt.Sprintf("bytes=%d-", size), 0, -1}),
		)
		It("several ranges answer 206 multipart/byteranges or 200 with the whole file", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			resp := get(ctx, http.MethodGet, "Range", "bytes=0-1,5-6")
			if resp.Status == http.StatusOK {
				Expect(resp.Body).To(Equal(data))
				return
			}
			Expect(resp.Status).To(Equal(http.StatusPartialContent), "%s", resp)
			Expect(resp.Header.Get("Content-Type")).To(HavePrefix("multipart/byteranges"))
		})
		It("If-None-Match with the ETag answers 304", Label(generic.AreaGeneric, string(generic.RouteDownload), LabelExtension), func(ctx SpecContext) {
			resp := get(ctx, http.MethodGet, "If-None-Match", `"`+s.SHA256+`"`)
			Expect(resp.Status).To(Equal(http.StatusNotModified), "%s", resp)
			Expect(resp.Body).To(BeEmpty())
		})
		It("If-None-Match with another ETag answers 200", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			Expect(get(ctx, http.MethodGet, "If-None-Match", `"other"`).Status).To(Equal(http.StatusOK))
		})
		It("If-Range with the ETag honours the Range", Label(generic.AreaGeneric, string(generic.RouteDownload), LabelExtension), func(ctx SpecContext) {
			resp := get(ctx, http.MethodGet, "Range", "bytes=0-9", "If-Range", `"`+s.SHA256+`"`)
			Expect(resp.Status).To(Equal(http.StatusPartialContent), "%s", resp)
			Expect(resp.Body).To(Equal(data[:10]))
		})
		It("If-Range with another ETag answers 200 with the whole file", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			resp := get(ctx, http.MethodGet, "Range", "bytes=0-9", "If-Range", `"other"`)
			Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
			Expect(resp.Body).To(Equal(data))
		})
		It("counts downloads: +1 per GET, HEAD not counted", Label(generic.AreaGeneric, string(generic.RouteDownload), string(generic.RouteVersion), LabelExtension), func(ctx SpecContext) {
			count := func() int64 {
				var p pkgJSON
				decode(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "2.0.0"), nil), &p)
				Expect(p.DownloadCount).NotTo(BeNil(), "download_count is missing")
				return *p.DownloadCount
			}
			before := count()
			for range 3 {
				Expect(get(ctx, http.MethodGet).Status).To(Equal(http.StatusOK))
			}
			Expect(get(ctx, http.MethodHead).Status).To(Equal(http.StatusOK))
			Expect(count()).To(Equal(before + 3))
		})
		It("a missing file answers 404", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			resp := e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "2.0.0", "missing.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusNotFound), "%s", resp)
		})
		It("a missing version answers 404", Label(generic.AreaGeneric, string(generic.RouteDownload)), func(ctx SpecContext) {
			resp := e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "9.9.9", "data file.bin"), nil)
			Expect(resp.Status).To(Equal(http.StatusNotFound), "%s", resp)
		})
	})
}

// deleteSpecs covers gen-file-delete and gen-version-delete. Every spec
// deletes from a package of its own.
func (e *env) deleteSpecs() {
	Describe("deleting", Label(generic.AreaGeneric), func() {
		// setup uploads files a and b into version 1 and c into version 2
		// of a fresh package.
		setup := func(ctx SpecContext) string {
			name := e.pkg(fmt.Sprintf("delete-%d", e.nextSeed()))
			DeferCleanup(func(ctx SpecContext) {
				e.deleteVersion(ctx, name, "1")
				e.deleteVersion(ctx, name, "2")
			})
			e.mustUpload(ctx, name, "1", "a", []byte("a"))
			e.mustUpload(ctx, name, "1", "b", []byte("b"))
			e.mustUpload(ctx, name, "2", "c", []byte("c"))
			return name
		}
		del := func(ctx SpecContext, name, version, filename string) *conformance.Response {
			if filename == "" {
				return e.send(ctx, e.file(generic.RouteVersionDelete, http.MethodDelete, name, version, ""), nil)
			}
			return e.send(ctx, e.file(generic.RouteFileDelete, http.MethodDelete, name, version, filename), nil)
		}
		version := func(ctx SpecContext, name, v string) *conformance.Response {
			return e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, v), nil)
		}
		download := func(ctx SpecContext, name, v, f string) int {
			return e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, v, f), nil).Status
		}
		It("a file answers 204 and the file is gone", Label(string(generic.RouteFileDelete)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "1", "a").Status).To(Equal(http.StatusNoContent))
			Expect(download(ctx, name, "1", "a")).To(Equal(http.StatusNotFound))
		})
		It("the version keeps its other file", Label(string(generic.RouteFileDelete), string(generic.RouteVersion)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "1", "a").Status).To(Equal(http.StatusNoContent))
			Expect(version(ctx, name, "1").Status).To(Equal(http.StatusOK))
			Expect(download(ctx, name, "1", "b")).To(Equal(http.StatusOK))
		})
		It("a file deleted before answers 404", Label(string(generic.RouteFileDelete)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "1", "a").Status).To(Equal(http.StatusNoContent))
			Expect(del(ctx, name, "1", "a").Status).To(Equal(http.StatusNotFound))
		})
		It("the last file of a version deletes the version", Label(string(generic.RouteFileDelete), string(generic.RouteVersion)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "1", "a").Status).To(Equal(http.StatusNoContent))
			Expect(del(ctx, name, "1", "b").Status).To(Equal(http.StatusNoContent))
			expectJSONError(version(ctx, name, "1"), http.StatusNotFound)
		})
		It("a version answers 204 and the version is gone", Label(string(generic.RouteVersionDelete)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "2", "").Status).To(Equal(http.StatusNoContent))
			Expect(download(ctx, name, "2", "c")).To(Equal(http.StatusNotFound))
			Expect(download(ctx, name, "1", "a")).To(Equal(http.StatusOK), "another version's file")
		})
		It("a second delete of the version answers 404", Label(string(generic.RouteVersionDelete)), func(ctx SpecContext) {
			name := setup(ctx)
			Expect(del(ctx, name, "2", "").Status).To(Equal(http.StatusNoContent))
			Expect(del(ctx, name, "2", "").Status).To(Equal(http.StatusNotFound))
		})
	})
}
