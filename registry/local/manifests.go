package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// GetManifest resolves ref in repo: one metadata round trip, no bucket
// access.
func (g *Registry) GetManifest(ctx context.Context, repo, ref string) (registry.Manifest, error) {
	m, err := g.meta.GetManifestHead(ctx, repo, ref) // a GET serves no more than the head
	if err != nil {
		return registry.Manifest{}, notFoundAs(err, oci.CodeManifestUnknown.Errorf("manifest %q not found in repository %q", ref, repo).
			WithDetail(map[string]string{"reference": ref}))
	}
	return registry.Manifest{Descriptor: registry.Descriptor{MediaType: servedType(m), Digest: m.Digest, Size: int64(len(m.Body))}, Body: m.Body}, nil
}

// servedType is the Content-Type of a stored manifest: its media type,
// which PutManifest only accepts from the manifest types. A manifest an
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

// PutManifest stores body byte-exact under ref and tags after checking
// that it parses, that its digest matches a digest reference, and that
// everything it references exists in the repository.
func (g *Registry) PutManifest(ctx context.Context, repo, ref string, tags []string, mediaType string, body []byte) (registry.Pushed, error) {
	m, err := parseManifest(mediaType, body)
	if err != nil {
		return registry.Pushed{}, err
	}
	if d, derr := digest.Parse(ref); derr == nil {
		if got := d.Algorithm().FromBytes(body); got != d {
			return registry.Pushed{}, oci.CodeDigestInvalid.Errorf("the manifest's %s digest is %s, not %s as in the URL", d.Algorithm(), got, d).
				WithDetail(map[string]string{"digest": d.String()})
		}
		m.Digest = d
	} else {
		m.Digest = digest.SHA256.FromBytes(body)
		tags = append([]string{ref}, tags...)
	}
	if err := g.checkReferences(ctx, repo, m); err != nil {
		return registry.Pushed{}, err
	}
	m.Body = body
	m.Created = g.opts.Now().UTC()
	if err := g.meta.PutManifest(ctx, repo, m.Manifest, tags...); err != nil {
		return registry.Pushed{}, fmt.Errorf("store manifest: %w", err)
	}
	if err := g.protectReferences(ctx, repo, m); err != nil {
		return registry.Pushed{}, err
	}
	return registry.Pushed{Digest: m.Digest, Subject: m.Subject}, nil
}

// DeleteManifest deletes a tag (ref is a tag) or a manifest with all its
// tags and referrer entries (ref is a digest).
func (g *Registry) DeleteManifest(ctx context.Context, repo, ref string) error {
	var err error
	if d, derr := digest.Parse(ref); derr == nil {
		err = g.meta.DeleteManifest(ctx, repo, d)
	} else {
		err = g.meta.DeleteTag(ctx, repo, ref)
	}
	if err != nil {
		return notFoundAs(err, oci.CodeManifestUnknown.Errorf("manifest %q not found in repository %q", ref, repo))
	}
	return nil
}

// clip shortens s, a client's text quoted in an error message, to n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
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
			return pm, oci.CodeManifestInvalid.Errorf("Content-Type %q does not parse (%v); send the manifest's media type, one of %s", clip(contentType, 100), err, manifestTypes)
		}
		ct = mt
	}
	if mb.MediaType != "" && ct != "" && mb.MediaType != ct {
		return pm, oci.CodeManifestInvalid.Errorf("Content-Type %q does not match the manifest's mediaType %q", ct, clip(mb.MediaType, 100))
	}
	if ct == "" {
		ct = mb.MediaType
	}
	// The type is served back as the manifest's Content-Type: only the
	// manifest media types, never one a browser would render.
	if ct != "" && !oci.IsManifest(ct) {
		return pm, oci.CodeManifestInvalid.Errorf("media type %q is not a manifest media type; use one of %s", clip(ct, 100), manifestTypes)
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
func (g *Registry) checkReferences(ctx context.Context, repo string, m parsedManifest) error {
	if g.opts.Sparse {
		return nil
	}
	for _, d := range m.blobs {
		if _, err := g.meta.RepoBlob(ctx, repo, d); err != nil {
			return notFoundAs(err, manifestBlobUnknown(repo, d))
		}
	}
	for _, d := range m.manifests {
		if _, err := g.meta.GetManifest(ctx, repo, d.String()); err != nil {
			return notFoundAs(err, oci.CodeManifestBlobUnknown.Errorf("manifest %s referenced by the index is not in repository %q; push it first", d, repo).
				WithDetail(map[string]string{"digest": d.String()}))
		}
	}
	return nil
}

func manifestBlobUnknown(repo string, d digest.Digest) *oci.Error {
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
func (g *Registry) protectReferences(ctx context.Context, repo string, m parsedManifest) error {
	for _, d := range m.blobs {
		_, err := g.meta.TouchBlob(ctx, d)
		if err == nil || (g.opts.Sparse && (errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrConflict))) {
			continue
		}
		if errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrConflict) {
			bg := context.WithoutCancel(ctx)
			if derr := g.meta.DeleteManifest(bg, repo, m.Digest); derr != nil && !errors.Is(derr, metadata.ErrNotFound) {
				g.opts.Log.ErrorContext(ctx, "take back a manifest whose blob is being collected", "repo", repo, "digest", m.Digest, "err", derr)
			}
			g.opts.Log.WarnContext(ctx, "manifest refused: its blob was garbage-collected while it was pushed", "repo", repo, "manifest", m.Digest, "blob", d)
			return manifestBlobUnknown(repo, d)
		}
		return fmt.Errorf("touch blob %s: %w", d, err)
	}
	return nil
}
