package metadata

import (
	"context"
	"strings"
	"time"
)

// AccountType says whether an account is a user or an organization.
type AccountType string

// Account types.
const (
	// AccountUser is a person (or robot) who can log in.
	AccountUser AccountType = "user"
	// AccountOrganization is an owner with members; it cannot log in.
	AccountOrganization AccountType = "organization"
)

// Visibility says who may read an owner's packages and images.
type Visibility string

// Visibilities.
const (
	// VisibilityPublic owners can be read by everyone, anonymous included.
	VisibilityPublic Visibility = "public"
	// VisibilityPrivate owners can be read only by the owner, members and
	// site admins.
	VisibilityPrivate Visibility = "private"
	// VisibilityLimited owners can be read by every signed-in user (as
	// Gitea's "limited"), besides those who may read private owners.
	VisibilityLimited Visibility = "limited"
)

// ReadableBy reports whether an owner of visibility v can be read by
// anyone who is not its owner, member or a site admin: everyone for
// public owners, signed-in users (signedIn) for limited ones.
func (v Visibility) ReadableBy(signedIn bool) bool {
	return v == VisibilityPublic || v == VisibilityLimited && signedIn
}

// Role is an organization member's role.
type Role string

// Roles, from least to most privileged.
const (
	// RoleRead may pull.
	RoleRead Role = "read"
	// RoleWrite may pull, push and delete.
	RoleWrite Role = "write"
	// RoleAdmin may also manage the organization's members and deploy
	// tokens.
	RoleAdmin Role = "admin"
)

// Account is a user or an organization: an owner of packages and images.
type Account struct {
	// ID is assigned by CreateAccount; unique among accounts.
	ID int64 `json:"id"`
	// Name is the login or organization name as created. Names are unique
	// case-insensitively (see NameKey).
	Name string `json:"name"`
	// Type is AccountUser or AccountOrganization.
	Type AccountType `json:"type"`
	// Visibility is VisibilityPublic, VisibilityPrivate or
	// VisibilityLimited.
	Visibility Visibility `json:"visibility"`
	// FullName is a display name.
	FullName string `json:"full_name,omitempty"`
	// Email is the user's address.
	Email string `json:"email,omitempty"`
	// PasswordHash is the user's password in a self-describing KDF
	// encoding (for example "$argon2id$..."); empty when the user cannot log
	// in with a password. Never the password itself.
	PasswordHash string `json:"password_hash,omitempty"`
	// SiteAdmin users may do anything.
	SiteAdmin bool `json:"site_admin,omitempty"`
	// Created is set by CreateAccount when zero.
	Created time.Time `json:"created"`
}

// Member is one membership of a user in an organization.
type Member struct {
	// Org is the organization's name (as stored in its account).
	Org string `json:"org"`
	// User is the member's name (as stored in its account).
	User string `json:"user"`
	// Role is the member's role.
	Role Role `json:"role"`
}

// TokenKind says whether a token is a person's or an owner's deploy token.
type TokenKind string

// Token kinds.
const (
	// TokenPersonal acts for its user, limited by its scopes.
	TokenPersonal TokenKind = "personal"
	// TokenDeploy belongs to an owner (user or organization), is limited to
	// package types and to read or write, and cannot manage tokens.
	TokenDeploy TokenKind = "deploy"
)

// Token is an access token. Only a hash of its secret is stored.
type Token struct {
	// ID is assigned by CreateToken; unique among tokens and increasing.
	ID int64 `json:"id"`
	// Hash identifies the secret: lowercase hex of its SHA-256. Unique.
	Hash string `json:"hash"`
	// Kind is TokenPersonal or TokenDeploy.
	Kind TokenKind `json:"kind"`
	// Owner is the user of a personal token, or the owner (user or
	// organization) of a deploy token, as stored in its account.
	Owner string `json:"owner"`
	// Name is unique per owner and kind (case-insensitively).
	Name string `json:"name"`
	// LastEight are the last eight characters of the secret, for display.
	LastEight string `json:"last_eight"`
	// Scopes are canonical scope names (read:packages, ...).
	Scopes []string `json:"scopes,omitempty"`
	// PackageTypes limit a deploy token to these package types
	// ("container", "generic"); empty allows all.
	PackageTypes []string `json:"package_types,omitempty"`
	// Created is set by CreateToken when zero.
	Created time.Time `json:"created"`
	// Expires is when the token stops working; zero never.
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is the last time TouchToken recorded a use; zero never.
	LastUsed time.Time `json:"last_used,omitzero"`
}

// NameKey is the case-insensitive key of an account or token name: every
// store looks names up by it.
func NameKey(name string) string { return strings.ToLower(name) }

// Identity stores accounts, memberships and tokens. It is separate from
// Store: the three metadata stores implement it on the same concrete type.
// Every method is atomic. Names are matched case-insensitively (NameKey)
// and returned as created. Errors wrap ErrNotFound, ErrExists and
// ErrConflict; implementations never log or return secrets (they only
// ever see hashes).
type Identity interface {
	// CreateAccount stores a new account and returns it with ID (and a
	// zero Created) filled in. ErrExists when the name is taken by any
	// account.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// GetAccount returns the account name, or ErrNotFound.
	GetAccount(ctx context.Context, name string) (Account, error)
	// UpdateAccount replaces the account a.Name (Visibility, FullName,
	// Email, PasswordHash, SiteAdmin); ID, Name, Type and Created stay as
	// stored. ErrNotFound when it does not exist.
	UpdateAccount(ctx context.Context, a Account) error
	// DeleteAccount removes the account, its memberships (as a user and as
	// an organization) and every token it owns. ErrNotFound when absent.
	DeleteAccount(ctx context.Context, name string) error
	// Accounts lists accounts ordered by NameKey, strictly after last (a
	// name; "" from the start), at most n (n < 0: all). more reports
	// whether accounts remain. The slice is non-nil.
	Accounts(ctx context.Context, last string, n int) (accounts []Account, more bool, err error)

	// SetMember adds user to org with role, or changes the role. ErrNotFound
	// when org is not an organization or user not a user.
	SetMember(ctx context.Context, org, user string, role Role) error
	// GetMember returns the membership, or ErrNotFound.
	GetMember(ctx context.Context, org, user string) (Member, error)
	// DeleteMember removes a membership; ErrNotFound when absent.
	DeleteMember(ctx context.Context, org, user string) error
	// Members lists the members of org ordered by user NameKey; an empty,
	// non-nil slice when none (also when org does not exist).
	Members(ctx context.Context, org string) ([]Member, error)

	// CreateToken stores t and returns it with ID (and a zero Created)
	// filled in. ErrNotFound when t.Owner does not exist (a personal token
	// needs a user); ErrExists when the hash exists or the owner has a
	// token of the same kind and name.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByHash returns the token whose Hash is hash, in one round trip,
	// or ErrNotFound. Expired tokens are returned too; callers check.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// TokenByID returns the token id, or ErrNotFound.
	TokenByID(ctx context.Context, id int64) (Token, error)
	// Tokens lists the tokens of kind owned by owner, by ID; an empty,
	// non-nil slice when none.
	Tokens(ctx context.Context, owner string, kind TokenKind) ([]Token, error)
	// DeleteToken removes token id; ErrNotFound when absent. A deleted token
	// is refused at once by every replica sharing the store.
	DeleteToken(ctx context.Context, id int64) error
	// TouchToken sets the LastUsed of token id to at when at is later than
	// the stored value. ErrNotFound when absent.
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// Counter counts events in fixed windows, for rate limiting. Stores
// shared by several replicas (Redis) implement it so that the replicas
// share their limits.
type Counter interface {
	// Hit adds n (n >= 0; 0 only reads) to the counter key and returns its
	// new value and the time left in its window. A window starts with the
	// first hit on a key with no live window and lasts window; the count
	// then starts from zero again. The store's clock measures the window.
	Hit(ctx context.Context, key string, window time.Duration, n int64) (count int64, left time.Duration, err error)
}

// IdentityVersioner is implemented by identity stores that keep an
// identity version: a number that changes, in the same transaction, with
// every write of accounts, memberships and tokens (not with TouchToken).
// A decision made from identity records read after seeing version v stays
// valid while IdentityVersion still returns v, on every replica, so one
// read of the version can stand for all of them (package auth caches
// principals and owner rights this way). Stores without a version return
// an error wrapping errors.ErrUnsupported.
type IdentityVersioner interface {
	// IdentityVersion returns the current identity version.
	IdentityVersion(ctx context.Context) (int64, error)
}
