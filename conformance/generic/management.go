package generic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// versionsOf decodes a listing and returns its "name/version" entries.
func versionsOf(resp *conformance.Response) []string {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
	var ps []pkgJSON
	decode(resp, &ps)
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name+"/"+p.Version)
	}
	return out
}

// listSpecs covers pkg-list and pkg-versions: order, filters, pagination.
func (e *env) listSpecs() {
	Describe("listing", Ordered, ContinueOnFailure, Label(generic.AreaManagement), func() {
		alpha, beta := e.pkg("List-Alpha"), e.pkg("list-beta")
		// Creation order; listings are newest first.
		uploads := []struct{ name, version string }{{alpha, "1.0.0"}, {beta, "1.0.0"}, {alpha, "1.1.0"}, {alpha, "1.2.0"}}
		list := func(ctx SpecContext, r generic.Request) *conformance.Response {
			r.Route, r.Method, r.Owner = generic.RouteList, http.MethodGet, e.owner
			return e.send(ctx, r, nil)
		}
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) {
				for _, u := range uploads {
					e.deleteVersion(ctx, u.name, u.version)
				}
			})
			for _, u := range uploads {
				e.mustUpload(ctx, u.name, u.version, "f.txt", []byte(u.name+u.version))
				time.Sleep(1100 * time.Millisecond) // created_at has second resolution
			}
		})
		It("the owner's packages answer 200, one entry per version, newest first", Label(string(generic.RouteList)), func(ctx SpecContext) {
			got := versionsOf(list(ctx, generic.Request{Q: e.prefix + "-list"}))
			Expect(got).To(Equal([]string{alpha + "/1.2.0", alpha + "/1.1.0", beta + "/1.0.0", alpha + "/1.0.0"}))
		})
		It("q= filters by a case-insensitive substring of the name", Label(string(generic.RouteList)), func(ctx SpecContext) {
			got := versionsOf(list(ctx, generic.Request{Q: strings.ToUpper(e.prefix + "-list-a")}))
			Expect(got).To(Equal([]string{alpha + "/1.2.0", alpha + "/1.1.0", alpha + "/1.0.0"}))
		})
		It("type=generic keeps them", Label(string(generic.RouteList)), func(ctx SpecContext) {
			Expect(versionsOf(list(ctx, generic.Request{Q: e.prefix + "-list-beta", PackageType: "generic"}))).To(Equal([]string{beta + "/1.0.0"}))
		})
		It("an unknown type answers an empty list", Label(string(generic.RouteList)), func(ctx SpecContext) {
			Expect(versionsOf(list(ctx, generic.Request{Q: e.prefix, PackageType: "nosuchtype"}))).To(BeEmpty())
		})
		It("limit and page paginate with X-Total-Count and Link", Label(string(generic.RouteList)), func(ctx SpecContext) {
			resp := list(ctx, generic.Request{Q: e.prefix + "-list", Limit: 3, Page: 1})
			Expect(versionsOf(resp)).To(HaveLen(3))
			Expect(resp.Header.Get(generic.TotalCount)).To(Equal("4"))
			links := generic.ParseLinks(resp.Header.Get(generic.Link))
			Expect(links).To(HaveKey("next"))
			next, err := resp.Resolve(links["next"])
			Expect(err).NotTo(HaveOccurred())
			page2 := e.sendURL(ctx, http.MethodGet, next.String(), nil)
			Expect(versionsOf(page2)).To(Equal([]string{alpha + "/1.0.0"}))
			Expect(generic.ParseLinks(page2.Header.Get(generic.Link))).NotTo(HaveKey("next"))
		})
		It("an unknown owner answers 404 with a JSON error; where owners are implicit (uploads without credentials), 200 []", Label(string(generic.RouteList)), func(ctx SpecContext) {
			r := generic.Request{Route: generic.RouteList, Method: http.MethodGet, Owner: e.prefix + "-no-such-owner"}
			resp := e.send(ctx, r, nil)
			if e.anonymous() {
				Expect(versionsOf(resp)).To(BeEmpty())
				Expect(string(resp.Body)).To(Equal("[]"))
				Expect(resp.Header.Get(generic.TotalCount)).To(Equal("0"))
				return
			}
			expectJSONError(resp, http.StatusNotFound)
		})
		It("a package's versions answer 200, newest first, paginated", Label(string(generic.RouteVersions)), func(ctx SpecContext) {
			r := e.mgmt(generic.RouteVersions, http.MethodGet, generic.TypeGeneric, alpha, "")
			Expect(versionsOf(e.send(ctx, r, nil))).To(Equal([]string{alpha + "/1.2.0", alpha + "/1.1.0", alpha + "/1.0.0"}))
			r.Limit, r.Page = 2, 2
			resp := e.send(ctx, r, nil)
			Expect(versionsOf(resp)).To(Equal([]string{alpha + "/1.0.0"}))
			Expect(resp.Header.Get(generic.TotalCount)).To(Equal("3"))
			Expect(generic.ParseLinks(resp.Header.Get(generic.Link))).To(HaveKey("prev"))
		})
		It("names are case-insensitive: the versions of LIST-ALPHA are those of List-Alpha", Label(string(generic.RouteVersions)), func(ctx SpecContext) {
			r := e.mgmt(generic.RouteVersions, http.MethodGet, generic.TypeGeneric, strings.ToUpper(alpha), "")
			Expect(versionsOf(e.send(ctx, r, nil))).To(HaveLen(3))
		})
		It("an unknown package answers 404 with a JSON error", Label(string(generic.RouteVersions)), func(ctx SpecContext) {
			expectJSONError(e.send(ctx, e.mgmt(generic.RouteVersions, http.MethodGet, generic.TypeGeneric, e.pkg("nothing"), ""), nil), http.StatusNotFound)
		})
	})
}

// versionSpecs covers pkg-version, pkg-files and pkg-delete.
func (e *env) versionSpecs() {
	Describe("a version", Ordered, ContinueOnFailure, Label(generic.AreaManagement), func() {
		name := e.pkg("version")
		a, b := e.data(1000), e.data(2000)
		var p pkgJSON
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, "3.1.4") })
			e.mustUpload(ctx, name, "3.1.4", "a.bin", a)
			e.mustUpload(ctx, name, "3.1.4", "b.bin", b)
			resp := e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "3.1.4"), nil)
			Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
			decode(resp, &p)
		})
		It("GET answers the package object", Label(string(generic.RouteVersion)), func() {
			Expect(p.ID).NotTo(BeZero())
			Expect(strings.ToLower(p.Owner.Login)).To(Equal(strings.ToLower(e.owner)))
			Expect(p.Type).To(Equal("generic"))
			Expect(p.Name).To(Equal(name))
			Expect(p.Version).To(Equal("3.1.4"))
			Expect(p.HTMLURL).NotTo(BeEmpty())
			Expect(p.Repository).To(BeNil())
			_, err := time.Parse(time.RFC3339, p.CreatedAt)
			Expect(err).NotTo(HaveOccurred(), "created_at %q", p.CreatedAt)
		})
		It("GET has the files with md5, sha1, sha256 and sha512", Label(string(generic.RouteVersion), LabelExtension), func() {
			Expect(p.Files).To(HaveLen(2))
			for i, data := range [][]byte{a, b} {
				f := p.Files[i]
				Expect(f.Size).To(Equal(int64(len(data))))
				Expect(sums{f.MD5, f.SHA1, f.SHA256, f.SHA512}).To(Equal(sumsOf(data)), "sums of %s", f.Name)
			}
		})
		It("GET has the download count", Label(string(generic.RouteVersion), LabelExtension), func() {
			Expect(p.DownloadCount).NotTo(BeNil())
		})
		It("files answer the file objects", Label(string(generic.RouteFiles)), func(ctx SpecContext) {
			var files []fileJSON
			decode(e.send(ctx, e.mgmt(generic.RouteFiles, http.MethodGet, generic.TypeGeneric, name, "3.1.4"), nil), &files)
			Expect(files).To(HaveLen(2))
			names := []string{files[0].Name, files[1].Name}
			Expect(names).To(ConsistOf("a.bin", "b.bin"))
			for _, f := range files {
				Expect(f.ID).NotTo(BeZero())
				Expect(f.SHA256).To(HaveLen(64))
				Expect(f.MD5).To(HaveLen(32))
				Expect(f.SHA1).To(HaveLen(40))
				Expect(f.SHA512).To(HaveLen(128))
			}
		})
		It("an unknown version answers 404 with a JSON error", Label(string(generic.RouteVersion)), func(ctx SpecContext) {
			expectJSONError(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "0.0.0"), nil), http.StatusNotFound)
		})
		It("an unknown type answers 404 with a JSON error", Label(string(generic.RouteVersion)), func(ctx SpecContext) {
			expectJSONError(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, "nosuchtype", name, "3.1.4"), nil), http.StatusNotFound)
		})
		It("DELETE answers 204; then GET and a second DELETE answer 404", Label(string(generic.RouteDelete)), func(ctx SpecContext) {
			r := e.mgmt(generic.RouteDelete, http.MethodDelete, generic.TypeGeneric, name, "3.1.4")
			Expect(e.send(ctx, r, nil).Status).To(Equal(http.StatusNoContent))
			expectJSONError(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "3.1.4"), nil), http.StatusNotFound)
			expectJSONError(e.send(ctx, r, nil), http.StatusNotFound)
		})
	})
}

// latestSpecs covers pkg-latest: SemVer order, else newest.
func (e *env) latestSpecs() {
	Describe("latest", Label(generic.AreaManagement, string(generic.RouteLatest)), func() {
		type latestCase struct {
			versions []string // in upload order
			want     string
			rule     string
		}
		DescribeTable("answers the latest version",
			func(ctx SpecContext, lc latestCase) {
				name := e.pkg(fmt.Sprintf("latest-%d", e.nextSeed()))
				DeferCleanup(func(ctx SpecContext) {
					for _, v := range lc.versions {
						e.deleteVersion(ctx, name, v)
					}
				})
				for _, v := range lc.versions {
					e.mustUpload(ctx, name, v, "f", []byte(v))
					if lc.rule == generic.LatestNewest {
						time.Sleep(1100 * time.Millisecond)
					}
				}
				var p pkgJSON
				resp := e.send(ctx, e.mgmt(generic.RouteLatest, http.MethodGet, generic.TypeGeneric, name, ""), nil)
				Expect(resp.Status).To(Equal(http.StatusOK), "%s", resp)
				decode(resp, &p)
				Expect(p.Version).To(Equal(lc.want))
				Expect(p.LatestRule).To(Equal(lc.rule), "latest_rule")
			},
			Entry("SemVer: the highest release, not the newest upload", Label(LabelExtension),
				latestCase{[]string{"1.10.0", "2.0.0-rc.1", "1.2.0"}, "1.10.0", generic.LatestSemVer}),
			Entry("SemVer with a leading v", Label(LabelExtension),
				latestCase{[]string{"v0.9.0", "v0.10.0"}, "v0.10.0", generic.LatestSemVer}),
			Entry("SemVer pre-releases only: the highest pre-release", Label(LabelExtension),
				latestCase{[]string{"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-alpha"}, "1.0.0-beta.11", generic.LatestSemVer}),
			Entry("not all SemVer: the newest version", Label(LabelExtension),
				latestCase{[]string{"nightly-2", "build-10", "nightly-1"}, "nightly-1", generic.LatestNewest}),
		)
		It("an unknown package answers 404", func(ctx SpecContext) {
			expectJSONError(e.send(ctx, e.mgmt(generic.RouteLatest, http.MethodGet, generic.TypeGeneric, e.pkg("no-latest"), ""), nil), http.StatusNotFound)
		})
	})
}

// linkSpecs covers pkg-link and pkg-unlink. The repository is created
// first where the registry has repositories (Gitea: POST
// /api/v1/user/repos or /api/v1/orgs/{owner}/repos) and deleted at the end;
// regkit links any name of the owner.
func (e *env) linkSpecs() {
	Describe("linking", Ordered, ContinueOnFailure, Label(generic.AreaManagement), func() {
		name := e.pkg("link")
		repo := e.prefix + "-repo"
		get := func(ctx SpecContext) pkgJSON {
			var p pkgJSON
			decode(e.send(ctx, e.mgmt(generic.RouteVersion, http.MethodGet, generic.TypeGeneric, name, "1.0.0"), nil), &p)
			return p
		}
		link := func(ctx SpecContext) *conformance.Response {
			r := e.mgmt(generic.RouteLink, http.MethodPost, generic.TypeGeneric, name, "")
			r.Repo = repo
			return e.send(ctx, r, nil)
		}
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) { e.deleteVersion(ctx, name, "1.0.0") })
			e.mustUpload(ctx, name, "1.0.0", "f", []byte("link"))
			if e.createRepo(ctx, repo) {
				DeferCleanup(func(ctx SpecContext) {
					_, _ = e.try(ctx, http.MethodDelete, e.base+"/api/v1/repos/"+url.PathEscape(e.owner)+"/"+url.PathEscape(repo), nil)
				})
			}
		})
		It("link answers 201 and the package shows the repository", Label(string(generic.RouteLink), string(generic.RouteVersion)), func(ctx SpecContext) {
			resp := link(ctx)
			Expect(resp.Status).To(Equal(http.StatusCreated), "%s", resp)
			p := get(ctx)
			Expect(p.Repository).NotTo(BeNil(), "repository after link")
			Expect(p.Repository.Name).To(Equal(repo))
			Expect(p.Repository.ID).To(BeNumerically(">", 0), "repository id")
		})
		It("unlink answers 204 and the repository is null", Label(string(generic.RouteUnlink), string(generic.RouteVersion)), func(ctx SpecContext) {
			_ = link(ctx) // linked or not, unlink leaves it unlinked
			resp := e.send(ctx, e.mgmt(generic.RouteUnlink, http.MethodPost, generic.TypeGeneric, name, ""), nil)
			Expect(resp.Status).To(Equal(http.StatusNoContent), "%s", resp)
			Expect(get(ctx).Repository).To(BeNil())
		})
		It("linking an unknown package answers 404", Label(string(generic.RouteLink)), func(ctx SpecContext) {
			r := e.mgmt(generic.RouteLink, http.MethodPost, generic.TypeGeneric, e.pkg("no-link"), "")
			r.Repo = repo
			expectJSONError(e.send(ctx, r, nil), http.StatusNotFound)
		})
	})
}

// createRepo creates repository repo of the owner where the registry has
// Gitea's repository API, and reports whether it did.
func (e *env) createRepo(ctx context.Context, repo string) bool {
	body, _ := json.Marshal(map[string]any{"name": repo, "private": false, "auto_init": false})
	for _, path := range []string{"/api/v1/orgs/" + url.PathEscape(e.owner) + "/repos", "/api/v1/user/repos"} {
		if path == "/api/v1/user/repos" && !strings.EqualFold(e.cfg.Username, e.owner) {
			continue
		}
		resp, err := e.try(ctx, http.MethodPost, e.base+path, body, "Content-Type", "application/json")
		if err == nil && resp.Status == http.StatusCreated {
			return true
		}
	}
	return false
}

// containerSpecs checks that OCI repositories of the owner are listed as
// packages of type container, one entry per tag.
func (e *env) containerSpecs() {
	Describe("container packages", Ordered, ContinueOnFailure, Label(generic.AreaManagement, string(generic.RouteList), string(generic.RouteVersions)), func() {
		image := e.prefix + "-image"
		repo := strings.ToLower(e.owner) + "/" + image
		var reason string
		BeforeAll(func(ctx SpecContext) {
			if e.checkAuth(ctx) != nil {
				return
			}
			DeferCleanup(func(ctx SpecContext) { e.deleteImage(ctx, repo, image, "v1", "v2") })
			reason = e.pushImage(ctx, repo, "v1", "v2")
		})
		BeforeEach(func() {
			if reason != "" {
				Skip(conformance.UnsupportedPrefix + " pushing an image to list it: " + reason)
			}
		})
		It("type=container lists one entry per tag", func(ctx SpecContext) {
			r := generic.Request{Route: generic.RouteList, Method: http.MethodGet, Owner: e.owner, PackageType: generic.TypeContainer, Q: image}
			Expect(versionsOf(e.send(ctx, r, nil))).To(ConsistOf(image+"/v1", image+"/v2"))
		})
		It("the container package's versions are its tags", func(ctx SpecContext) {
			r := e.mgmt(generic.RouteVersions, http.MethodGet, generic.TypeContainer, image, "")
			Expect(versionsOf(e.send(ctx, r, nil))).To(ConsistOf(image+"/v1", image+"/v2"))
		})
	})
}

// pushImage pushes a one-layer image to repo under tags; it returns why
// it could not ("" on success).
func (e *env) pushImage(ctx context.Context, repo string, tags ...string) string {
	layer := e.data(512)
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{layer, config} {
		d := digest.FromBytes(b)
		r := oci.Request{Route: oci.RouteUploadMonolithic, Method: http.MethodPost, Name: repo, Digest: d}
		resp, err := e.client.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Body: b,
			Header: http.Header{"Content-Type": {"application/octet-stream"}},
			Scopes: []string{"repository:" + repo + ":pull,push"}})
		if err != nil {
			return err.Error()
		}
		if resp.Status != http.StatusCreated && resp.Status != http.StatusAccepted {
			return fmt.Sprintf("blob upload answered %d", resp.Status)
		}
		if resp.Status == http.StatusAccepted {
			return "the registry does not take monolithic POST uploads"
		}
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": oci.MediaTypeImageManifest,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.FromBytes(layer), "size": len(layer)}},
	})
	for _, tag := range tags {
		r := oci.Request{Route: oci.RouteManifestPut, Method: http.MethodPut, Name: repo, Reference: tag}
		resp, err := e.client.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Body: m,
			Header: http.Header{"Content-Type": {oci.MediaTypeImageManifest}}, Scopes: []string{"repository:" + repo + ":pull,push"}})
		if err != nil {
			return err.Error()
		}
		if resp.Status != http.StatusCreated {
			return fmt.Sprintf("manifest PUT answered %d", resp.Status)
		}
	}
	return ""
}

// deleteImage removes what pushImage pushed: each tag's manifest by
// digest through /v2, then each tag's container package version through
// the management API (what a registry without OCI deletes offers).
func (e *env) deleteImage(ctx context.Context, repo, image string, tags ...string) {
	scopes := []string{"repository:" + repo + ":pull,push,delete"}
	for _, tag := range tags {
		h := oci.Request{Route: oci.RouteManifest, Method: http.MethodHead, Name: repo, Reference: tag}
		resp, err := e.client.Do(ctx, conformance.Request{Method: h.Method, URL: h.URL(e.base), Scopes: scopes,
			Header: http.Header{"Accept": {oci.MediaTypeImageManifest}}})
		if err == nil && resp.Status == http.StatusOK {
			if d, err := digest.Parse(resp.Header.Get(oci.DockerContentDigest)); err == nil {
				r := oci.Request{Route: oci.RouteManifestDelete, Method: http.MethodDelete, Name: repo, Digest: d}
				_, _ = e.client.Do(ctx, conformance.Request{Method: r.Method, URL: r.URL(e.base), Scopes: scopes})
			}
		}
		d := e.mgmt(generic.RouteDelete, http.MethodDelete, generic.TypeContainer, image, tag)
		_, _ = e.try(ctx, d.Method, d.URL(e.base), nil)
	}
}
