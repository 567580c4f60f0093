package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// MaxManifestSize is the largest manifest ManifestGet reads.
const MaxManifestSize = 32 << 20

// manifestAccept is the Accept header of manifest requests: every
// manifest type, so that registries do not convert.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageManifest,
	ocispec.MediaTypeImageIndex,
	ocispec.MediaTypeDockerManifest,
	ocispec.MediaTypeDockerManifestList,
}, ", ")

func manifestRequest(route ocispec.RouteID, method, repo, ref string) ocispec.Request {
	r := request(route, method, repo)
	r.Reference = ref
	if d, err := digest.Parse(ref); err == nil {
		r.Digest = d
	}
	return r
}

func manifestUnknown(ref string) *ocispec.Error {
	return ocispec.CodeManifestUnknown.Errorf("manifest %s is unknown to the registry", ref)
}

// ManifestGet fetches the manifest ref (a tag or a digest) of repo and
// returns its bytes, exactly as stored, its media type and its digest. The
// bytes are checked against the digest (the reference's when it is one,
// else the registry's Docker-Content-Digest). A missing manifest is
// ErrManifestUnknown.
func (c *Client) ManifestGet(ctx context.Context, repo, ref string) ([]byte, string, digest.Digest, error) {
	resp, err := c.do(ctx, call{
		req:      manifestRequest(ocispec.RouteManifest, http.MethodGet, repo, ref),
		header:   http.Header{"Accept": {manifestAccept}},
		notFound: manifestUnknown(ref),
	}, http.StatusOK)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("reading manifest %s: %w", ref, err)
	}
	if len(body) > MaxManifestSize {
		return nil, "", "", ocispec.CodeSizeInvalid.Errorf("manifest %s is larger than %d bytes", ref, MaxManifestSize)
	}
	want, err := manifestDigest(resp, ref)
	if err != nil {
		return nil, "", "", err
	}
	if want == "" {
		want = digest.SHA256.FromBytes(body)
	} else if got := want.Algorithm().FromBytes(body); got != want {
		return nil, "", "", ocispec.CodeDigestInvalid.Errorf("manifest %s: the registry sent content with digest %s, not %s", ref, got, want)
	}
	return body, resp.Header.Get("Content-Type"), want, nil
}

// manifestDigest returns the digest the manifest must have: ref when it is
// a digest, else Docker-Content-Digest ("" when absent).
func manifestDigest(resp *http.Response, ref string) (digest.Digest, error) {
	if d, err := digest.Parse(ref); err == nil {
		return d, nil
	}
	h := resp.Header.Get(ocispec.DockerContentDigest)
	if h == "" {
		return "", nil
	}
	d, err := digest.Parse(h)
	if err != nil || !d.Algorithm().Available() {
		return "", ocispec.CodeDigestInvalid.Errorf("the registry sent an invalid %s %q", ocispec.DockerContentDigest, h)
	}
	return d, nil
}

// ManifestHead returns the media type, digest and size of manifest ref
// (HEAD). A missing manifest is ErrManifestUnknown.
func (c *Client) ManifestHead(ctx context.Context, repo, ref string) (string, digest.Digest, int64, error) {
	resp, err := c.do(ctx, call{
		req:      manifestRequest(ocispec.RouteManifest, http.MethodHead, repo, ref),
		header:   http.Header{"Accept": {manifestAccept}},
		notFound: manifestUnknown(ref),
	}, http.StatusOK)
	if err != nil {
		return "", "", 0, err
	}
	_ = resp.Body.Close()
	d, err := manifestDigest(resp, ref)
	if err != nil {
		return "", "", 0, err
	}
	if h := resp.Header.Get(ocispec.DockerContentDigest); h != "" && h != d.String() {
		return "", "", 0, ocispec.CodeDigestInvalid.Errorf("manifest %s: the registry answered with digest %s", ref, h)
	}
	return resp.Header.Get("Content-Type"), d, resp.ContentLength, nil
}

// ManifestPut stores body as manifest ref of repo (a tag, or the
// manifest's digest) with the given media type, and also under tags (sent
// as ?tag=, which needs OCI Distribution v1.1). It returns the manifest's
// digest as the registry computed it.
func (c *Client) ManifestPut(ctx context.Context, repo, ref, mediaType string, body []byte, tags ...string) (digest.Digest, error) {
	d, _, err := c.manifestPut(ctx, repo, ref, mediaType, body, tags...)
	return d, err
}

// manifestPut is ManifestPut, also returning the response's headers.
func (c *Client) manifestPut(ctx context.Context, repo, ref, mediaType string, body []byte, tags ...string) (digest.Digest, http.Header, error) {
	req := manifestRequest(ocispec.RouteManifestPut, http.MethodPut, repo, ref)
	if len(tags) > 0 {
		if req.Digest == "" {
			return "", nil, ocispec.CodeManifestInvalid.Errorf("extra tags can only be given when pushing a manifest by digest, not by tag %q", ref)
		}
		req.Route, req.Tags = ocispec.RouteManifestPutTags, tags
	}
	resp, err := c.do(ctx, call{
		req:    req,
		header: http.Header{"Content-Type": {mediaType}},
		body:   bytes.NewReader(body),
		size:   int64(len(body)),
	}, http.StatusCreated)
	if err != nil {
		return "", nil, err
	}
	_ = discard(resp)
	want := req.Digest
	if want == "" {
		want = digest.SHA256.FromBytes(body)
	}
	if h := resp.Header.Get(ocispec.DockerContentDigest); h != "" {
		d, err := digest.Parse(h)
		if err != nil {
			return "", nil, ocispec.CodeDigestInvalid.Errorf("the registry sent an invalid %s %q", ocispec.DockerContentDigest, h)
		}
		if d.Algorithm() == want.Algorithm() && d != want {
			return "", nil, ocispec.CodeDigestInvalid.Errorf("the registry stored the manifest as %s, not %s", d, want)
		}
		return d, resp.Header, nil
	}
	return want, resp.Header, nil
}

// ManifestDelete deletes manifest ref of repo: by digest, the manifest
// (and every tag pointing at it); by tag, only the tag (where the registry
// supports it). A missing manifest is ErrManifestUnknown.
func (c *Client) ManifestDelete(ctx context.Context, repo, ref string) error {
	resp, err := c.do(ctx, call{
		req:      manifestRequest(ocispec.RouteManifestDelete, http.MethodDelete, repo, ref),
		notFound: manifestUnknown(ref),
	}, http.StatusAccepted, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return err
	}
	return discard(resp)
}
