package oci

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/spec/oci"
)

// manifestGet serves GET and HEAD of a manifest by tag or digest: one
// GetManifest of the registry (for registry/local one metadata round
// trip, no bucket access).
func (a *API) manifestGet(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	m, err := a.cfg.Registry.GetManifest(r.Context(), req.Name, req.Reference)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", m.MediaType)
	h.Set("Content-Length", strconv.Itoa(len(m.Body)))
	h.Set(oci.DockerContentDigest, m.Digest.String())
	h.Set("ETag", `"`+m.Digest.String()+`"`)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, m.Digest) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(m.Body)
	}
	return nil
}

func etagMatches(header string, d digest.Digest) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+d.String()+`"` {
			return true
		}
	}
	return false
}

// manifestPut reads a manifest of at most MaxManifestSize bytes and has
// the registry check and store it.
func (a *API) manifestPut(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	limit := a.cfg.MaxManifestSize
	if r.ContentLength > limit {
		return tooLarge(r.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if be := core.OCIBodyError(err, oci.CodeManifestInvalid); be != nil {
		return be
	} else if err != nil {
		return oci.CodeManifestInvalid.Errorf("reading the manifest body: %v", err)
	}
	if int64(len(body)) > limit {
		return tooLarge(int64(len(body)), limit)
	}
	p, err := a.cfg.Registry.PutManifest(r.Context(), req.Name, req.Reference, req.Tags, r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteManifest, Method: http.MethodGet, Name: req.Name, Reference: p.Digest.String()}.Path())
	h.Set(oci.DockerContentDigest, p.Digest.String())
	if p.Subject != "" {
		h.Set(oci.OCISubject, p.Subject.String())
	}
	for _, t := range req.Tags {
		h.Add(oci.OCITag, t)
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func tooLarge(size, limit int64) error {
	return oci.CodeSizeInvalid.Errorf("the manifest is %d bytes; this registry accepts manifests of at most %d bytes", size, limit).
		WithStatus(http.StatusRequestEntityTooLarge)
}

// manifestDelete deletes a tag (by tag) or a manifest with all its tags
// and referrer entries (by digest).
func (a *API) manifestDelete(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if !a.cfg.DeleteEnabled {
		return deletesOff()
	}
	if err := a.cfg.Registry.DeleteManifest(r.Context(), req.Name, req.Reference); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
