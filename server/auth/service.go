// Package auth is regkit's identity and authorization layer: accounts
// (users and organizations with members), personal and deploy tokens, the
// password KDF, the OCI bearer token (a JWT), the authorizer that decides
// what a principal may do with an owner's packages and images, and the
// rate limiter.
//
// The model, as docs/auth.md ("The model") describes it:
//
//   - An owner is a user or an organization, public or private. The owner
//     of a repository or package is the first component of its path.
//   - Everyone, anonymous included, may pull from public owners. A user
//     has every right on its own namespace; organization members have
//     their role's rights (read: pull; write and admin: pull, push,
//     delete); site admins have every right everywhere.
//   - A personal token acts for its user, limited by its scopes
//     (read:packages, write:packages which implies read, delete:packages
//     which implies read). A deploy token belongs to one owner and allows
//     pull (read:packages) or pull and push (write:packages) there, for
//     its package types only. Tokens never manage tokens or accounts:
//     that takes a password.
//   - No credentials, or invalid, expired or revoked ones, are refused
//     with 401 (ErrUnauthenticated); valid credentials without the right
//     are refused with 403 (ErrDenied).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// Authorization outcomes. Callers match them with errors.Is.
var (
	// ErrUnauthenticated: no credentials where some are needed, or invalid,
	// expired or revoked ones (401).
	ErrUnauthenticated = errors.New("auth: authentication required")
	// ErrInvalidCredentials: the credentials presented are wrong, expired
	// or revoked (401). It wraps ErrUnauthenticated.
	ErrInvalidCredentials = fmt.Errorf("%w: invalid credentials", ErrUnauthenticated)
	// ErrInsufficientScope: the bearer token does not cover the request,
	// though its subject may have the right. On /v2 the client should get
	// a new token for the scope (401 with error="insufficient_scope", as
	// the OCI token flow expects); elsewhere it is 403, since no token of
	// /v2/token covers anything but /v2. It does not wrap
	// ErrUnauthenticated: callers map it explicitly.
	ErrInsufficientScope = errors.New("auth: the bearer token does not cover this request")
	// ErrDenied: valid credentials without the needed right (403).
	ErrDenied = errors.New("auth: access denied")
)

// DefaultService is the service name of bearer tokens and challenges.
const DefaultService = "regkit"

// DefaultTokenExpiry is the lifetime of an OCI bearer token.
const DefaultTokenExpiry = 15 * time.Minute

// MinSigningKeyLength is the shortest accepted HMAC signing key.
const MinSigningKeyLength = 32

// touchEvery is how often a token's last-used time is written.
const touchEvery = time.Minute

// Config configures a Service.
type Config struct {
	// Identity stores accounts, members and tokens. Required.
	Identity metadata.Identity
	// Counter holds the rate-limit counters; nil keeps them in memory.
	// Replicas share limits when they share a Counter (Redis).
	Counter metadata.Counter
	// SigningKeys sign and verify OCI bearer tokens: the first signs, all
	// verify (for rotation). Replicas must share them. Each needs at least
	// MinSigningKeyLength bytes. Empty: a random key, valid for this
	// process only.
	SigningKeys [][]byte
	// Service is the service name (default DefaultService).
	Service string
	// TokenExpiry is the lifetime of OCI bearer tokens (default
	// DefaultTokenExpiry).
	TokenExpiry time.Duration
	// AllowQueryToken accepts ?token=X on the /api routes.
	AllowQueryToken bool
	// Limits configures rate limiting.
	Limits Limits
	// KDF is the cost of new password hashes (default DefaultKDF).
	KDF KDF
	// Log receives warnings (never secrets); default slog.Default().
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service authenticates and authorizes requests. It is safe for
// concurrent use and keeps no state that replicas must share besides
// what its Identity and Counter hold.
type Service struct {
	id      metadata.Identity
	counter metadata.Counter
	keys    [][]byte
	service string
	expiry  time.Duration
	query   bool
	limits  Limits
	kdf     KDF
	log     *slog.Logger
	now     func() time.Time
	kdfSem  chan struct{}
	dummy   string // a password hash to verify against for unknown users
	cache   decisionCache
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Identity == nil {
		return nil, errors.New("auth: no identity store")
	}
	s := &Service{
		id:      cfg.Identity,
		counter: cfg.Counter,
		keys:    cfg.SigningKeys,
		service: cfg.Service,
		expiry:  cfg.TokenExpiry,
		query:   cfg.AllowQueryToken,
		limits:  cfg.Limits.withDefaults(),
		kdf:     cfg.KDF,
		log:     cfg.Log,
		now:     cfg.Now,
		kdfSem:  make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}
	if s.counter == nil {
		s.counter = NewMemoryCounter()
	}
	if s.service == "" {
		s.service = DefaultService
	}
	if s.expiry <= 0 {
		s.expiry = DefaultTokenExpiry
	}
	if s.kdf.Time == 0 || s.kdf.Memory == 0 || s.kdf.Threads == 0 {
		s.kdf = DefaultKDF
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, k := range s.keys {
		if len(k) < MinSigningKeyLength {
			return nil, fmt.Errorf("auth: signing key %d is %d bytes; at least %d are needed", i+1, len(k), MinSigningKeyLength)
		}
	}
	if len(s.keys) == 0 {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("auth: signing key: %w", err)
		}
		s.keys = [][]byte{k}
		s.log.Warn("no signing key configured: bearer tokens are signed with a random key valid for this process only (replicas will not accept each other's tokens)")
	}
	dummy, err := HashPassword("regkit-dummy-password", s.kdf)
	if err != nil {
		return nil, err
	}
	s.dummy = dummy
	return s, nil
}

// Service returns the service name.
func (s *Service) Service() string { return s.service }

// AllowQueryToken reports whether ?token= is accepted on /api routes.
func (s *Service) AllowQueryToken() bool { return s.query }

// TokenExpiry returns the lifetime of bearer tokens.
func (s *Service) TokenExpiry() time.Duration { return s.expiry }

// Identity returns the identity store.
func (s *Service) Identity() metadata.Identity { return s.id }

// Method is how a principal authenticated.
type Method int

// Methods.
const (
	// MethodAnonymous: no credentials.
	MethodAnonymous Method = iota
	// MethodPassword: Basic with the account password.
	MethodPassword
	// MethodToken: a personal or deploy token.
	MethodToken
	// MethodBearer: an OCI bearer token from the token endpoint.
	MethodBearer
)

// Principal is who a request acts for.
type Principal struct {
	// Method is how it authenticated.
	Method Method
	// User is the acting user; nil when anonymous and for deploy tokens.
	User *metadata.Account
	// Token is the personal or deploy token used, directly or behind a
	// bearer token; nil otherwise.
	Token *metadata.Token
	// Access is what a bearer token grants (MethodBearer only).
	Access []Access
	// stamp is the password fingerprint of a password login.
	stamp string
	// bearerWindow is when a bearer token is valid (MethodBearer only).
	bearerWindow validity
	// ver is the identity version read before the principal's records,
	// when versioned (see cache.go).
	ver       int64
	versioned bool
}

// Authenticated reports whether the principal presented valid
// credentials of a user or token.
func (p Principal) Authenticated() bool { return p.User != nil || p.Token != nil }

// SiteAdmin reports whether the principal's user is a site admin. A site
// admin's tokens stay limited by their scopes, and administration
// (RequireSiteAdmin) needs a password login.
func (p Principal) SiteAdmin() bool { return p.User != nil && p.User.SiteAdmin }

// String names the principal for logs; it contains no secret.
func (p Principal) String() string {
	switch {
	case p.Token != nil && p.Token.Kind == metadata.TokenDeploy:
		return "deploy token " + strconv.FormatInt(p.Token.ID, 10) + " of " + p.Token.Owner
	case p.Token != nil:
		return "token " + strconv.FormatInt(p.Token.ID, 10) + " of " + p.Token.Owner
	case p.User != nil:
		return "user " + p.User.Name
	}
	return "anonymous"
}

// rateKey is the per-credential rate-limit key ("" for anonymous).
func (p Principal) rateKey() string {
	switch {
	case p.Token != nil:
		return "tok:" + strconv.FormatInt(p.Token.ID, 10)
	case p.User != nil:
		return "user:" + metadata.NameKey(p.User.Name)
	}
	return ""
}

// Authenticate verifies credentials and returns their principal;
// NoCredentials gives the anonymous principal. Wrong, expired or revoked
// credentials give an error wrapping ErrInvalidCredentials; other errors
// are internal. No error includes a secret.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	switch c.Kind {
	case NoCredentials:
		return Principal{}, nil
	case BasicCredentials:
		if c.Password == "" {
			return s.tokenPrincipal(ctx, c.Token)
		}
		if LooksLikeSecret(c.Password) {
			p, err := s.tokenPrincipal(ctx, c.Password)
			if !errors.Is(err, ErrInvalidCredentials) {
				return p, err
			}
		}
		return s.passwordPrincipal(ctx, c.Username, c.Password)
	case BearerCredentials, TokenCredentials:
		if len(c.Token) > SecretLength && countDots(c.Token) == 2 {
			return s.bearerPrincipal(ctx, c.Token)
		}
		return s.tokenPrincipal(ctx, c.Token)
	}
	return Principal{}, ErrInvalidCredentials
}

func countDots(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			n++
		}
	}
	return n
}

func (s *Service) expired(t metadata.Token) bool {
	return !t.Expires.IsZero() && !s.now().Before(t.Expires)
}

// tokenPrincipal looks a token secret up by its hash.
func (s *Service) tokenPrincipal(ctx context.Context, secret string) (Principal, error) {
	if !LooksLikeSecret(secret) {
		return Principal{}, fmt.Errorf("%w: not a token", ErrInvalidCredentials)
	}
	hash := HashSecret(secret)
	ver, vok, err := s.version(ctx)
	if err != nil {
		return Principal{}, err
	}
	key := credentialKey("t", hash)
	if vok {
		if p, ok := s.cache.principal(ver, key); ok {
			if s.expired(*p.Token) {
				return Principal{}, fmt.Errorf("%w: token %d expired", ErrInvalidCredentials, p.Token.ID)
			}
			s.touch(ctx, p.Token, ver, key, p)
			return p, nil
		}
	}
	t, err := s.id.TokenByHash(ctx, hash)
	if errors.Is(err, metadata.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown or revoked token", ErrInvalidCredentials)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: token lookup: %w", err)
	}
	if !constantTimeEqual(t.Hash, hash) {
		return Principal{}, fmt.Errorf("%w: unknown token", ErrInvalidCredentials)
	}
	p, err := s.principalOfToken(ctx, t)
	if err != nil {
		return Principal{}, err
	}
	p.Method = MethodToken
	p.ver, p.versioned = ver, vok
	if vok {
		s.cache.putPrincipal(ver, key, p)
	}
	s.touch(ctx, &t, ver, key, p)
	return p, nil
}

// touch records the use of token t (at most every touchEvery), and
// updates the cached principal p under key with the new time.
func (s *Service) touch(ctx context.Context, t *metadata.Token, ver int64, key string, p Principal) {
	now := s.now()
	if now.Sub(t.LastUsed) <= touchEvery {
		return
	}
	if err := s.id.TouchToken(ctx, t.ID, now); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		s.log.DebugContext(ctx, "recording token use failed", "token_id", t.ID, "err", err)
		return
	}
	if p.versioned && p.Token != nil {
		p.Token.LastUsed = now
		s.cache.putPrincipal(ver, key, p)
	}
}

// principalOfToken checks a stored token and returns its principal.
func (s *Service) principalOfToken(ctx context.Context, t metadata.Token) (Principal, error) {
	if s.expired(t) {
		return Principal{}, fmt.Errorf("%w: token %d expired", ErrInvalidCredentials, t.ID)
	}
	p := Principal{Token: &t}
	if t.Kind == metadata.TokenPersonal {
		u, err := s.id.GetAccount(ctx, t.Owner)
		if errors.Is(err, metadata.ErrNotFound) {
			return Principal{}, fmt.Errorf("%w: the token's user is gone", ErrInvalidCredentials)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("auth: token user: %w", err)
		}
		p.User = &u
	}
	return p, nil
}

func passwordStamp(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:8])
}

// passwordPrincipal checks a user's password.
func (s *Service) passwordPrincipal(ctx context.Context, name, password string) (Principal, error) {
	u, err := s.id.GetAccount(ctx, name)
	if err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return Principal{}, fmt.Errorf("auth: account lookup: %w", err)
	}
	hash := u.PasswordHash
	usable := err == nil && u.Type == metadata.AccountUser && hash != ""
	if !usable {
		hash = s.dummy // spend the same time whether or not the user exists
	}
	ok, verr := s.verify(ctx, hash, password)
	if verr != nil && !errors.Is(verr, ErrBadHash) {
		return Principal{}, verr
	}
	if verr != nil {
		s.log.WarnContext(ctx, "stored password hash is malformed", "user", u.Name)
	}
	if !usable || !ok {
		return Principal{}, fmt.Errorf("%w: wrong user name or password", ErrInvalidCredentials)
	}
	return Principal{Method: MethodPassword, User: &u, stamp: passwordStamp(u.PasswordHash)}, nil
}

// verify runs the KDF, at most a few at a time.
func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case s.kdfSem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.kdfSem }()
	return VerifyPassword(hash, password)
}

// HashPassword hashes a new password with the service's KDF, at most a
// few at a time. It checks the length limits first.
func (s *Service) HashPassword(ctx context.Context, password string) (string, error) {
	if err := ValidPassword(password); err != nil {
		return "", err
	}
	select {
	case s.kdfSem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.kdfSem }()
	return HashPassword(password, s.kdf)
}

// bearerPrincipal verifies an OCI bearer token and re-checks what it was
// issued for, so that revoked tokens, deleted users and changed passwords
// take effect at once.
func (s *Service) bearerPrincipal(ctx context.Context, tok string) (Principal, error) {
	if len(tok) > maxJWTLength {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, ErrTokenMalformed)
	}
	ver, vok, err := s.version(ctx)
	if err != nil {
		return Principal{}, err
	}
	key := credentialKey("b", tok)
	if vok {
		// The same token string was verified (signature, issuer, audience)
		// under this identity version: only its validity window and its
		// token's expiry are checked again, which saves parsing the JWT
		// (the most expensive step of an authenticated manifest GET).
		if p, ok := s.cache.principal(ver, key); ok {
			if err := p.bearerWindow.check(s.now()); err != nil {
				return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
			}
			if p.Token != nil && s.expired(*p.Token) {
				return Principal{}, fmt.Errorf("%w: token %d expired", ErrInvalidCredentials, p.Token.ID)
			}
			return p, nil
		}
	}
	c, err := VerifyJWT(s.keys, s.service, tok, s.now())
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	var p Principal
	switch {
	case c.TokenID != 0:
		t, err := s.id.TokenByID(ctx, c.TokenID)
		if errors.Is(err, metadata.ErrNotFound) {
			return Principal{}, fmt.Errorf("%w: the token behind the bearer token was revoked", ErrInvalidCredentials)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("auth: token lookup: %w", err)
		}
		if p, err = s.principalOfToken(ctx, t); err != nil {
			return Principal{}, err
		}
		if p.User != nil && metadata.NameKey(p.User.Name) != metadata.NameKey(c.Subject) {
			return Principal{}, fmt.Errorf("%w: bearer token subject mismatch", ErrInvalidCredentials)
		}
	case c.Subject != "":
		u, err := s.id.GetAccount(ctx, c.Subject)
		if errors.Is(err, metadata.ErrNotFound) {
			return Principal{}, fmt.Errorf("%w: the bearer token's user is gone", ErrInvalidCredentials)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("auth: account lookup: %w", err)
		}
		if u.PasswordHash == "" || !constantTimeEqual(passwordStamp(u.PasswordHash), c.PasswordStamp) {
			return Principal{}, fmt.Errorf("%w: the password changed since the bearer token was issued", ErrInvalidCredentials)
		}
		p = Principal{User: &u, stamp: c.PasswordStamp}
	}
	p.Method = MethodBearer
	p.bearerWindow = validity{NotBefore: c.NotBefore, Expires: c.Expires}
	p.Access = c.Access
	if p.Access == nil {
		p.Access = []Access{}
	}
	p.ver, p.versioned = ver, vok
	if vok {
		s.cache.putPrincipal(ver, key, p)
	}
	return p, nil
}

// Hit counts one request of p from client IP ip against the request
// limits; it returns a *RateLimitError when one is exceeded.
func (s *Service) Hit(ctx context.Context, ip string, p Principal) error {
	l := s.limits
	if l.PerIP > 0 && ip != "" {
		n, left, err := s.counter.Hit(ctx, "ip:"+ip, l.Window, 1)
		if err != nil {
			return fmt.Errorf("auth: rate limit: %w", err)
		}
		if n > int64(l.PerIP) {
			return &RateLimitError{RetryAfter: left, What: "requests from this client address"}
		}
	}
	if key := p.rateKey(); l.PerToken > 0 && key != "" {
		n, left, err := s.counter.Hit(ctx, key, l.Window, 1)
		if err != nil {
			return fmt.Errorf("auth: rate limit: %w", err)
		}
		if n > int64(l.PerToken) {
			return &RateLimitError{RetryAfter: left, What: "requests with these credentials"}
		}
	}
	return nil
}

// CheckFailures refuses, with a *RateLimitError, a client IP that failed
// to authenticate too often in the current window.
func (s *Service) CheckFailures(ctx context.Context, ip string) error {
	if s.limits.FailedLogins < 0 || ip == "" {
		return nil
	}
	n, left, err := s.counter.Hit(ctx, "fail:"+ip, s.limits.FailedWindow, 0)
	if err != nil {
		return fmt.Errorf("auth: rate limit: %w", err)
	}
	if n >= int64(s.limits.FailedLogins) {
		return &RateLimitError{RetryAfter: left, What: "failed logins from this client address"}
	}
	return nil
}

// RecordFailure counts a failed authentication of client IP ip.
func (s *Service) RecordFailure(ctx context.Context, ip string) {
	if s.limits.FailedLogins < 0 || ip == "" {
		return
	}
	if _, _, err := s.counter.Hit(ctx, "fail:"+ip, s.limits.FailedWindow, 1); err != nil {
		s.log.WarnContext(ctx, "counting a failed login failed", "err", err)
	}
}

func constantTimeEqual(a, b string) bool {
	return len(a) == len(b) && hmacEqual([]byte(a), []byte(b))
}
