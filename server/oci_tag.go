package server

import (
	"fmt"
	"net/http"
	"sort"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/spec/oci"
)

// DefaultListPageSize is the page size of a tag list or catalog request
// without ?n= (the distribution spec lets a registry page them): a
// client that follows Link still gets every entry, and no request costs
// more than a page.
const DefaultListPageSize = 1000

// limit returns the ?n= of req, or DefaultListPageSize when it is absent.
func limit(req oci.Request) int {
	if req.N == nil {
		return DefaultListPageSize
	}
	return *req.N
}

// pageN is the n of the next page's Link: req's, or the default.
func pageN(req oci.Request) *int {
	if req.N == nil {
		n := DefaultListPageSize
		return &n
	}
	return req.N
}

// tagsList answers GET /v2/<name>/tags/list with n/last pagination and a
// Link header when more tags remain.
func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	tags, more, err := s.meta.Tags(r.Context(), req.Name, req.Last, limit(req))
	if err != nil {
		return notFoundAs(err, oci.CodeNameUnknown.Errorf("repository %q is not known to this registry", req.Name).
			WithDetail(map[string]string{"name": req.Name}))
	}
	if more && len(tags) > 0 {
		next := oci.Request{Route: oci.RouteTagsPaged, Method: http.MethodGet, Name: req.Name, N: pageN(req), Last: tags[len(tags)-1]}
		w.Header().Set(oci.Link, oci.NextLink(next))
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{req.Name, tags})
}

// catalog answers GET /v2/_catalog from the metadata store's sorted
// repository index (never by walking the bucket).
func (s *Server) catalog(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	repos, more, err := s.meta.Repositories(r.Context(), req.Last, limit(req))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if more && len(repos) > 0 {
		next := oci.Request{Route: oci.RouteCatalog, Method: http.MethodGet, N: pageN(req), Last: repos[len(repos)-1]}
		w.Header().Set(oci.Link, oci.NextLink(next))
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// referrers answers GET /v2/<name>/referrers/<digest>, optionally
// filtered by artifactType. It always answers 200 with an image index.
func (s *Server) referrers(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	descs, err := s.meta.Referrers(r.Context(), req.Name, req.Digest)
	if err != nil {
		return fmt.Errorf("referrers: %w", err)
	}
	if req.ArtifactType != "" {
		kept := descs[:0]
		for _, d := range descs {
			if d.ArtifactType == req.ArtifactType {
				kept = append(kept, d)
			}
		}
		descs = kept
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
	page := s.opts.referrersPageSize
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
