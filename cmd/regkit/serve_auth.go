package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// authConfig is the auth part of regkit serve's configuration (inline in
// serveConfig: the same flags, REGKIT_* variables and YAML keys).
type authConfig struct {
	Auth               string        `yaml:"auth"`
	AuthSigningKey     string        `yaml:"auth-signing-key"`
	AuthSigningKeyFile string        `yaml:"auth-signing-key-file"`
	AuthService        string        `yaml:"auth-service"`
	TokenExpiry        time.Duration `yaml:"token-expiry"`
	AllowQueryToken    bool          `yaml:"allow-query-token"`
	RateLimit          int           `yaml:"rate-limit"`
	RateLimitToken     int           `yaml:"rate-limit-token"`
	RateLimitWindow    time.Duration `yaml:"rate-limit-window"`
	FailedLoginLimit   int           `yaml:"failed-login-limit"`
	FailedLoginWindow  time.Duration `yaml:"failed-login-window"`
}

// adminPasswordEnv names the variable whose password bootstraps the site
// admin "admin" at start.
const adminPasswordEnv = "REGKIT_ADMIN_PASSWORD"

func defaultAuthConfig() authConfig {
	return authConfig{
		Auth:              "none",
		AuthService:       auth.DefaultService,
		TokenExpiry:       auth.DefaultTokenExpiry,
		AllowQueryToken:   true,
		RateLimitWindow:   time.Minute,
		FailedLoginLimit:  10,
		FailedLoginWindow: 5 * time.Minute,
	}
}

// addAuthFlags defines the auth flags of regkit serve on fs, bound to c.
func addAuthFlags(fs *flag.FlagSet, c *authConfig) {
	fs.StringVar(&c.Auth, "auth", c.Auth, "auth mode: none (open registry) or tokens (users, organizations, tokens; see docs/auth.md)")
	fs.StringVar(&c.AuthSigningKey, "auth-signing-key", c.AuthSigningKey, "HMAC key (32+ bytes) signing OCI bearer tokens, shared by all replicas; prefer REGKIT_AUTH_SIGNING_KEY or -auth-signing-key-file")
	fs.StringVar(&c.AuthSigningKeyFile, "auth-signing-key-file", c.AuthSigningKeyFile, "file with signing keys, one per line: the first signs, all verify (for rotation)")
	fs.StringVar(&c.AuthService, "auth-service", c.AuthService, "service name of bearer tokens and challenges")
	fs.DurationVar(&c.TokenExpiry, "token-expiry", c.TokenExpiry, "lifetime of OCI bearer tokens")
	fs.BoolVar(&c.AllowQueryToken, "allow-query-token", c.AllowQueryToken, "accept ?token=X on /api routes (as Gitea does; -allow-query-token=false turns it off)")
	fs.IntVar(&c.RateLimit, "rate-limit", c.RateLimit, "requests per client IP per -rate-limit-window (0: unlimited)")
	fs.IntVar(&c.RateLimitToken, "rate-limit-token", c.RateLimitToken, "requests per token or user per -rate-limit-window (0: unlimited)")
	fs.DurationVar(&c.RateLimitWindow, "rate-limit-window", c.RateLimitWindow, "window of the request rate limits")
	fs.IntVar(&c.FailedLoginLimit, "failed-login-limit", c.FailedLoginLimit, "failed logins per client IP per -failed-login-window before its credentials are refused (429); -1: off")
	fs.DurationVar(&c.FailedLoginWindow, "failed-login-window", c.FailedLoginWindow, "window of the failed-login limit")
}

// signingKeys reads the configured signing keys.
func (c authConfig) signingKeys() ([][]byte, error) {
	var keys [][]byte
	if c.AuthSigningKey != "" {
		keys = append(keys, []byte(c.AuthSigningKey))
	}
	if c.AuthSigningKeyFile != "" {
		b, err := os.ReadFile(c.AuthSigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("signing key file: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, []byte(line))
			}
		}
	}
	return keys, nil
}

// newAuth returns the auth service of -auth tokens (nil for -auth none)
// and bootstraps the site admin when REGKIT_ADMIN_PASSWORD is set.
func newAuth(ctx context.Context, c authConfig, meta metadata.Store, log *slog.Logger) (*auth.Service, error) {
	switch c.Auth {
	case "", "none":
		if os.Getenv(adminPasswordEnv) != "" {
			log.Warn(adminPasswordEnv + " is set but -auth is none: no admin is created")
		}
		return nil, nil
	case "tokens":
	default:
		return nil, fmt.Errorf("%w: -auth %q: use none or tokens", errUsage, c.Auth)
	}
	ident, ok := meta.(metadata.Identity)
	if !ok {
		return nil, fmt.Errorf("the metadata store %T keeps no accounts", meta)
	}
	keys, err := c.signingKeys()
	if err != nil {
		return nil, err
	}
	cfg := auth.Config{
		Identity:        ident,
		SigningKeys:     keys,
		Service:         c.AuthService,
		TokenExpiry:     c.TokenExpiry,
		AllowQueryToken: c.AllowQueryToken,
		Limits: auth.Limits{
			Window: c.RateLimitWindow, PerIP: c.RateLimit, PerToken: c.RateLimitToken,
			FailedLogins: c.FailedLoginLimit, FailedWindow: c.FailedLoginWindow,
		},
		Log: log,
	}
	if counter, ok := meta.(metadata.Counter); ok {
		cfg.Counter = counter // replicas on Redis share their limits
	}
	if cfg.Limits.FailedLogins == 0 {
		cfg.Limits.FailedLogins = -1
	}
	a, err := auth.New(cfg)
	if err != nil {
		return nil, err
	}
	if pw := os.Getenv(adminPasswordEnv); pw != "" {
		created, err := a.Bootstrap(ctx, pw)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("bootstrap of the site admin from %s", adminPasswordEnv), err)
		}
		if created {
			log.Info("created the site admin from "+adminPasswordEnv, "user", auth.AdminName)
		}
	}
	return a, nil
}
