package auth

// OCI bearer tokens: what their access claim grants, and issuing them at
// the token endpoint.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// granted returns what a bearer token's access list grants on repository
// for packages of pkgType. Its entries name OCI repositories
// ("repository:<name>"), so they grant nothing on other package types: a
// token for repository:alice/tool:push is no key to the generic package
// alice/tool.
func granted(access []Access, repository, pkgType string) Actions {
	if pkgType != PackageContainer {
		return 0
	}
	var a Actions
	for _, e := range access {
		if e.Type == "repository" && e.Name == repository {
			a |= ActionsOf(e.Actions...)
		}
	}
	return a
}

// Granted returns what p's bearer token grants on repository for
// packages of pkgType (see Authorize); every action for principals that
// are not bearer tokens, whose rights Actions alone decides.
func (p Principal) Granted(repository, pkgType string) Actions {
	if p.Method != MethodBearer {
		return actAll
	}
	return granted(p.Access, repository, pkgType)
}

// GrantedUnder returns what p's bearer token grants on at least one
// repository of owner for packages of pkgType (the union over them);
// every action for principals that are not bearer tokens.
func (p Principal) GrantedUnder(owner, pkgType string) Actions {
	if p.Method != MethodBearer {
		return actAll
	}
	var a Actions
	for _, e := range p.Access {
		if e.Type == "repository" && metadata.NameKey(Owner(e.Name)) == metadata.NameKey(owner) {
			a |= granted([]Access{e}, e.Name, pkgType)
		}
	}
	return a
}

// BearerToken is the answer of the token endpoint.
type BearerToken struct {
	// Token is the signed token.
	Token string
	// Expires is its lifetime.
	ExpiresIn time.Duration
	// IssuedAt is when it was made.
	IssuedAt time.Time
	// Access is what it grants.
	Access []Access
}

// MaxScopes is the most scopes one token request may ask for (clients
// ask for one to three: the repository, a mount's source, the catalog).
const MaxScopes = 20

// IssueBearer returns an OCI bearer token for p granting, for each
// requested scope ("repository:<name>:<actions>", several may be given
// space-separated), the intersection of the requested and the permitted
// actions. Scopes that grant nothing are left out; "registry:catalog:*"
// is granted as requested (the catalog filters by the caller). More than
// MaxScopes scopes, or scopes whose token would be longer than the
// verifier accepts, are refused with an error wrapping ErrInvalidRequest,
// before anything is looked up: it never issues a token it would reject.
func (s *Service) IssueBearer(ctx context.Context, p Principal, scopes []string) (BearerToken, error) {
	var requested [][]string
	n := 0
	for _, field := range scopes {
		f := splitFields(field)
		n += len(f)
		requested = append(requested, f)
	}
	if n > MaxScopes {
		return BearerToken{}, fmt.Errorf("%w: %d scopes requested; at most %d are allowed per token", ErrInvalidRequest, n, MaxScopes)
	}
	access := []Access{}
	seen := map[string]int{}
	for _, fields := range requested {
		for _, sc := range fields {
			a, ok := ParseScope(sc)
			if !ok {
				continue
			}
			switch a.Type {
			case "registry":
				if a.Name == "catalog" {
					access = append(access, Access{Type: "registry", Name: "catalog", Actions: []string{"*"}})
				}
			case "repository":
				if oci.ValidRepository(a.Name) != nil {
					continue
				}
				allowed, err := s.Actions(ctx, p, Owner(a.Name), PackageContainer)
				if err != nil {
					return BearerToken{}, err
				}
				allowed &= p.Granted(a.Name, PackageContainer)
				g := ActionsOf(a.Actions...) & allowed
				if g == 0 {
					continue
				}
				if i, ok := seen[a.Name]; ok {
					access[i].Actions = (ActionsOf(access[i].Actions...) | g).List()
					continue
				}
				seen[a.Name] = len(access)
				access = append(access, Access{Type: "repository", Name: a.Name, Actions: g.List()})
			}
		}
	}
	now := s.now()
	jti := make([]byte, 12)
	if _, err := rand.Read(jti); err != nil {
		return BearerToken{}, fmt.Errorf("auth: token id: %w", err)
	}
	c := Claims{
		Issuer: s.service, Audience: s.service,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(s.expiry).Unix(),
		ID: hex.EncodeToString(jti), Access: access,
	}
	if p.User != nil {
		c.Subject = p.User.Name
	}
	if p.Token != nil {
		c.TokenID = p.Token.ID
	} else if p.User != nil {
		c.PasswordStamp = p.stamp
	}
	tok, err := SignJWT(s.keys[0], c)
	if err != nil {
		return BearerToken{}, err
	}
	if len(tok) > maxJWTLength {
		return BearerToken{}, fmt.Errorf("%w: the requested scopes make a token of %d bytes, longer than the %d this registry accepts; ask for fewer scopes", ErrInvalidRequest, len(tok), maxJWTLength)
	}
	return BearerToken{Token: tok, ExpiresIn: s.expiry, IssuedAt: now, Access: access}, nil
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}
