package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The OCI bearer token is a JWT (RFC 7519) signed with HMAC-SHA256. It is
// written here with the standard library rather than a JWT library: regkit
// issues and verifies its own tokens, with exactly one algorithm, so the
// whole format is a fixed header, a claims object and one MAC. Verification
// accepts nothing else (no "none", no RSA/HMAC confusion), checks the MAC
// in constant time before decoding the claims, and bounds every size.

// Claims are the claims of a regkit OCI bearer token.
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

// maxJWTLength bounds a bearer token accepted for verification.
const maxJWTLength = 8192

// clockSkew is tolerated on nbf.
const clockSkew = 30 * time.Second

// Errors of VerifyJWT; all mean 401.
var (
	// ErrTokenMalformed: not a well-formed regkit JWT.
	ErrTokenMalformed = errors.New("auth: malformed bearer token")
	// ErrTokenSignature: the signature does not verify with any key.
	ErrTokenSignature = errors.New("auth: bearer token signature invalid")
	// ErrTokenExpired: the token expired (or is not valid yet).
	ErrTokenExpired = errors.New("auth: bearer token expired")
)

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid,omitempty"`
}

var b64url = base64.RawURLEncoding

// KeyID returns the key ID of a signing key: 8 bytes of its SHA-256 in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

func mac(key []byte, signingInput string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signingInput))
	return m.Sum(nil)
}

// SignJWT returns the compact serialization of c signed with key.
func SignJWT(key []byte, c Claims) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: "HS256", Typ: "JWT", Kid: KeyID(key)})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("auth: encode claims: %w", err)
	}
	in := b64url.EncodeToString(h) + "." + b64url.EncodeToString(p)
	return in + "." + b64url.EncodeToString(mac(key, in)), nil
}

// VerifyJWT checks tok against keys (the first is the current signing key,
// the others are still accepted, for rotation), its time claims against
// now and its issuer and audience against service, and returns its
// claims. Every failure wraps ErrTokenMalformed, ErrTokenSignature or
// ErrTokenExpired; no error includes the token.
func VerifyJWT(keys [][]byte, service string, tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(tok) > maxJWTLength || strings.Count(tok, ".") != 2 {
		return c, ErrTokenMalformed
	}
	parts := strings.SplitN(tok, ".", 3)
	hb, err := b64url.DecodeString(parts[0])
	if err != nil {
		return c, ErrTokenMalformed
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "HS256" || (h.Typ != "" && h.Typ != "JWT") {
		return c, ErrTokenMalformed
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil || len(sig) != sha256.Size {
		return c, ErrTokenMalformed
	}
	in := parts[0] + "." + parts[1]
	ok := false
	for _, k := range keys {
		if h.Kid != "" && h.Kid != KeyID(k) {
			continue
		}
		if hmac.Equal(sig, mac(k, in)) {
			ok = true
			break
		}
	}
	if !ok {
		return c, ErrTokenSignature
	}
	pb, err := b64url.DecodeString(parts[1])
	if err != nil {
		return c, ErrTokenMalformed
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	if err := dec.Decode(&c); err != nil {
		return Claims{}, ErrTokenMalformed
	}
	if c.Issuer != service || c.Audience != service {
		return Claims{}, fmt.Errorf("%w: issued for another service", ErrTokenMalformed)
	}
	n := now.Unix()
	if c.Expires <= n {
		return Claims{}, ErrTokenExpired
	}
	if c.NotBefore > n+int64(clockSkew/time.Second) {
		return Claims{}, fmt.Errorf("%w: not valid yet", ErrTokenExpired)
	}
	return c, nil
}
