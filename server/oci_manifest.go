package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// manifestGet serves GET and HEAD of a manifest by tag or digest: one
// metadata round trip, no bucket access.
func (s *Server) manifestGet(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	m, err := s.meta.GetManifest(r.Context(), req.Name, req.Reference)
	if err != nil {
		return notFoundAs(err, oci.CodeManifestUnknown.Errorf("manifest %q not found in repository %q", req.Reference, req.Name).
			WithDetail(map[string]string{"reference": req.Reference}))
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

// manifestPut stores a manifest byte-exact after checking that it parses,
// that its digest matches a digest reference, and that everything it
// references exists in the repository.
func (s *Server) manifestPut(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	limit := s.opts.maxManifestSize
	if r.ContentLength > limit {
		return tooLarge(r.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if be := ociBodyError(err, oci.CodeManifestInvalid); be != nil {
		return be
	} else if err != nil {
		return oci.CodeManifestInvalid.Errorf("reading the manifest body: %v", err)
	}
	if int64(len(body)) > limit {
		return tooLarge(int64(len(body)), limit)
	}
	m, err := parseManifest(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}

	tags := req.Tags
	if d, derr := digest.Parse(req.Reference); derr == nil {
		if got := d.Algorithm().FromBytes(body); got != d {
			return oci.CodeDigestInvalid.Errorf("the manifest's %s digest is %s, not %s as in the URL", d.Algorithm(), got, d).
				WithDetail(map[string]string{"digest": d.String()})
		}
		m.Digest = d
	} else {
		m.Digest = digest.SHA256.FromBytes(body)
		tags = append([]string{req.Reference}, tags...)
	}
	if err := s.checkReferences(ctx, req.Name, m); err != nil {
		return err
	}
	m.Body = body
	m.Created = s.opts.now().UTC()
	if err := s.meta.PutManifest(ctx, req.Name, m.Manifest, tags...); err != nil {
		return fmt.Errorf("store manifest: %w", err)
	}

	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteManifest, Method: http.MethodGet, Name: req.Name, Reference: m.Digest.String(), N: -1}.Path())
	h.Set(oci.DockerContentDigest, m.Digest.String())
	if m.Subject != "" {
		h.Set(oci.OCISubject, m.Subject.String())
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

// parsedManifest is a manifest with what its body says about references.
type parsedManifest struct {
	metadata.Manifest
	blobs     []digest.Digest // must exist as blobs in the repository
	manifests []digest.Digest // must exist as manifests in the repository
}

// manifestBody is the union of the image manifest and index fields regkit
// reads. Unknown fields are allowed and kept (the body is stored as is).
type manifestBody struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// parseManifest validates body against contentType and extracts the
// references, subject, artifact type and annotations.
func parseManifest(contentType string, body []byte) (parsedManifest, error) {
	var pm parsedManifest
	var mb manifestBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&mb); err != nil {
		return pm, oci.CodeManifestInvalid.Errorf("the manifest is not valid JSON: %v", err)
	}
	if dec.More() {
		return pm, oci.CodeManifestInvalid.Errorf("the manifest has data after its JSON object")
	}
	if mb.SchemaVersion == nil || *mb.SchemaVersion != 2 {
		return pm, oci.CodeManifestInvalid.Errorf("schemaVersion must be 2 (Docker schema 1 manifests are not supported)")
	}
	ct := contentType
	if ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt
		}
	}
	if mb.MediaType != "" && ct != "" && mb.MediaType != ct {
		return pm, oci.CodeManifestInvalid.Errorf("Content-Type %q does not match the manifest's mediaType %q", ct, mb.MediaType)
	}
	switch {
	case ct == "":
		ct = mb.MediaType
	case !oci.IsManifest(ct) && mb.MediaType == "":
		// An unknown Content-Type on a body without mediaType: keep it.
	}
	isIndex := oci.IsIndex(ct) || (ct == "" && mb.Manifests != nil && mb.Config == nil)
	if ct == "" {
		if isIndex {
			ct = oci.MediaTypeImageIndex
		} else {
			ct = oci.MediaTypeImageManifest
		}
	}
	pm.MediaType = ct

	check := func(what string, d descriptor) (digest.Digest, error) {
		dg, err := oci.ParseDigest(d.Digest)
		if err != nil {
			return "", oci.CodeManifestInvalid.Errorf("%s has an invalid digest %q: %v", what, d.Digest, err)
		}
		if d.Size < 0 {
			return "", oci.CodeManifestInvalid.Errorf("%s %s has a negative size", what, d.Digest)
		}
		return dg, nil
	}
	if isIndex {
		if mb.Config != nil || mb.Layers != nil {
			return pm, oci.CodeManifestInvalid.Errorf("an index (%s) must not have config or layers", ct)
		}
		for i, d := range mb.Manifests {
			dg, err := check(fmt.Sprintf("manifests[%d]", i), d)
			if err != nil {
				return pm, err
			}
			pm.manifests = append(pm.manifests, dg)
		}
		pm.ArtifactType = mb.ArtifactType
	} else {
		if mb.Manifests != nil {
			return pm, oci.CodeManifestInvalid.Errorf("an image manifest (%s) must not have manifests", ct)
		}
		if mb.Config == nil {
			return pm, oci.CodeManifestInvalid.Errorf("an image manifest must have a config descriptor")
		}
		dg, err := check("config", *mb.Config)
		if err != nil {
			return pm, err
		}
		pm.blobs = append(pm.blobs, dg)
		for i, d := range mb.Layers {
			dg, err := check(fmt.Sprintf("layers[%d]", i), d)
			if err != nil {
				return pm, err
			}
			if !oci.IsNonDistributable(d.MediaType) {
				pm.blobs = append(pm.blobs, dg)
			}
		}
		pm.ArtifactType = mb.ArtifactType
		if pm.ArtifactType == "" {
			pm.ArtifactType = mb.Config.MediaType
		}
	}
	if mb.Subject != nil {
		dg, err := check("subject", *mb.Subject)
		if err != nil {
			return pm, err
		}
		pm.Subject = dg
	}
	pm.Annotations = mb.Annotations
	pm.References = append(append([]digest.Digest(nil), pm.blobs...), pm.manifests...)
	return pm, nil
}

// checkReferences enforces reference integrity: an image manifest's blobs
// and an index's child manifests must exist in the repository.
func (s *Server) checkReferences(ctx context.Context, repo string, m parsedManifest) error {
	if s.opts.sparse {
		return nil
	}
	for _, d := range m.blobs {
		unknown := oci.CodeManifestBlobUnknown.Errorf("blob %s referenced by the manifest is not in repository %q; push it first", d, repo).
			WithDetail(map[string]string{"digest": d.String()})
		if _, err := s.meta.RepoBlob(ctx, repo, d); err != nil {
			return notFoundAs(err, unknown)
		}
		// Refresh the blob's last use, so that garbage collection keeps it
		// while this manifest is being stored (see package gc).
		if _, err := s.meta.TouchBlob(ctx, d); errors.Is(err, metadata.ErrConflict) {
			return unknown
		} else if err != nil && !errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("touch blob %s: %w", d, err)
		}
	}
	for _, d := range m.manifests {
		if _, err := s.meta.GetManifest(ctx, repo, d.String()); err != nil {
			return notFoundAs(err, oci.CodeManifestBlobUnknown.Errorf("manifest %s referenced by the index is not in repository %q; push it first", d, repo).
				WithDetail(map[string]string{"digest": d.String()}))
		}
	}
	return nil
}

// manifestDelete deletes a tag (by tag) or a manifest with all its tags
// and referrer entries (by digest).
func (s *Server) manifestDelete(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if !s.opts.deleteEnabled {
		return oci.CodeUnsupported.Errorf("deletes are disabled on this registry")
	}
	ctx := r.Context()
	var err error
	if d, derr := digest.Parse(req.Reference); derr == nil {
		err = s.meta.DeleteManifest(ctx, req.Name, d)
	} else {
		err = s.meta.DeleteTag(ctx, req.Name, req.Reference)
	}
	if err != nil {
		return notFoundAs(err, oci.CodeManifestUnknown.Errorf("manifest %q not found in repository %q", req.Reference, req.Name))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
