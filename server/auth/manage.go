package auth

// Validation of account and token fields, token creation, the bootstrap
// admin, and who may manage tokens, accounts and organizations.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/regkit/regkit/server/metadata"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// MaxNameLength bounds account names.
const MaxNameLength = 64

// ValidName checks an account name: it must be usable as the first
// component of an OCI repository name once lowercased (letters, digits and
// single separators . _ __ -), at most MaxNameLength bytes.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLength || !nameRE.MatchString(metadata.NameKey(name)) {
		return fmt.Errorf("invalid name %q: use letters, digits and the separators . _ - between them, at most %d characters", clip(name, MaxNameLength), MaxNameLength)
	}
	return nil
}

// MaxTokenNameLength bounds token names, in bytes.
const MaxTokenNameLength = 255

// ValidTokenName checks a token name: 1 to MaxTokenNameLength bytes of
// UTF-8 without control characters (which would forge lines in logs and
// terminals) or bidirectional controls (which would make it display as
// another name).
func ValidTokenName(name string) error {
	switch {
	case name == "" || len(name) > MaxTokenNameLength:
		return fmt.Errorf("token name must have 1 to %d bytes", MaxTokenNameLength)
	case !utf8.ValidString(name):
		return errors.New("token name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }):
		return fmt.Errorf("token name %q contains a control character", clip(name, 64))
	}
	return nil
}

// ValidPassword checks the length limits of a new password.
func ValidPassword(p string) error {
	if len(p) < MinPasswordLength || len(p) > MaxPasswordLength {
		return fmt.Errorf("password must have %d to %d bytes", MinPasswordLength, MaxPasswordLength)
	}
	return nil
}

// NewToken creates a token for t.Owner (t.Kind, t.Name, t.Scopes,
// t.PackageTypes and t.Expires as given, validated and normalized) and
// returns it with its secret, which is not stored and cannot be shown
// again.
func (s *Service) NewToken(ctx context.Context, t metadata.Token) (string, metadata.Token, error) {
	if err := ValidTokenName(t.Name); err != nil {
		return "", metadata.Token{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	scopes, err := NormalizeScopes(t.Scopes)
	if err != nil {
		return "", metadata.Token{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	t.Scopes = scopes
	switch t.Kind {
	case metadata.TokenPersonal:
		t.PackageTypes = nil
	case metadata.TokenDeploy:
		if scopeActions(scopes)&actDelete != 0 || len(scopes) != 1 {
			return "", metadata.Token{}, fmt.Errorf("%w: a deploy token has exactly one scope, read:packages or write:packages", ErrInvalidRequest)
		}
		if t.PackageTypes, err = NormalizePackageTypes(t.PackageTypes); err != nil {
			return "", metadata.Token{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
	default:
		return "", metadata.Token{}, fmt.Errorf("%w: unknown token kind", ErrInvalidRequest)
	}
	if !t.Expires.IsZero() && !t.Expires.After(s.now()) {
		return "", metadata.Token{}, fmt.Errorf("%w: the expiry is in the past", ErrInvalidRequest)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", metadata.Token{}, err
	}
	t.ID, t.Hash, t.LastEight = 0, HashSecret(secret), secret[len(secret)-8:]
	t.Created, t.LastUsed = s.now(), time.Time{}
	t, err = s.id.CreateToken(ctx, t)
	if err != nil {
		return "", metadata.Token{}, err
	}
	return secret, t, nil
}

// ErrInvalidRequest marks a management request that is invalid (400).
var ErrInvalidRequest = errors.New("invalid request")

// AdminName is the site admin Bootstrap creates.
const AdminName = "admin"

// Bootstrap creates the site admin AdminName with password when no
// account of that name exists, and reports whether it did. The server
// calls it at start when REGKIT_ADMIN_PASSWORD is set. The admin is
// public, as Gitea creates users (DEFAULT_USER_VISIBILITY), so anonymous
// pulls of what it publishes work as there; an existing admin keeps its
// visibility.
func (s *Service) Bootstrap(ctx context.Context, password string) (bool, error) {
	if _, err := s.id.GetAccount(ctx, AdminName); err == nil {
		return false, nil
	} else if !errors.Is(err, metadata.ErrNotFound) {
		return false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	hash, err := s.HashPassword(ctx, password)
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	_, err = s.id.CreateAccount(ctx, metadata.Account{Name: AdminName, Type: metadata.AccountUser,
		Visibility: metadata.VisibilityPublic, PasswordHash: hash, SiteAdmin: true})
	if errors.Is(err, metadata.ErrExists) {
		return false, nil // another replica was first
	}
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	return true, nil
}

// ManageTokens decides whether p may manage the tokens of kind owned by
// owner: personal tokens by their user, deploy tokens by the owning user
// or an admin of the owning organization, and anything by a site admin —
// always with a password login (tokens never manage tokens). It returns
// nil, ErrUnauthenticated or ErrDenied, whose message does not name owner.
func (s *Service) ManageTokens(ctx context.Context, p Principal, owner metadata.Account, kind metadata.TokenKind) error {
	if !p.Authenticated() {
		return ErrUnauthenticated
	}
	if p.Method != MethodPassword {
		return fmt.Errorf("%w: managing tokens needs a password login, not a token", ErrDenied)
	}
	if p.User.SiteAdmin || metadata.NameKey(p.User.Name) == metadata.NameKey(owner.Name) {
		return nil
	}
	if kind == metadata.TokenDeploy && owner.Type == metadata.AccountOrganization {
		m, err := s.id.GetMember(ctx, owner.Name, p.User.Name)
		if err == nil && m.Role == metadata.RoleAdmin {
			return nil
		}
		if err != nil && !errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("auth: membership lookup: %w", err)
		}
	}
	return fmt.Errorf("%w: %s may not manage these tokens", ErrDenied, p)
}

// RequireSiteAdmin returns nil for a site admin's password login,
// ErrUnauthenticated for anonymous, ErrDenied otherwise.
func (s *Service) RequireSiteAdmin(p Principal) error {
	switch {
	case !p.Authenticated():
		return ErrUnauthenticated
	case p.Method == MethodPassword && p.User.SiteAdmin:
		return nil
	}
	return fmt.Errorf("%w: site admins only (with a password login)", ErrDenied)
}

// RequirePassword returns nil for any password login, ErrUnauthenticated
// for anonymous, ErrDenied for tokens.
func (s *Service) RequirePassword(p Principal) error {
	switch {
	case !p.Authenticated():
		return ErrUnauthenticated
	case p.Method == MethodPassword:
		return nil
	}
	return fmt.Errorf("%w: this needs a password login, not a token", ErrDenied)
}

// ManageOrg decides whether p may manage organization org (members,
// settings): its admins and site admins, with a password login. Its
// messages do not name org, so that they read the same for an
// organization that does not exist.
func (s *Service) ManageOrg(ctx context.Context, p Principal, org metadata.Account) error {
	if err := s.RequirePassword(p); err != nil {
		return err
	}
	if p.User.SiteAdmin {
		return nil
	}
	m, err := s.id.GetMember(ctx, org.Name, p.User.Name)
	if err == nil && m.Role == metadata.RoleAdmin {
		return nil
	}
	if err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("auth: membership lookup: %w", err)
	}
	return fmt.Errorf("%w: only the organization's admins may manage it", ErrDenied)
}
