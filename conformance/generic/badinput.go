package generic

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/spec/generic"
)

// badInputSpecs sends invalid input in every path segment and bodies that
// end early: always 4xx, and nothing is stored.
func (e *env) badInputSpecs() {
	Describe("bad input", Label(generic.AreaGeneric, string(generic.RouteUpload)), func() {
		long := strings.Repeat("a", 300)
		type badCase struct {
			name, version, filename string // raw, percent-encoded path segments
			status                  int    // exact status, 0: any 4xx
		}
		// The package of each case: its listing must stay empty.
		DescribeTable("an upload answers 4xx and stores nothing",
			func(ctx SpecContext, bc badCase) {
				name := bc.name
				if name == "" {
					name = e.pkg("bad")
				}
				version, filename := bc.version, bc.filename
				if version == "" {
					version = "1.0.0"
				}
				if filename == "" {
					filename = "file.bin"
				}
				path := fmt.Sprintf("%s%s/generic/%s/%s/%s", generic.PackagesPrefix, e.owner, name, version, filename)
				resp := e.sendURL(ctx, http.MethodPut, e.base+path, []byte("bad input"))
				if bc.status != 0 {
					Expect(resp.Status).To(Equal(bc.status), "PUT %s: %s", path, resp)
				} else {
					Expect(resp.Status).To(SatisfyAll(BeNumerically(">=", 400), BeNumerically("<", 500)), "PUT %s: %s", path, resp)
				}
				list := e.send(ctx, generic.Request{Route: generic.RouteList, Method: http.MethodGet, Owner: e.owner, Q: e.pkg("bad")}, nil)
				if list.Status == http.StatusOK {
					Expect(strings.TrimSpace(string(list.Body))).To(Equal("[]"), "something was stored")
				}
			},
			Entry("name \"..\"", badCase{name: "%2e%2e"}),
			Entry("name with an encoded slash", badCase{name: "a%2F..%2Fb"}),
			Entry("name starting with '.'", badCase{name: ".hidden", status: 400}),
			Entry("name with a space", badCase{name: "a%20b", status: 400}),
			Entry("name with NUL", badCase{name: "a%00b"}),
			Entry("name with bad UTF-8", badCase{name: "a%FFb"}),
			Entry("over-long name", badCase{name: long}),
			Entry("version \"..\"", badCase{version: "%2e%2e"}),
			Entry("version with an encoded slash", badCase{version: "1%2F2"}),
			Entry("version with a leading space", badCase{version: "%201.0", status: 400}),
			Entry("version with NUL", badCase{version: "1%00"}),
			Entry("version with bad UTF-8", badCase{version: "1%C3%28"}),
			Entry("over-long version", badCase{version: long}),
			Entry("filename \"..\"", badCase{filename: "%2e%2e"}),
			Entry("filename with an encoded slash", badCase{filename: "x%2F..%2F..%2Fetc%2Fpasswd"}),
			Entry("filename with an encoded backslash", badCase{filename: "x%5Cy"}),
			Entry("filename with a leading space", badCase{filename: "%20file", status: 400}),
			Entry("filename with NUL", badCase{filename: "f%00.bin"}),
			Entry("filename with bad UTF-8", badCase{filename: "f%FF.bin"}),
			Entry("over-long filename", badCase{filename: long}),
		)
		It("a body shorter than its Content-Length (client disconnect) stores nothing", Label(LabelExtension), func(ctx SpecContext) {
			name := e.pkg("truncated")
			path := e.file(generic.RouteUpload, http.MethodPut, name, "1.0.0", "f").Path()
			status, err := e.rawPut(path, "100000", []byte(strings.Repeat("x", 1000)))
			Expect(err).NotTo(HaveOccurred())
			if status != "" {
				Expect(status).To(MatchRegexp(`^HTTP/1\.[01] 4\d\d`), "status line")
			}
			Eventually(func(ctx SpecContext) int {
				return e.send(ctx, e.file(generic.RouteDownload, http.MethodGet, name, "1.0.0", "f"), nil).Status
			}).WithContext(ctx).Should(Equal(http.StatusNotFound), "a truncated upload left a file behind")
		})
		It("a huge Content-Length answers 4xx", Label(LabelExtension), func() {
			path := e.file(generic.RouteUpload, http.MethodPut, e.pkg("huge"), "1.0.0", "f").Path()
			status, err := e.rawPut(path, "99999999999999999999", []byte("abc"))
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(MatchRegexp(`^HTTP/1\.[01] 4\d\d`), "status line")
		})
		It("an unknown package type answers 404", func(ctx SpecContext) {
			resp := e.sendURL(ctx, http.MethodPut, e.base+generic.PackagesPrefix+e.owner+"/nosuchtype/x/1/f", []byte("x"))
			Expect(resp.Status).To(Equal(http.StatusNotFound), "%s", resp)
		})
	})
}
