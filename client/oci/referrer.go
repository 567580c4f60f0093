package oci

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// Referrers lists the manifests of repo whose subject is d, optionally
// only those of artifactType ("" for all). When the registry does not
// apply the filter (it sends no OCI-Filters-Applied), the client does:
// the result is the same either way. Pages linked with Link are followed.
func (c *Client) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]v1.Descriptor, error) {
	req := request(ocispec.RouteReferrers, http.MethodGet, repo)
	req.Digest = d
	if artifactType != "" {
		req.Route = ocispec.RouteReferrersFiltered
		req.ArtifactType = artifactType
	}
	descs, err := list(ctx, c, call{req: req, header: http.Header{"Accept": {ocispec.MediaTypeImageIndex}}}, 0,
		func(body []byte) ([]v1.Descriptor, error) {
			var idx v1.Index
			err := json.Unmarshal(body, &idx)
			return idx.Manifests, err
		})
	if err != nil {
		return nil, err
	}
	if artifactType == "" {
		return descs, nil
	}
	kept := descs[:0]
	for _, m := range descs {
		if m.ArtifactType == artifactType {
			kept = append(kept, m)
		}
	}
	return kept, nil
}
