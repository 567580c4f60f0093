package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// ociHandler handles one parsed OCI request.
type ociHandler func(w http.ResponseWriter, r *http.Request, req oci.Request) error

// ociRoutes maps every route of spec/oci to its handler. A test checks
// that every route in oci.Routes() has one.
func (s *Server) ociRoutes() map[oci.RouteID]ociHandler {
	return map[oci.RouteID]ociHandler{
		oci.RouteBase:              s.base,
		oci.RouteBlob:              s.blobGet,
		oci.RouteBlobDelete:        s.blobDelete,
		oci.RouteUploadStart:       s.uploadStart,
		oci.RouteUploadMonolithic:  s.uploadStart,
		oci.RouteUploadAlgorithm:   s.uploadStart,
		oci.RouteManifestPutTags:   s.manifestPut,
		oci.RouteBlobMount:         s.uploadStart,
		oci.RouteUploadChunk:       s.uploadChunk,
		oci.RouteUploadFinish:      s.uploadFinish,
		oci.RouteUploadStatus:      s.uploadStatus,
		oci.RouteUploadCancel:      s.uploadCancel,
		oci.RouteManifest:          s.manifestGet,
		oci.RouteManifestPut:       s.manifestPut,
		oci.RouteManifestDelete:    s.manifestDelete,
		oci.RouteTags:              s.tagsList,
		oci.RouteTagsPaged:         s.tagsList,
		oci.RouteReferrers:         s.referrers,
		oci.RouteReferrersFiltered: s.referrers,
		oci.RouteCatalog:           s.catalog,
		oci.RouteToken:             s.token,
	}
}

// dispatchOCI parses the request with oci.Parse and calls its handler.
func (s *Server) dispatchOCI(w http.ResponseWriter, r bunrouter.Request) error {
	req, err := oci.Parse(r.Method, r.URL)
	if err != nil {
		var oe *oci.Error
		if errors.As(err, &oe) {
			if d, ok := oe.Detail.(oci.AllowDetail); ok && oe.HTTPStatus() == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", strings.Join(d.Allowed, ", "))
			}
		}
		return err
	}
	core.SetRoute(r.Context(), string(req.Route))
	if err := s.authorize(w, r.Request, &req); err != nil {
		return err
	}
	h, ok := s.handlers[req.Route]
	if !ok {
		return oci.ErrUnsupported.WithStatus(http.StatusNotFound)
	}
	return h(w, r.Request, req)
}

// base answers the API version check.
func (s *Server) base(w http.ResponseWriter, _ *http.Request, _ oci.Request) error {
	h := w.Header()
	h.Set(oci.DockerDistributionAPIVersion, "registry/2.0")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
	return nil
}

// token is the token endpoint (see issueToken in auth.go); without an
// auth mode there is nothing to grant, so it is not found.
func (s *Server) token(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if s.opts.auth == nil {
		return oci.CodeNotFound.Errorf("this registry runs without authentication; no token endpoint")
	}
	return s.issueToken(w, r, req)
}

// notFoundAs maps metadata.ErrNotFound to e and wraps anything else.
func notFoundAs(err error, e *oci.Error) error {
	if errors.Is(err, metadata.ErrNotFound) {
		return e
	}
	return fmt.Errorf("metadata: %w", err)
}
