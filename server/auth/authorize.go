package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/regkit/regkit/server/metadata"
)

// Actions returns what p may do with the packages and images of owner,
// for packages of pkgType, ignoring any bearer token's access list.
//
// With a versioned identity store the rights of principals read after
// the version (token and bearer logins) and of anonymous callers are
// cached at that version (see cache.go).
func (s *Service) Actions(ctx context.Context, p Principal, owner, pkgType string) (Actions, error) {
	ver, vok := p.ver, p.versioned
	if !vok && !p.Authenticated() {
		var err error
		if ver, vok, err = s.version(ctx); err != nil {
			return 0, err
		}
	}
	if !vok {
		return s.actions(ctx, p, owner, pkgType)
	}
	key := rightsKey(p, owner, pkgType)
	if a, ok := s.cache.rights(ver, key); ok {
		return a, nil
	}
	a, err := s.actions(ctx, p, owner, pkgType)
	if err == nil {
		s.cache.putRights(ver, key, a)
	}
	return a, err
}

// actions is Actions read from the store.
func (s *Service) actions(ctx context.Context, p Principal, owner, pkgType string) (Actions, error) {
	var allowed Actions
	acc, err := s.id.GetAccount(ctx, owner)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		// A missing owner is private and has no members.
	case err != nil:
		return 0, fmt.Errorf("auth: owner lookup: %w", err)
	case acc.Visibility.ReadableBy(p.User != nil):
		allowed = actPull
	}
	if p.Token != nil && p.Token.Kind == metadata.TokenDeploy {
		if metadata.NameKey(p.Token.Owner) == metadata.NameKey(owner) && typeAllowed(p.Token.PackageTypes, pkgType) {
			allowed |= scopeActions(p.Token.Scopes) &^ actDelete
		}
		return allowed, nil
	}
	if p.User == nil {
		return allowed, nil
	}
	var rights Actions
	switch {
	case p.User.SiteAdmin, metadata.NameKey(p.User.Name) == metadata.NameKey(owner):
		rights = actAll
	case err == nil && acc.Type == metadata.AccountOrganization:
		m, err := s.id.GetMember(ctx, owner, p.User.Name)
		switch {
		case err == nil:
			rights = roleActions(string(m.Role))
		case !errors.Is(err, metadata.ErrNotFound):
			return 0, fmt.Errorf("auth: membership lookup: %w", err)
		}
	}
	if p.Token != nil {
		rights &= scopeActions(p.Token.Scopes)
	}
	return allowed | rights, nil
}

func typeAllowed(types []string, t string) bool {
	if len(types) == 0 {
		return true
	}
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// Authorize decides whether p may do need with repository (a path whose
// first component is the owner) for packages of pkgType. It returns nil,
// or an error wrapping ErrUnauthenticated (anonymous without the right),
// ErrInsufficientScope (a bearer token not covering the request while its
// subject has the right) or ErrDenied (valid credentials without the
// right).
func (s *Service) Authorize(ctx context.Context, p Principal, repository, pkgType string, need Actions) error {
	allowed, err := s.Actions(ctx, p, Owner(repository), pkgType)
	if err != nil {
		return err
	}
	if !allowed.Has(need) {
		if !p.Authenticated() {
			return ErrUnauthenticated
		}
		return fmt.Errorf("%w: %s may not %s %s", ErrDenied, p, need, repository)
	}
	if !p.Granted(repository, pkgType).Has(need) {
		return fmt.Errorf("%w: it grants no %s on %s %s", ErrInsufficientScope, need, pkgType, repository)
	}
	return nil
}
