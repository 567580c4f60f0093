// Package accounts serves regkit's account and token API under /api/v1
// (auth mode "tokens"): users, organizations and their members, personal
// and deploy tokens, and the site admins' account management, after
// Gitea's API where Gitea has the endpoint. Package server mounts it over
// its authentication middleware, which records each request's principal
// (core.AuthOf).
package accounts

import (
	"log/slog"
	"net/http"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// Config is what the account API is built over.
type Config struct {
	// Meta holds the accounts, tokens and (to refuse or purge owners that
	// still hold content) the repositories.
	Meta metadata.Store
	// Auth authorizes every request and issues tokens; required.
	Auth *auth.Service
	// Packages, when set, is the generic package store, whose packages an
	// owner's deletion checks and purges.
	Packages metadata.Packages
	// Log receives the API's audit and error logs (default slog.Default()).
	Log *slog.Logger
	// Unavailable writes the 503 (with Retry-After) of an unreachable
	// metadata store, in the path's error format.
	Unavailable func(w http.ResponseWriter, r *http.Request, err error)
}

// API is the account and token API's handler set.
type API struct {
	meta        metadata.Store
	auth        *auth.Service
	packages    metadata.Packages
	log         *slog.Logger
	unavailable func(w http.ResponseWriter, r *http.Request, err error)
}

// New returns the API over c.
func New(c Config) *API {
	a := &API{meta: c.Meta, auth: c.Auth, packages: c.Packages, log: c.Log, unavailable: c.Unavailable}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.unavailable == nil {
		a.unavailable = func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	return a
}
