package accounts

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The JSON bodies of the API, after Gitea's (the fields regkit has). The
// server renders them and the client decodes them, so the two cannot
// drift apart.

// User is a user account (Gitea's User). Email is only shown to the user
// and to site admins; Role is set in member lists.
type User struct {
	ID         int64  `json:"id"`
	Login      string `json:"login"`
	Username   string `json:"username"`
	FullName   string `json:"full_name"`
	Email      string `json:"email"`
	IsAdmin    bool   `json:"is_admin"`
	Visibility string `json:"visibility"`
	Created    string `json:"created"`
	Role       string `json:"role,omitempty"`
}

// Org is an organization (Gitea's Organization).
type Org struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Username   string `json:"username"`
	FullName   string `json:"full_name"`
	Visibility string `json:"visibility"`
}

// Token is a personal or deploy token (Gitea's AccessToken). SHA1 holds
// the secret once, in the answer to its creation, and is empty in lists.
type Token struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	SHA1           string   `json:"sha1"`
	TokenLastEight string   `json:"token_last_eight"`
	Scopes         []string `json:"scopes"`
	Owner          string   `json:"owner,omitempty"`
	PackageTypes   []string `json:"package_types,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	LastUsedAt     string   `json:"last_used_at,omitempty"`
	ExpiresAt      string   `json:"expires_at,omitempty"`
}

// TokenOptions is the body of a token creation (Gitea's
// CreateAccessTokenOption; PackageTypes and ExpiresAt are regkit's).
type TokenOptions struct {
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	PackageTypes []string   `json:"package_types,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
}

// AccountOptions is the body of user and organization creation and edits
// (Gitea's CreateUserOption, EditUserOption, CreateOrgOption): nil fields
// are left as they are.
type AccountOptions struct {
	Username   string  `json:"username,omitempty"`
	Name       string  `json:"name,omitempty"`
	Password   *string `json:"password,omitempty"`
	Email      *string `json:"email,omitempty"`
	FullName   *string `json:"full_name,omitempty"`
	Visibility *string `json:"visibility,omitempty"`
	Admin      *bool   `json:"admin,omitempty"`
}

// MemberOptions is the body of setting a member's role (read, write or
// admin; read when nil).
type MemberOptions struct {
	Role *string `json:"role,omitempty"`
}

// Path returns the path of route id with its placeholders filled, in
// order, by args (each path-escaped).
func Path(id RouteID, args ...string) (string, error) {
	r, ok := Lookup(id)
	if !ok {
		return "", fmt.Errorf("accounts: unknown route %q", id)
	}
	var b strings.Builder
	rest, n := r.Path, 0
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("accounts: route %s: unclosed placeholder in %q", id, r.Path)
		}
		if n >= len(args) {
			return "", fmt.Errorf("accounts: route %s (%s) needs %s", id, r.Path, rest[i:i+j+1])
		}
		if args[n] == "" {
			return "", fmt.Errorf("accounts: route %s: %s is empty", id, rest[i:i+j+1])
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(args[n]))
		n++
		rest = rest[i+j+1:]
	}
	if n != len(args) {
		return "", fmt.Errorf("accounts: route %s (%s) takes %d arguments, not %d", id, r.Path, n, len(args))
	}
	return b.String(), nil
}
