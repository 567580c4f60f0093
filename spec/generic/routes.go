package generic

import (
	"net/http"
	"slices"

	"github.com/regkit/regkit/spec/internal/routetab"
)

// RouteID identifies one endpoint: "gen-*" for the generic package API,
// "pkg-*" for the management API.
type RouteID string

// The routes of the generic package API.
const (
	// RouteUpload: PUT /api/packages/<owner>/generic/<name>/<version>/<filename>.
	RouteUpload RouteID = "gen-upload"
	// RouteDownload: GET, HEAD /api/packages/<owner>/generic/<name>/<version>/<filename>.
	RouteDownload RouteID = "gen-download"
	// RouteFileDelete: DELETE /api/packages/<owner>/generic/<name>/<version>/<filename>.
	RouteFileDelete RouteID = "gen-file-delete"
	// RouteVersionDelete: DELETE /api/packages/<owner>/generic/<name>/<version>.
	RouteVersionDelete RouteID = "gen-version-delete"
	// RouteUploadStart: POST .../<filename>/uploads (regkit extension:
	// start a resumable upload).
	RouteUploadStart RouteID = "gen-upload-start"
	// RouteUploadChunk: PATCH .../<filename>/uploads/<upload> (extension).
	RouteUploadChunk RouteID = "gen-upload-chunk"
	// RouteUploadFinish: PUT .../<filename>/uploads/<upload> (extension).
	RouteUploadFinish RouteID = "gen-upload-finish"
	// RouteUploadStatus: GET, HEAD .../<filename>/uploads/<upload> (extension).
	RouteUploadStatus RouteID = "gen-upload-status"
	// RouteUploadCancel: DELETE .../<filename>/uploads/<upload> (extension).
	RouteUploadCancel RouteID = "gen-upload-cancel"
)

// The routes of the management API.
const (
	// RouteList: GET /api/v1/packages/<owner>?type=&q=&page=&limit=.
	RouteList RouteID = "pkg-list"
	// RouteVersions: GET /api/v1/packages/<owner>/<type>/<name>?page=&limit=.
	RouteVersions RouteID = "pkg-versions"
	// RouteVersion: GET /api/v1/packages/<owner>/<type>/<name>/<version>.
	RouteVersion RouteID = "pkg-version"
	// RouteDelete: DELETE /api/v1/packages/<owner>/<type>/<name>/<version>.
	RouteDelete RouteID = "pkg-delete"
	// RouteFiles: GET /api/v1/packages/<owner>/<type>/<name>/<version>/files.
	RouteFiles RouteID = "pkg-files"
	// RouteLatest: GET /api/v1/packages/<owner>/<type>/<name>/-/latest.
	RouteLatest RouteID = "pkg-latest"
	// RouteLink: POST /api/v1/packages/<owner>/<type>/<name>/-/link/<repo>.
	RouteLink RouteID = "pkg-link"
	// RouteUnlink: POST /api/v1/packages/<owner>/<type>/<name>/-/unlink.
	RouteUnlink RouteID = "pkg-unlink"
)

// Areas of the API, as the conformance suites label them.
const (
	// AreaGeneric: the generic package API.
	AreaGeneric = "generic"
	// AreaManagement: the /api/v1/packages management API.
	AreaManagement = "management"
)

// Format is the body format of a route's error responses.
type Format int

const (
	// FormatText: a plain-text message (text/plain), as Gitea's package
	// APIs answer.
	FormatText Format = iota
	// FormatJSON: {"message": "...", "url": "..."}, as Gitea's /api/v1
	// answers.
	FormatJSON
)

// Package types the management API knows.
const (
	// TypeGeneric is the generic package registry.
	TypeGeneric = "generic"
	// TypeContainer is the OCI registry: one package per repository, one
	// version per tag.
	TypeContainer = "container"
)

// Route is one row of the route table.
type Route struct {
	// ID is the stable route ID.
	ID RouteID
	// Methods lists the HTTP methods.
	Methods []string
	// Path is the pattern, with <owner>, <type>, <name>, <version>,
	// <filename>, <upload> and <repo> placeholders.
	Path string
	// Query lists the query parameters the route reads.
	Query []string
	// Area is AreaGeneric or AreaManagement.
	Area string
	// Success lists the success statuses.
	Success []int
	// Failure lists the failure statuses.
	Failure []int
	// Extension marks routes Gitea does not have (regkit extensions).
	Extension bool
	// Summary is one human-readable line.
	Summary string
}

// Format returns the error format of r: JSON for the management API, plain
// text for the generic package API.
func (r Route) Format() Format {
	if r.Area == AreaManagement {
		return FormatJSON
	}
	return FormatText
}

const (
	mGet    = http.MethodGet
	mHead   = http.MethodHead
	mPost   = http.MethodPost
	mPut    = http.MethodPut
	mPatch  = http.MethodPatch
	mDelete = http.MethodDelete
)

// Path prefixes of the two APIs.
const (
	// PackagesPrefix starts every generic package API path.
	PackagesPrefix = "/api/packages/"
	// ManagementPrefix starts every management API path.
	ManagementPrefix = "/api/v1/packages/"
)

const (
	genFile    = "/api/packages/<owner>/generic/<name>/<version>/<filename>"
	genVersion = "/api/packages/<owner>/generic/<name>/<version>"
	genUploads = genFile + "/uploads"
	genUpload  = genUploads + "/<upload>"
	pkgName    = "/api/v1/packages/<owner>/<type>/<name>"
)

var routes = []Route{
	{RouteUpload, []string{mPut}, genFile, nil, AreaGeneric,
		[]int{201}, []int{400, 401, 403, 409}, false,
		"Upload a file into a package version (the body is the file)"},
	{RouteDownload, []string{mGet, mHead}, genFile, nil, AreaGeneric,
		[]int{200, 206, 304}, []int{400, 401, 403, 404, 416}, false,
		"Download a file, optionally a byte range"},
	{RouteFileDelete, []string{mDelete}, genFile, nil, AreaGeneric,
		[]int{204}, []int{400, 401, 403, 404}, false,
		"Delete a file; deleting the last file deletes the version"},
	{RouteVersionDelete, []string{mDelete}, genVersion, nil, AreaGeneric,
		[]int{204}, []int{400, 401, 403, 404}, false,
		"Delete a package version with all its files"},
	{RouteUploadStart, []string{mPost}, genUploads, nil, AreaGeneric,
		[]int{202}, []int{400, 401, 403, 409}, true,
		"Start a resumable upload of a file"},
	{RouteUploadChunk, []string{mPatch}, genUpload, nil, AreaGeneric,
		[]int{202}, []int{400, 401, 403, 404, 416}, true,
		"Append a chunk (Content-Range start = current offset) to a resumable upload"},
	{RouteUploadFinish, []string{mPut}, genUpload, nil, AreaGeneric,
		[]int{201}, []int{400, 401, 403, 404, 409, 416}, true,
		"Finish a resumable upload, optionally with a last chunk"},
	{RouteUploadStatus, []string{mGet, mHead}, genUpload, nil, AreaGeneric,
		[]int{204}, []int{400, 401, 403, 404}, true,
		"Get the offset (Range header) of a resumable upload"},
	{RouteUploadCancel, []string{mDelete}, genUpload, nil, AreaGeneric,
		[]int{204}, []int{400, 401, 403, 404}, true,
		"Cancel a resumable upload"},

	{RouteList, []string{mGet}, "/api/v1/packages/<owner>", []string{"type", "q", "page", "limit"}, AreaManagement,
		[]int{200}, []int{400, 401, 403, 404}, false,
		"List the package versions of an owner, newest first"},
	{RouteVersions, []string{mGet}, pkgName, []string{"page", "limit"}, AreaManagement,
		[]int{200}, []int{400, 401, 403, 404}, false,
		"List the versions of a package, newest first"},
	{RouteVersion, []string{mGet}, pkgName + "/<version>", nil, AreaManagement,
		[]int{200}, []int{400, 401, 403, 404}, false,
		"Get a package version with its files and download count"},
	{RouteDelete, []string{mDelete}, pkgName + "/<version>", nil, AreaManagement,
		[]int{204}, []int{400, 401, 403, 404}, false,
		"Delete a package version"},
	{RouteFiles, []string{mGet}, pkgName + "/<version>/files", nil, AreaManagement,
		[]int{200}, []int{400, 401, 403, 404}, false,
		"List the files of a package version"},
	{RouteLatest, []string{mGet}, pkgName + "/-/latest", nil, AreaManagement,
		[]int{200}, []int{400, 401, 403, 404}, false,
		"Get the latest version of a package (SemVer order, else newest)"},
	{RouteLink, []string{mPost}, pkgName + "/-/link/<repo>", nil, AreaManagement,
		[]int{201}, []int{400, 401, 403, 404}, false,
		"Link a package to a repository of its owner"},
	{RouteUnlink, []string{mPost}, pkgName + "/-/unlink", nil, AreaManagement,
		[]int{204}, []int{400, 401, 403, 404}, false,
		"Unlink a package from its repository"},
}

func cloneRoute(r Route) Route {
	r.Methods = slices.Clone(r.Methods)
	r.Query = slices.Clone(r.Query)
	r.Success = slices.Clone(r.Success)
	r.Failure = slices.Clone(r.Failure)
	return r
}

// Routes returns the full route table (a copy).
func Routes() []Route { return routetab.Copy(routes, cloneRoute) }

// Lookup returns the route with id.
func Lookup(id RouteID) (Route, bool) {
	return routetab.Find(routes, id, func(r Route) RouteID { return r.ID }, cloneRoute)
}
