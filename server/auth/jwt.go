package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The OCI bearer token is a JWT (RFC 7519) signed with HMAC-SHA256, signed
// and verified with github.com/golang-jwt/jwt/v5. Verification accepts
// HS256 only (no "none", no RSA/HMAC confusion: the key function refuses
// every other method before a key is handed out), requires exp, iss and
// aud, and bounds the token's size before anything is decoded.

// Claims are the claims of a regkit OCI bearer token. Their JSON is the
// token's payload; Claims implements jwt.Claims over these fields, so the
// payload is the same with or without the library.
type Claims struct {
	// Issuer and Audience are the service name.
	Issuer string `json:"iss"`
	// Audience is the service name.
	Audience string `json:"aud"`
	// Subject is the user name; "" for anonymous tokens and deploy tokens.
	Subject string `json:"sub,omitempty"`
	// IssuedAt, NotBefore and Expires are Unix seconds.
	IssuedAt int64 `json:"iat"`
	// NotBefore is Unix seconds.
	NotBefore int64 `json:"nbf"`
	// Expires is Unix seconds.
	Expires int64 `json:"exp"`
	// ID is random, for logs and replay analysis.
	ID string `json:"jti"`
	// Access lists the granted scopes.
	Access []Access `json:"access"`
	// TokenID is the ID of the personal or deploy token the bearer token
	// was issued for (0 for a password login or anonymous); the token must
	// still exist on every use, so revocation is immediate.
	TokenID int64 `json:"tid,omitempty"`
	// PasswordStamp is a fingerprint of the password hash a password login
	// was checked against; a password change invalidates the token.
	PasswordStamp string `json:"pwh,omitempty"`
}

// unix returns t as a jwt.NumericDate (nil for 0, an absent claim).
func unix(t int64) (*jwt.NumericDate, error) {
	if t == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(t, 0)), nil
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return unix(c.Expires) }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return unix(c.IssuedAt) }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return unix(c.NotBefore) }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

// maxJWTLength bounds a bearer token accepted for verification.
const maxJWTLength = 8192

// clockSkew is tolerated on nbf and exp (the library's leeway applies to
// both).
const clockSkew = 30 * time.Second

// validity is the validity window of a token, Unix seconds, as VerifyJWT checks
// it (with clockSkew of tolerance on both ends; NotBefore 0: none).
type validity struct{ NotBefore, Expires int64 }

// check returns ErrTokenExpired unless now is within w.
func (w validity) check(now time.Time) error {
	if now.After(time.Unix(w.Expires, 0).Add(clockSkew)) {
		return ErrTokenExpired
	}
	if w.NotBefore != 0 && now.Add(clockSkew).Before(time.Unix(w.NotBefore, 0)) {
		return fmt.Errorf("%w: not valid yet", ErrTokenExpired)
	}
	return nil
}

// Errors of VerifyJWT; all mean 401.
var (
	// ErrTokenMalformed: not a well-formed regkit JWT.
	ErrTokenMalformed = errors.New("auth: malformed bearer token")
	// ErrTokenSignature: the signature does not verify with any key.
	ErrTokenSignature = errors.New("auth: bearer token signature invalid")
	// ErrTokenExpired: the token expired (or is not valid yet).
	ErrTokenExpired = errors.New("auth: bearer token expired")
)

// KeyID returns the key ID of a signing key: 8 bytes of its SHA-256 in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// SignJWT returns the compact serialization of c signed with key (HS256,
// with the key's KeyID as kid).
func SignJWT(key []byte, c Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, &c)
	t.Header["kid"] = KeyID(key)
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign bearer token: %w", err)
	}
	return s, nil
}

// VerifyJWT checks tok against keys (the first is the current signing key,
// the others are still accepted, for rotation), its time claims against
// now and its issuer and audience against service, and returns its
// claims. Every failure wraps ErrTokenMalformed, ErrTokenSignature or
// ErrTokenExpired; no error includes the token.
func VerifyJWT(keys [][]byte, service string, tok string, now time.Time) (Claims, error) {
	if len(tok) > maxJWTLength {
		return Claims{}, ErrTokenMalformed
	}
	var c Claims
	p := jwt.NewParser(
		jwt.WithIssuer(service), jwt.WithAudience(service), jwt.WithExpirationRequired(),
		jwt.WithLeeway(clockSkew), jwt.WithTimeFunc(func() time.Time { return now }))
	_, err := p.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 || len(t.Signature) != sha256.Size {
			return nil, ErrTokenMalformed
		}
		if typ, ok := t.Header["typ"]; ok && typ != "JWT" {
			return nil, ErrTokenMalformed
		}
		kid, _ := t.Header["kid"].(string)
		set := jwt.VerificationKeySet{}
		for _, k := range keys {
			if kid == "" || kid == KeyID(k) {
				set.Keys = append(set.Keys, k)
			}
		}
		if len(set.Keys) == 0 {
			return nil, ErrTokenSignature
		}
		return set, nil
	})
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, ErrTokenSignature), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, ErrTokenSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return Claims{}, fmt.Errorf("%w: issued for another service", ErrTokenMalformed)
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return Claims{}, fmt.Errorf("%w: not valid yet", ErrTokenExpired)
	}
	return Claims{}, ErrTokenMalformed
}
