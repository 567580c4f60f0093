package auth

import (
	"context"
	"fmt"

	"github.com/regkit/regkit/server/metadata"
)

// CatalogOwners returns the owners whose container repositories p may
// pull, for a catalog (metadata.OwnerCatalog.RepositoriesOf), so that
// the owners p may not read are never looked at. It is exactly the set
// of owners for which Actions grants pull: every owner for a site admin
// whose credentials carry read; otherwise the public accounts, the
// limited ones for signed-in users, and those of p's own owners that
// Actions lets it pull (its user, the organizations it is a member of,
// a deploy token's owner) — no other owner grants pull (see actions).
// It reads the memberships (one Range) and decides each own owner with
// Actions.
func (s *Service) CatalogOwners(ctx context.Context, p Principal, oc metadata.OwnerCatalog) (metadata.OwnerSet, error) {
	if p.SiteAdmin() && (p.Token == nil || scopeActions(p.Token.Scopes).Has(actPull)) {
		return metadata.OwnerSet{All: true}, nil
	}
	set := metadata.OwnerSet{Visibilities: []metadata.Visibility{metadata.VisibilityPublic}}
	var own []string
	if p.User != nil {
		set.Visibilities = append(set.Visibilities, metadata.VisibilityLimited)
		orgs, err := oc.Memberships(ctx, p.User.Name)
		if err != nil {
			return metadata.OwnerSet{}, fmt.Errorf("auth: memberships: %w", err)
		}
		own = append([]string{p.User.Name}, orgs...)
	}
	if p.Token != nil && p.Token.Kind == metadata.TokenDeploy {
		own = append(own, p.Token.Owner)
	}
	for _, o := range own {
		acts, err := s.Actions(ctx, p, o, PackageContainer)
		if err != nil {
			return metadata.OwnerSet{}, err
		}
		if acts.Has(actPull) {
			set.Owners = append(set.Owners, o)
		}
	}
	return set, nil
}
