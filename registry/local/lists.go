package local

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/spec/oci"
)

// Tags pages through repo's tags in lexical order.
func (g *Registry) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	tags, more, err := g.meta.Tags(ctx, repo, last, n)
	if err != nil {
		return nil, false, notFoundAs(err, oci.CodeNameUnknown.Errorf("repository %q is not known to this registry", repo).
			WithDetail(map[string]string{"name": repo}))
	}
	return tags, more, nil
}

// Repositories pages through the catalog from the metadata store's
// sorted repository index (never by walking the bucket).
func (g *Registry) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	repos, more, err := g.meta.Repositories(ctx, last, n)
	if err != nil {
		return nil, false, fmt.Errorf("catalog: %w", err)
	}
	return repos, more, nil
}

// Referrers lists the manifests of repo whose subject is d, ordered by
// digest, only those of artifactType when it is not "".
func (g *Registry) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]registry.Descriptor, error) {
	descs, err := g.meta.Referrers(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("referrers: %w", err)
	}
	if artifactType == "" {
		return descs, nil
	}
	kept := descs[:0]
	for _, x := range descs {
		if x.ArtifactType == artifactType {
			kept = append(kept, x)
		}
	}
	return kept, nil
}
