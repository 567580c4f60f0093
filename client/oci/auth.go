package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// authMode is what the client learned about the registry's authentication.
type authMode int

const (
	authUnknown authMode = iota // nothing learned yet
	authNone                    // GET /v2/ answered without a challenge
	authBasic                   // the registry asked for HTTP Basic
	authBearer                  // the registry asked for a Bearer token
)

// authState holds what the client learned: the mode, the token realm and
// service, and tokens cached per scope.
type authState struct {
	mu      sync.Mutex
	mode    authMode
	realm   string
	service string
	tokens  map[string]token
}

type token struct {
	value   string
	expires time.Time
}

func newAuthState() *authState { return &authState{tokens: map[string]token{}} }

// scopeOf returns the token scope a request needs, as Distribution's
// token protocol names it.
func scopeOf(r ocispec.Request) string {
	switch r.Route {
	case ocispec.RouteBase, ocispec.RouteToken:
		return ""
	case ocispec.RouteCatalog:
		return "registry:catalog:*"
	}
	var s string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s = "repository:" + r.Name + ":pull"
	case http.MethodDelete:
		s = "repository:" + r.Name + ":delete"
	default:
		s = "repository:" + r.Name + ":pull,push"
	}
	if r.Route == ocispec.RouteBlobMount && r.From != "" && r.From != r.Name {
		s += " repository:" + r.From + ":pull"
	}
	return s
}

// cached returns a valid cached token for scope. For a pull scope, a
// token granted for pull and push does too.
func (a *authState) cached(scope string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if t, ok := a.tokens[scope]; ok && now.Before(t.expires) {
		return t.value, true
	}
	if base, ok := strings.CutSuffix(scope, ":pull"); ok && !strings.Contains(scope, " ") {
		if t, ok := a.tokens[base+":pull,push"]; ok && now.Before(t.expires) {
			return t.value, true
		}
	}
	return "", false
}

// authorize sets the Authorization header of hr for scope.
func (c *Client) authorize(hr *http.Request, scope string) {
	if c.static != "" {
		hr.Header.Set("Authorization", "Bearer "+c.static)
		return
	}
	if t, ok := c.auth.cached(scope); ok {
		hr.Header.Set("Authorization", "Bearer "+t)
		return
	}
	c.auth.mu.Lock()
	basic := c.auth.mode == authBasic
	c.auth.mu.Unlock()
	if basic && c.hasBasic {
		hr.SetBasicAuth(c.user, c.pass)
	}
}

// parseChallenges parses WWW-Authenticate values; a syntax error keeps
// the challenges before it (a registry's malformed second challenge does
// not hide a usable first one).
func parseChallenges(values []string) []ocispec.Challenge {
	chs, _ := ocispec.ParseChallenges(values)
	return chs
}

// answerChallenge reacts to a 401: it fetches a token for a Bearer
// challenge or switches to Basic for a Basic challenge. It reports whether
// the request is worth sending again.
func (c *Client) answerChallenge(ctx context.Context, values []string, scope string) (bool, error) {
	if c.static != "" {
		return false, nil
	}
	for _, ch := range parseChallenges(values) {
		switch strings.ToLower(ch.Scheme) {
		case "bearer":
			realm := ch.Params["realm"]
			if realm == "" {
				continue
			}
			c.auth.mu.Lock()
			c.auth.mode, c.auth.realm, c.auth.service = authBearer, realm, ch.Params["service"]
			c.auth.mu.Unlock()
			want := ch.Params["scope"]
			if want == "" {
				want = scope
			}
			if _, err := c.fetchToken(ctx, want, scope); err != nil {
				return false, err
			}
			return true, nil
		case "basic":
			if !c.hasBasic {
				return false, nil
			}
			c.auth.mu.Lock()
			first := c.auth.mode != authBasic
			c.auth.mode = authBasic
			c.auth.mu.Unlock()
			return first, nil
		}
	}
	return false, nil
}

// prepareAuth makes sure a request whose body cannot be sent twice goes
// out with the credentials it needs: it learns the registry's mode with a
// ping when it does not know it yet, and fetches a token for scope.
func (c *Client) prepareAuth(ctx context.Context, scope string) error {
	if c.static != "" {
		return nil
	}
	if _, ok := c.auth.cached(scope); ok {
		return nil
	}
	c.auth.mu.Lock()
	mode := c.auth.mode
	c.auth.mu.Unlock()
	if mode == authUnknown {
		resp, err := c.hc.Do(c.pingRequest(ctx))
		if err != nil {
			return err
		}
		chs := resp.Header.Values(ocispec.WWWAuthenticate)
		status := resp.StatusCode
		_ = discard(resp)
		mode = authNone
		if status == http.StatusUnauthorized {
			for _, ch := range parseChallenges(chs) {
				if ch.Is("bearer") && ch.Params["realm"] != "" {
					c.auth.mu.Lock()
					c.auth.realm, c.auth.service = ch.Params["realm"], ch.Params["service"]
					c.auth.mu.Unlock()
					mode = authBearer
					break
				}
				if ch.Is("basic") {
					mode = authBasic
				}
			}
		}
		c.auth.mu.Lock()
		c.auth.mode = mode
		c.auth.mu.Unlock()
	}
	if mode == authBearer {
		_, err := c.fetchToken(ctx, scope, scope)
		return err
	}
	return nil
}

func (c *Client) pingRequest(ctx context.Context) *http.Request {
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, request(ocispec.RouteBase, http.MethodGet, "").URL(c.base), nil)
	hr.Header.Set("User-Agent", c.userAgent)
	return hr
}

// Token returns a bearer token for scopes (e.g.
// "repository:team/app:pull,push"), sending the client's credentials. It
// asks the realm of the registry's last challenge, or the registry's own
// token endpoint (GET /v2/token, as regkit serves it) when there was none.
func (c *Client) Token(ctx context.Context, scopes ...string) (string, error) {
	scope := strings.Join(scopes, " ")
	c.auth.mu.Lock()
	realm := c.auth.realm
	c.auth.mu.Unlock()
	if realm == "" {
		realm = request(ocispec.RouteToken, http.MethodGet, "").URL(c.base)
	}
	return c.requestToken(ctx, realm, scope, scope)
}

// fetchToken gets a token for scope from the learned realm and caches it
// under scope and also under alias (the scope the client computed).
func (c *Client) fetchToken(ctx context.Context, scope, alias string) (string, error) {
	c.auth.mu.Lock()
	realm := c.auth.realm
	c.auth.mu.Unlock()
	return c.requestToken(ctx, realm, scope, alias)
}

func (c *Client) requestToken(ctx context.Context, realm, scope, alias string) (string, error) {
	u, err := url.Parse(realm)
	if err != nil {
		return "", fmt.Errorf("token realm %q: %w", realm, err)
	}
	c.auth.mu.Lock()
	service := c.auth.service
	c.auth.mu.Unlock()
	q := u.Query()
	if service != "" {
		q.Set("service", service)
	}
	for _, s := range strings.Fields(scope) {
		q.Add("scope", s)
	}
	u.RawQuery = q.Encode()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	hr.Header.Set("User-Agent", c.userAgent)
	if c.hasBasic {
		hr.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", ocispec.DecodeErrors(resp.StatusCode, body)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", fmt.Errorf("token response from %s: %w", u.Host, err)
	}
	t := tr.Token
	if t == "" {
		t = tr.AccessToken
	}
	if t == "" {
		return "", fmt.Errorf("token response from %s has no token", u.Host)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 60 * time.Second // the token specification's default
	}
	// Renew a little early, so a token does not expire in flight.
	exp := time.Now().Add(ttl - min(ttl/10, 10*time.Second))
	c.auth.mu.Lock()
	c.auth.tokens[scope] = token{t, exp}
	c.auth.tokens[alias] = token{t, exp}
	c.auth.mu.Unlock()
	return t, nil
}
