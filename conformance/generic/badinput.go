package generic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/spec/generic"
)

// badInputSpecs sends invalid input in every path segment and bodies that
// end early: always 400 (or 4xx where only the connection tells), and
// nothing is stored. Each case has its own package, so no case sees what
// another stored.
func (e *env) badInputSpecs() {
	Describe("bad input", Label(generic.AreaGeneric, string(generic.RouteUpload)), func() {
		long := strings.Repeat("a", 300)
		type badCase struct {
			// name, version and filename are raw, percent-encoded path
			// segments; TOKEN in them is replaced by the case's unique
			// package name, so a stored package can be found with q=.
			name, version, filename string
			// find is the q= that finds what a wrongly accepted upload
			// stored, and stored the name it would have; "" uses the token.
			find, stored string
		}
		// Every case answers 400 (the message names the field) on regkit
		// and Gitea alike; the cases labelled strict are regkit's stricter
		// grammar: Gitea stores them (201).
		DescribeTable("an upload answers 400 and stores nothing",
			func(ctx SpecContext, bc badCase) {
				token := e.pkg(fmt.Sprintf("bad%d", e.nextSeed()))
				fill := func(seg, def string) string {
					if seg == "" {
						return def
					}
					return strings.ReplaceAll(seg, "TOKEN", token)
				}
				name, version, filename := fill(bc.name, token), fill(bc.version, "1.0.0"), fill(bc.filename, "file.bin")
				find, stored := bc.find, bc.stored
				if find == "" {
					find = token
				}
				DeferCleanup(func(ctx SpecContext) { e.deleteFound(ctx, find, stored) })
				path := fmt.Sprintf("%s%s/generic/%s/%s/%s", generic.PackagesPrefix, e.owner, name, version, filename)
				resp := e.sendURL(ctx, http.MethodPut, e.base+path, []byte("bad input"))
				// What was stored is checked first, so a registry that
				// stores bad input fails on that, whatever it answered.
				Expect(e.found(ctx, find, stored)).To(BeEmpty(), "PUT %s (answered %s) stored a package version", path, resp)
				Expect(resp.Status).To(Equal(http.StatusBadRequest), "PUT %s: %s", path, resp)
			},
			Entry(`name ".."`, badCase{name: "%2e%2e", find: "..", stored: ".."}),
			Entry("name with an encoded slash", badCase{name: "TOKEN%2F..%2Fb"}),
			Entry("name with a space", badCase{name: "TOKEN%20b"}),
			Entry("name with NUL", badCase{name: "TOKEN%00b"}),
			Entry("name with bad UTF-8", badCase{name: "TOKEN%FFb"}),
			Entry("version with a leading space", badCase{version: "%201.0"}),
			Entry(`filename ".."`, badCase{filename: "%2e%2e"}),
			Entry("filename with an encoded slash", badCase{filename: "x%2F..%2F..%2Fetc%2Fpasswd"}),
			Entry("filename with an encoded backslash", badCase{filename: "x%5Cy"}),
			Entry("filename with a leading space", badCase{filename: "%20file"}),
			Entry("filename with NUL", badCase{filename: "f%00.bin"}),
			Entry("filename with bad UTF-8", badCase{filename: "f%FF.bin"}),
			Entry("name starting with '.' (Gitea stores it)", Label(LabelStrict), badCase{name: ".TOKEN"}),
			Entry("over-long name (Gitea stores it)", Label(LabelStrict), badCase{name: "TOKEN" + long}),
			Entry(`version ".." (Gitea stores it)`, Label(LabelStrict), badCase{version: "%2e%2e"}),
			Entry("version with an encoded slash (Gitea stores it)", Label(LabelStrict), badCase{version: "1%2F2"}),
			Entry("version with NUL (Gitea stores it)", Label(LabelStrict), badCase{version: "1%00"}),
			Entry("version with bad UTF-8 (Gitea stores it)", Label(LabelStrict), badCase{version: "1%C3%28"}),
			Entry("over-long version (Gitea stores it)", Label(LabelStrict), badCase{version: long}),
			Entry("over-long filename (Gitea stores it)", Label(LabelStrict), badCase{filename: long}),
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
		It("a huge Content-Length answers 4xx", func() {
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

// found lists the "name/version" entries of the owner's generic packages
// that q finds, only those named exactly stored when stored is set.
func (e *env) found(ctx context.Context, q, stored string) []string {
	GinkgoHelper()
	r := generic.Request{Route: generic.RouteList, Method: http.MethodGet, Owner: e.owner, PackageType: generic.TypeGeneric, Q: q}
	var out []string
	for _, p := range e.listAll(ctx, r) {
		if stored == "" || strings.EqualFold(p.Name, stored) {
			out = append(out, p.Name+"/"+p.Version)
		}
	}
	return out
}

// deleteFound deletes what found finds (cleanup after a registry stored
// bad input), through the management API.
func (e *env) deleteFound(ctx context.Context, q, stored string) {
	r := generic.Request{Route: generic.RouteList, Method: http.MethodGet, Owner: e.owner, PackageType: generic.TypeGeneric, Q: q}
	resp, err := e.try(ctx, r.Method, r.URL(e.base), nil)
	if err != nil || resp.Status != http.StatusOK {
		return
	}
	var ps []pkgJSON
	if json.Unmarshal(resp.Body, &ps) != nil {
		return
	}
	for _, p := range ps {
		if stored != "" && !strings.EqualFold(p.Name, stored) {
			continue
		}
		owner, name, version := escSegment(e.owner), escSegment(p.Name), escSegment(p.Version)
		_, _ = e.try(ctx, http.MethodDelete, e.base+"/api/v1/packages/"+owner+"/generic/"+name+"/"+version, nil)
		_, _ = e.try(ctx, http.MethodDelete, e.base+generic.PackagesPrefix+owner+"/generic/"+name+"/"+version, nil)
	}
}

// escSegment escapes one path segment, dots too when it is "." or "..",
// which clients and servers would otherwise resolve away.
func escSegment(s string) string {
	if strings.Trim(s, ".") == "" {
		return strings.Repeat("%2e", len(s))
	}
	return url.PathEscape(s)
}

// listAll returns the packages of a listing; a 404 (an owner regkit's open
// mode has never stored anything for) is an empty listing.
func (e *env) listAll(ctx context.Context, r generic.Request) []pkgJSON {
	GinkgoHelper()
	resp := e.send(ctx, r, nil)
	if resp.Status == http.StatusNotFound {
		return nil
	}
	Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
	var ps []pkgJSON
	decode(resp, &ps)
	return ps
}
