package oci

import (
	"net/http"
	"slices"

	"github.com/regkit/regkit/spec/internal/routetab"
)

// RouteID identifies one endpoint of the API: the spec's endpoint ID
// ("end-1" … "end-14") or a regkit name for endpoints the spec's table does
// not number.
type RouteID string

// The routes, in spec order.
const (
	// RouteBase: GET /v2/ (API version check).
	RouteBase RouteID = "end-1"
	// RouteBlob: GET, HEAD /v2/<name>/blobs/<digest>.
	RouteBlob RouteID = "end-2"
	// RouteManifest: GET, HEAD /v2/<name>/manifests/<reference>.
	RouteManifest RouteID = "end-3"
	// RouteUploadStart: POST /v2/<name>/blobs/uploads/.
	RouteUploadStart RouteID = "end-4a"
	// RouteUploadMonolithic: POST /v2/<name>/blobs/uploads/?digest=<digest>.
	RouteUploadMonolithic RouteID = "end-4b"
	// RouteUploadAlgorithm: POST /v2/<name>/blobs/uploads/?digest-algorithm=<alg>
	// (start a session hashed with another algorithm, e.g. sha512).
	RouteUploadAlgorithm RouteID = "end-4c"
	// RouteUploadChunk: PATCH /v2/<name>/blobs/uploads/<reference>.
	RouteUploadChunk RouteID = "end-5"
	// RouteUploadFinish: PUT /v2/<name>/blobs/uploads/<reference>?digest=<digest>.
	RouteUploadFinish RouteID = "end-6"
	// RouteManifestPut: PUT /v2/<name>/manifests/<reference>.
	RouteManifestPut RouteID = "end-7a"
	// RouteManifestPutTags: PUT /v2/<name>/manifests/<digest>?tag=<t1>&tag=<t2>.
	RouteManifestPutTags RouteID = "end-7b"
	// RouteTags: GET /v2/<name>/tags/list.
	RouteTags RouteID = "end-8a"
	// RouteTagsPaged: GET /v2/<name>/tags/list?n=<int>&last=<tag>.
	RouteTagsPaged RouteID = "end-8b"
	// RouteManifestDelete: DELETE /v2/<name>/manifests/<reference>.
	RouteManifestDelete RouteID = "end-9"
	// RouteBlobDelete: DELETE /v2/<name>/blobs/<digest>.
	RouteBlobDelete RouteID = "end-10"
	// RouteBlobMount: POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>
	// (also without from).
	RouteBlobMount RouteID = "end-11"
	// RouteReferrers: GET /v2/<name>/referrers/<digest>.
	RouteReferrers RouteID = "end-12a"
	// RouteReferrersFiltered: GET /v2/<name>/referrers/<digest>?artifactType=<type>.
	RouteReferrersFiltered RouteID = "end-12b"
	// RouteUploadStatus: GET /v2/<name>/blobs/uploads/<reference>.
	RouteUploadStatus RouteID = "end-13"
	// RouteUploadCancel: DELETE /v2/<name>/blobs/uploads/<reference>.
	RouteUploadCancel RouteID = "end-14"
	// RouteCatalog: GET /v2/_catalog (?n=&last=).
	RouteCatalog RouteID = "catalog"
	// RouteToken: GET /v2/token, the token endpoint of regkit's auth.
	RouteToken RouteID = "token"
)

// Areas of the API, as the conformance suites group them.
const (
	// AreaPull: fetching blobs and manifests (also the base and token
	// endpoints).
	AreaPull = "pull"
	// AreaPush: uploading blobs and manifests.
	AreaPush = "push"
	// AreaDiscovery: listing tags, referrers and the catalog.
	AreaDiscovery = "discovery"
	// AreaManagement: deleting manifests, tags and blobs.
	AreaManagement = "management"
)

// Route is one row of the route table.
type Route struct {
	// ID is the stable route ID.
	ID RouteID
	// Methods lists the HTTP methods, e.g. {"GET", "HEAD"}.
	Methods []string
	// Path is the pattern as written in the spec, e.g.
	// "/v2/<name>/blobs/<digest>".
	Path string
	// Query lists the query parameters that distinguish this route from
	// others with the same method and path, e.g. {"digest"}.
	Query []string
	// Area is AreaPull, AreaPush, AreaDiscovery or AreaManagement.
	Area string
	// Success lists the success statuses.
	Success []int
	// Failure lists the failure statuses the spec names.
	Failure []int
	// Summary is one human-readable line.
	Summary string
}

const (
	mGet    = http.MethodGet
	mHead   = http.MethodHead
	mPost   = http.MethodPost
	mPut    = http.MethodPut
	mPatch  = http.MethodPatch
	mDelete = http.MethodDelete
)

var routes = []Route{
	{RouteBase, []string{mGet}, "/v2/", nil, AreaPull,
		[]int{200}, []int{401, 404},
		"Check that the registry implements the OCI Distribution API"},
	{RouteBlob, []string{mGet, mHead}, "/v2/<name>/blobs/<digest>", nil, AreaPull,
		[]int{200, 206, 307}, []int{400, 404, 416},
		"Fetch a blob (or its headers with HEAD), optionally a byte range"},
	{RouteManifest, []string{mGet, mHead}, "/v2/<name>/manifests/<reference>", nil, AreaPull,
		[]int{200, 307}, []int{400, 404},
		"Fetch a manifest by tag or digest (or its headers with HEAD)"},
	{RouteUploadStart, []string{mPost}, "/v2/<name>/blobs/uploads/", nil, AreaPush,
		[]int{202}, []int{400, 404},
		"Start a blob upload session"},
	{RouteUploadMonolithic, []string{mPost}, "/v2/<name>/blobs/uploads/", []string{"digest"}, AreaPush,
		[]int{201, 202}, []int{400, 404},
		"Upload a whole blob in one POST"},
	{RouteUploadAlgorithm, []string{mPost}, "/v2/<name>/blobs/uploads/", []string{"digest-algorithm"}, AreaPush,
		[]int{202}, []int{400, 404},
		"Start a blob upload session hashed with another digest algorithm"},
	{RouteUploadChunk, []string{mPatch}, "/v2/<name>/blobs/uploads/<reference>", nil, AreaPush,
		[]int{202}, []int{400, 404, 416},
		"Append a chunk to an upload session"},
	{RouteUploadFinish, []string{mPut}, "/v2/<name>/blobs/uploads/<reference>", []string{"digest"}, AreaPush,
		[]int{201}, []int{400, 404, 416},
		"Finish an upload session, optionally with a last chunk"},
	{RouteManifestPut, []string{mPut}, "/v2/<name>/manifests/<reference>", nil, AreaPush,
		[]int{201}, []int{400, 404, 413},
		"Push a manifest by tag or digest"},
	{RouteManifestPutTags, []string{mPut}, "/v2/<name>/manifests/<digest>", []string{"tag"}, AreaPush,
		[]int{201}, []int{400, 404, 413, 414},
		"Push a manifest by digest and tag it in the same request"},
	{RouteTags, []string{mGet}, "/v2/<name>/tags/list", nil, AreaDiscovery,
		[]int{200}, []int{400, 404},
		"List the tags of a repository"},
	{RouteTagsPaged, []string{mGet}, "/v2/<name>/tags/list", []string{"n", "last"}, AreaDiscovery,
		[]int{200}, []int{400, 404},
		"List one page of the tags of a repository"},
	{RouteManifestDelete, []string{mDelete}, "/v2/<name>/manifests/<reference>", nil, AreaManagement,
		[]int{202}, []int{400, 404, 405},
		"Delete a manifest (by digest) or a tag"},
	{RouteBlobDelete, []string{mDelete}, "/v2/<name>/blobs/<digest>", nil, AreaManagement,
		[]int{202}, []int{400, 404, 405},
		"Delete a blob"},
	{RouteBlobMount, []string{mPost}, "/v2/<name>/blobs/uploads/", []string{"mount", "from"}, AreaPush,
		[]int{201, 202}, []int{400, 404},
		"Mount a blob from another repository (or start an upload)"},
	{RouteReferrers, []string{mGet}, "/v2/<name>/referrers/<digest>", nil, AreaDiscovery,
		[]int{200}, []int{400, 404},
		"List the manifests whose subject is a digest"},
	{RouteReferrersFiltered, []string{mGet}, "/v2/<name>/referrers/<digest>", []string{"artifactType"}, AreaDiscovery,
		[]int{200}, []int{400, 404},
		"List the referrers of a digest with a given artifact type"},
	{RouteUploadStatus, []string{mGet}, "/v2/<name>/blobs/uploads/<reference>", nil, AreaPush,
		[]int{204}, []int{404},
		"Get the progress of an upload session"},
	{RouteUploadCancel, []string{mDelete}, "/v2/<name>/blobs/uploads/<reference>", nil, AreaPush,
		[]int{204}, []int{404},
		"Cancel an upload session"},
	{RouteCatalog, []string{mGet}, "/v2/_catalog", []string{"n", "last"}, AreaDiscovery,
		[]int{200}, []int{400, 404},
		"List the repositories of the registry"},
	{RouteToken, []string{mGet}, "/v2/token", nil, AreaPull,
		[]int{200}, []int{400, 401},
		"Get a bearer token (regkit's token endpoint)"},
}

func cloneRoute(r Route) Route {
	r.Methods = slices.Clone(r.Methods)
	r.Query = slices.Clone(r.Query)
	r.Success = slices.Clone(r.Success)
	r.Failure = slices.Clone(r.Failure)
	return r
}

// Routes returns the full route table (a copy), in spec order.
func Routes() []Route { return routetab.Copy(routes, cloneRoute) }

// Lookup returns the route with id.
func Lookup(id RouteID) (Route, bool) {
	return routetab.Find(routes, id, func(r Route) RouteID { return r.ID }, cloneRoute)
}
