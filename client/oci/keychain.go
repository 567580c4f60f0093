package oci

import (
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
)

// WithKeychain takes the credentials for the registry from kc, for
// example authn.DefaultKeychain (docker's config.json, credential helpers
// and credsStore, podman's auth.json). A username and password (or
// docker's "auth") are used as WithBasicAuth; a registry token as
// WithBearerToken; an identity token is sent as the password with the
// user "<token>", as docker does. Options given explicitly
// (WithBasicAuth, WithBearerToken) win over the keychain. A keychain that
// fails to answer leaves the client anonymous.
func WithKeychain(kc authn.Keychain) Option { return func(c *Client) { c.keychain = kc } }

// resource is the authn.Resource of a registry host.
type resource string

func (r resource) String() string { return string(r) }
func (r resource) RegistryStr() string {
	if r == DockerHub {
		return "index.docker.io"
	}
	return string(r)
}

// applyKeychain resolves the client's keychain for its host.
func (c *Client) applyKeychain() {
	if c.keychain == nil || c.hasBasic || c.static != "" {
		return
	}
	u, err := url.Parse(c.base)
	if err != nil {
		return
	}
	a, err := c.keychain.Resolve(resource(u.Host))
	if err != nil {
		return
	}
	cfg, err := a.Authorization()
	if err != nil || cfg == nil {
		return
	}
	switch {
	case cfg.RegistryToken != "":
		c.static = cfg.RegistryToken
	case cfg.IdentityToken != "":
		c.user, c.pass, c.hasBasic = "<token>", cfg.IdentityToken, true
	case cfg.Username != "" || cfg.Password != "":
		c.user, c.pass, c.hasBasic = cfg.Username, cfg.Password, true
	}
}
