package oci

import (
	"net/http"
	"sort"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/spec/oci"
)

// Limit returns the ?n= of req, or DefaultListPageSize when it is absent.
func Limit(req oci.Request) int {
	if req.N == nil {
		return DefaultListPageSize
	}
	return *req.N
}

// NextPage sets Link to the page of req's route after last, with req's
// n or the default.
func NextPage(w http.ResponseWriter, req oci.Request, last string) {
	n := Limit(req)
	next := oci.Request{Route: req.Route, Method: http.MethodGet, Name: req.Name, N: &n, Last: last}
	if req.Route == oci.RouteTags {
		next.Route = oci.RouteTagsPaged
	}
	w.Header().Set(oci.Link, oci.NextLink(next))
}

// tagsList answers GET /v2/<name>/tags/list with n/last pagination and a
// Link header when more tags remain.
func (a *API) tagsList(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	tags, more, err := a.cfg.Registry.Tags(r.Context(), req.Name, req.Last, Limit(req))
	if err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	if more && len(tags) > 0 {
		NextPage(w, req, tags[len(tags)-1])
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{req.Name, tags})
}

// catalog answers GET /v2/_catalog from the registry's Repositories.
func (a *API) catalog(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	repos, more, err := a.cfg.Registry.Repositories(r.Context(), req.Last, Limit(req))
	if err != nil {
		return err
	}
	if repos == nil {
		repos = []string{}
	}
	if more && len(repos) > 0 {
		NextPage(w, req, repos[len(repos)-1])
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// referrers answers GET /v2/<name>/referrers/<digest>, optionally
// filtered by artifactType. It always answers 200 with an image index.
func (a *API) referrers(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	descs, err := a.cfg.Registry.Referrers(r.Context(), req.Name, req.Digest, req.ArtifactType)
	if err != nil {
		return err
	}
	if req.ArtifactType != "" {
		w.Header().Set(oci.OCIFiltersApplied, "artifactType")
	}
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	// Pagination: descriptors are ordered by digest; a page holds at most
	// n (or the server's page size) and Link names the next one.
	if req.Last != "" {
		i := sort.Search(len(descs), func(i int) bool { return descs[i].Digest.String() > req.Last })
		descs = descs[i:]
	}
	page := a.cfg.ReferrersPageSize
	if req.N != nil && *req.N < page {
		page = *req.N
	}
	if len(descs) > page {
		descs = descs[:page]
		if page > 0 {
			next := req
			next.Last = descs[page-1].Digest.String()
			w.Header().Set(oci.Link, oci.NextLink(next))
		}
	}
	idx := struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     []v1.Descriptor `json:"manifests"`
	}{2, oci.MediaTypeImageIndex, descs}
	return core.WriteJSON(w, r, http.StatusOK, oci.MediaTypeImageIndex, idx)
}
