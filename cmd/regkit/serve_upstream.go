package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/server"
)

// upstreamConfig makes regkit serve a proxy: its OCI API is served by the
// Go client (client/oci.Registry) of another registry instead of its own
// metadata store and bucket, which the generic and account APIs still
// use.
type upstreamConfig struct {
	Upstream         string `yaml:"upstream"`
	UpstreamUsername string `yaml:"upstream-username"`
	UpstreamPassword string `yaml:"upstream-password"`
	UpstreamToken    string `yaml:"upstream-token"`
}

// addUpstreamFlags defines the proxy flags on fs.
func addUpstreamFlags(fs *flag.FlagSet, c *upstreamConfig) {
	fs.StringVar(&c.Upstream, "upstream", c.Upstream, "serve the OCI API (/v2) from this registry, e.g. https://registry.example, instead of the local stores: a proxy for pushes and pulls (the generic and account APIs stay local)")
	fs.StringVar(&c.UpstreamUsername, "upstream-username", c.UpstreamUsername, "user name the proxy logs in to --upstream with")
	fs.StringVar(&c.UpstreamPassword, "upstream-password", c.UpstreamPassword, "password of --upstream-username (prefer REGKIT_UPSTREAM_PASSWORD)")
	fs.StringVar(&c.UpstreamToken, "upstream-token", c.UpstreamToken, "bearer token sent to --upstream as is, instead of a user name and password")
}

// upstreamRetry is the proxy's retry policy towards --upstream.
var upstreamRetry = oci.RetryPolicy{Attempts: 2, Base: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 2 * time.Second}

// upstream returns the server options and readiness checks of the proxy:
// none without --upstream.
func (c upstreamConfig) upstream(userAgent string) ([]server.Option, []server.Check, error) {
	if c.Upstream == "" {
		return nil, nil, nil
	}
	u, err := url.Parse(c.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, nil, fmt.Errorf("%w: --upstream %q: want the registry's base URL, http(s)://host[:port]", errUsage, c.Upstream)
	}
	// Few, short retries: the proxy's own clients retry its 503s.
	opts := []oci.Option{oci.WithUserAgent(userAgent), oci.WithRetry(upstreamRetry)}
	if c.UpstreamUsername != "" || c.UpstreamPassword != "" {
		opts = append(opts, oci.WithBasicAuth(c.UpstreamUsername, c.UpstreamPassword))
	}
	if c.UpstreamToken != "" {
		opts = append(opts, oci.WithBearerToken(c.UpstreamToken))
	}
	cl := oci.NewClient(u.Scheme+"://"+u.Host, opts...)
	check := server.Check{Name: "upstream", Probe: func(ctx context.Context) error { return cl.Ping(ctx) }}
	return []server.Option{server.WithRegistry(oci.NewRegistry(cl))}, []server.Check{check}, nil
}
