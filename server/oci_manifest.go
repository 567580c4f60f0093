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

	"github.com/regkit/regkit/server/core"
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
	h.Set("Content-Type", servedType(m))
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

// servedType is the Content-Type of a stored manifest: its media type,
// which manifestPut only accepts from the manifest types. A manifest an
// older version stored with another type (text/html, garbage) is served
// with the type its body implies, or as application/octet-stream.
func servedType(m metadata.Manifest) string {
	if oci.IsManifest(m.MediaType) {
		return m.MediaType
	}
	if pm, err := parseManifest("", m.Body); err == nil {
		return pm.MediaType
	}
	return "application/octet-stream"
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
	if be := core.OCIBodyError(err, oci.CodeManifestInvalid); be != nil {
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
	if err := s.protectReferences(ctx, req.Name, m); err != nil {
		return err
	}

	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteManifest, Method: http.MethodGet, Name: req.Name, Reference: m.Digest.String()}.Path())
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

// manifestTypes lists the manifest media types for error messages.
var manifestTypes = strings.Join(oci.ManifestMediaTypes(), ", ")

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
	ct := ""
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return pm, oci.CodeManifestInvalid.Errorf("Content-Type %q does not parse (%v); send the manifest's media type, one of %s", core.ClipText(contentType, 100), err, manifestTypes)
		}
		ct = mt
	}
	if mb.MediaType != "" && ct != "" && mb.MediaType != ct {
		return pm, oci.CodeManifestInvalid.Errorf("Content-Type %q does not match the manifest's mediaType %q", ct, core.ClipText(mb.MediaType, 100))
	}
	if ct == "" {
		ct = mb.MediaType
	}
	// The type is served back as the manifest's Content-Type: only the
	// manifest media types, never one a browser would render.
	if ct != "" && !oci.IsManifest(ct) {
		return pm, oci.CodeManifestInvalid.Errorf("media type %q is not a manifest media type; use one of %s", core.ClipText(ct, 100), manifestTypes)
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
		if _, err := s.meta.RepoBlob(ctx, repo, d); err != nil {
			return notFoundAs(err, blobUnknown(repo, d))
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

func blobUnknown(repo string, d digest.Digest) *oci.Error {
	return oci.CodeManifestBlobUnknown.Errorf("blob %s referenced by the manifest is not in repository %q; push it first", d, repo).
		WithDetail(map[string]string{"digest": d.String()})
}

// protectReferences runs after the manifest m is stored in repo: it
// touches every blob m references, which garbage collection sees (see
// package gc and metadata.GC). When a touch finds the blob being deleted
// or gone, a collection that started before the manifest was stored is
// deleting it: the manifest is taken back and the client told to push the
// blob again, so a 201 never stands for an image whose bytes are going.
// With sparse manifests a missing blob is allowed, and the touches only
// keep the blobs that exist.
func (s *Server) protectReferences(ctx context.Context, repo string, m parsedManifest) error {
	for _, d := range m.blobs {
		_, err := s.meta.TouchBlob(ctx, d)
		if err == nil || (s.opts.sparse && (errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrConflict))) {
			continue
		}
		if errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrConflict) {
			bg := context.WithoutCancel(ctx)
			if derr := s.meta.DeleteManifest(bg, repo, m.Digest); derr != nil && !errors.Is(derr, metadata.ErrNotFound) {
				s.opts.log.ErrorContext(ctx, "take back a manifest whose blob is being collected", "repo", repo, "digest", m.Digest, "err", derr)
			}
			s.opts.log.WarnContext(ctx, "manifest refused: its blob was garbage-collected while it was pushed", "repo", repo, "manifest", m.Digest, "blob", d)
			return blobUnknown(repo, d)
		}
		return fmt.Errorf("touch blob %s: %w", d, err)
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
