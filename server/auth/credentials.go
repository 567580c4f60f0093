package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// CredentialKind says how a request presented its credentials.
type CredentialKind int

// Credential kinds.
const (
	// NoCredentials: the request is anonymous.
	NoCredentials CredentialKind = iota
	// BasicCredentials: Authorization: Basic (user name and password or
	// token; an empty password means the user name is the token).
	BasicCredentials
	// BearerCredentials: Authorization: Bearer (an OCI bearer token, or a
	// personal or deploy token).
	BearerCredentials
	// TokenCredentials: Authorization: token X (Gitea), or ?token=X.
	TokenCredentials
)

// Credentials are parsed, unverified credentials. They hold secrets:
// never log or format them.
type Credentials struct {
	// Kind says which fields are set.
	Kind CredentialKind
	// Username and Password are set for Basic.
	Username string
	// Password goes with Username.
	Password string
	// Token is set for Bearer and token.
	Token string
}

// Limits on credentials, checked before anything else is done with them.
const (
	// MaxAuthorizationLength bounds the Authorization header.
	MaxAuthorizationLength = 8192
	// MaxUsernameLength bounds a Basic user name.
	MaxUsernameLength = 256
)

// ErrMalformedCredentials means the Authorization header (or ?token=)
// could not be parsed, or is too long. It never carries the value.
var ErrMalformedCredentials = errors.New("auth: malformed credentials")

// ParseAuthorization parses an Authorization header value. An empty value
// is NoCredentials; anything that is not a well-formed Basic, Bearer or
// token credential within the length limits is ErrMalformedCredentials.
func ParseAuthorization(h string) (Credentials, error) {
	if h == "" {
		return Credentials{}, nil
	}
	if len(h) > MaxAuthorizationLength {
		return Credentials{}, ErrMalformedCredentials
	}
	scheme, value, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return Credentials{}, ErrMalformedCredentials
	}
	value = strings.TrimSpace(value)
	if value == "" || strings.ContainsAny(value, " \t\r\n") {
		return Credentials{}, ErrMalformedCredentials
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(value); err != nil {
				return Credentials{}, ErrMalformedCredentials
			}
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" && pass == "" || len(user) > MaxUsernameLength || len(pass) > MaxPasswordLength ||
			!utf8.ValidString(user) || strings.ContainsAny(user, "\x00\r\n") {
			return Credentials{}, ErrMalformedCredentials
		}
		if pass == "" {
			return Credentials{Kind: BasicCredentials, Token: user, Username: user}, nil
		}
		return Credentials{Kind: BasicCredentials, Username: user, Password: pass}, nil
	case "bearer":
		return tokenCredentials(BearerCredentials, value)
	case "token":
		return tokenCredentials(TokenCredentials, value)
	}
	return Credentials{}, ErrMalformedCredentials
}

// QueryToken returns the credentials of a ?token= value.
func QueryToken(v string) (Credentials, error) {
	return tokenCredentials(TokenCredentials, v)
}

func tokenCredentials(kind CredentialKind, v string) (Credentials, error) {
	if v == "" || len(v) > maxJWTLength {
		return Credentials{}, ErrMalformedCredentials
	}
	for i := 0; i < len(v); i++ {
		// token68 of RFC 7235, which covers hex secrets and JWTs.
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return Credentials{}, ErrMalformedCredentials
		}
	}
	return Credentials{Kind: kind, Token: v}, nil
}

// Guessable reports whether c carries a password (Basic with a user name
// and password), the only credential that a failed-login lockout
// protects: token secrets and signed bearer tokens are too long to
// guess, so checking the lockout before them would only cost a round
// trip to a shared counter on every request.
func (c Credentials) Guessable() bool {
	return c.Kind == BasicCredentials && c.Password != ""
}
