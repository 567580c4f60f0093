package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/regkit/regkit/spec/oci"
)

// Request is one raw HTTP request a spec sends.
type Request struct {
	// Method is the HTTP method.
	Method string
	// URL is absolute, or relative to the Client's base URL.
	URL string
	// Header are extra request headers.
	Header http.Header
	// Body is the request body; nil sends none.
	Body []byte
	// Chunked sends Body with chunked transfer encoding and no
	// Content-Length, as a streaming client does.
	Chunked bool
	// Scopes are the token scopes the request needs
	// ("repository:<name>:pull,push"), used to pick or fetch a bearer token
	// before the registry asks.
	Scopes []string
	// NoAuth sends the request without credentials, even when the client
	// has some.
	NoAuth bool
}

// Response is a complete HTTP response: the body has been read.
type Response struct {
	// Status is the status code.
	Status int
	// Header are the response headers.
	Header http.Header
	// Body is the whole body.
	Body []byte
	// URL is the URL that answered (after redirects), to resolve relative
	// Location and Link headers against.
	URL *url.URL
}

// Resolve resolves ref (a Location or Link value) against the URL that
// answered.
func (r *Response) Resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if r.URL == nil {
		return u, nil
	}
	return r.URL.ResolveReference(u), nil
}

// Location returns the Location header resolved against the URL that
// answered; an error when it is missing or does not parse.
func (r *Response) Location() (*url.URL, error) {
	l := r.Header.Get("Location")
	if l == "" {
		return nil, errors.New("no Location header")
	}
	return r.Resolve(l)
}

// String summarises the response for failure messages.
func (r *Response) String() string {
	return fmt.Sprintf("%d %s: %s", r.Status, http.StatusText(r.Status), clip(r.Body, 512))
}

// Client sends raw HTTP to one registry, records every exchange, and
// authenticates: anonymously, with Basic credentials when the registry asks
// for them, with the Bearer token flow (a 401 with a WWW-Authenticate
// challenge, then the token endpoint with the scope, then a retry; tokens
// are cached per scope), or with a fixed token. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	hc       *http.Client
	rec      *Recorder
	maxBody  int
	username string
	password string
	token    string

	mu     sync.Mutex
	basic  bool              // the registry asked for Basic credentials
	bearer *Challenge        // the registry's last Bearer challenge
	tokens map[string]string // scope key → token
}

// NewClient returns a client for cfg.URL that records into rec.
func NewClient(cfg *Config, rec *Recorder) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("registry url: %w", err)
	}
	if base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("registry url %q: want scheme://host", cfg.URL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	if cfg.InsecureTLS {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // requested by the user
	}
	if rec == nil {
		rec = NewRecorder(0)
	}
	maxBody := cfg.MaxBody
	if maxBody <= 0 {
		maxBody = 4096
	}
	c := &Client{
		base:     base,
		rec:      rec,
		maxBody:  maxBody,
		username: cfg.Username,
		password: cfg.Password.Value(),
		token:    cfg.Token.Value(),
		tokens:   map[string]string{},
	}
	c.hc = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if prev := req.Response; prev != nil {
				c.rec.Add(Exchange{
					Time:           time.Now(),
					Method:         prev.Request.Method,
					URL:            prev.Request.URL.String(),
					RequestHeader:  redactHeader(prev.Request.Header),
					Status:         prev.StatusCode,
					ResponseHeader: redactHeader(prev.Header),
					Note:           "redirect followed",
				})
			}
			return nil
		},
	}
	return c, nil
}

// Base returns the registry's base URL.
func (c *Client) Base() *url.URL { u := *c.base; return &u }

// Recorder returns the recorder the client writes to.
func (c *Client) Recorder() *Recorder { return c.rec }

// HasCredentials reports whether the client was given any credentials.
func (c *Client) HasCredentials() bool { return c.username != "" || c.token != "" }

// Do sends req, authenticating as needed, and returns the complete
// response. A non-2xx status is not an error; a transport failure is.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	u, err := c.base.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("request url %q: %w", req.URL, err)
	}
	key := scopeKey(req.Scopes)
	resp, err := c.send(ctx, req, u, c.authorization(req, key), "")
	if err != nil || resp.Status != http.StatusUnauthorized || req.NoAuth {
		return resp, err
	}
	ch, ok := ParseChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return resp, nil
	}
	switch strings.ToLower(ch.Scheme) {
	case "basic":
		if c.username == "" {
			return resp, nil
		}
		c.mu.Lock()
		c.basic = true
		c.mu.Unlock()
	case "bearer":
		if c.token != "" {
			return resp, nil // a fixed token was refused; nothing else to try
		}
		scopes := req.Scopes
		if s := ch.Params["scope"]; s != "" {
			scopes = mergeScopes(scopes, strings.Fields(s))
		}
		tok, err := c.fetchToken(ctx, ch, scopes)
		if err != nil {
			return resp, fmt.Errorf("bearer token for %v: %w", scopes, err)
		}
		c.mu.Lock()
		c.bearer = &ch
		c.tokens[key] = tok
		c.tokens[scopeKey(scopes)] = tok
		c.mu.Unlock()
		// Retry with this token even when the request named no scope
		// (GET /v2/, a catalog Link), which authorization cannot look up.
		return c.send(ctx, req, u, "Bearer "+tok, "")
	default:
		return resp, nil
	}
	return c.send(ctx, req, u, c.authorization(req, key), "")
}

// authorization returns the Authorization header to send preemptively.
func (c *Client) authorization(req Request, key string) string {
	if req.NoAuth {
		return ""
	}
	if c.token != "" {
		return "Bearer " + c.token
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok, ok := c.tokens[key]; ok && key != "" {
		return "Bearer " + tok
	}
	if c.basic {
		return basicAuth(c.username, c.password)
	}
	return ""
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// send performs one request (following redirects) and records it.
func (c *Client) send(ctx context.Context, req Request, u *url.URL, auth, note string) (*Response, error) {
	var body io.Reader = http.NoBody
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		hr.Header[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
	if req.Body != nil {
		hr.ContentLength = int64(len(req.Body))
		if req.Chunked {
			hr.ContentLength = -1
			hr.Body = io.NopCloser(bytes.NewReader(req.Body))
			hr.GetBody = nil
		}
	}
	if auth != "" {
		hr.Header.Set("Authorization", auth)
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "regkit-conformance")
	}
	ex := Exchange{
		Time:          time.Now(),
		Method:        req.Method,
		URL:           u.String(),
		RequestHeader: redactHeader(hr.Header),
		RequestBody:   clip(req.Body, c.maxBody),
		RequestSize:   int64(len(req.Body)),
		Note:          note,
	}
	if req.Chunked {
		ex.RequestHeader.Set("Transfer-Encoding", "chunked")
	}
	hresp, err := c.hc.Do(hr)
	if err != nil {
		ex.Duration = time.Since(ex.Time)
		ex.Error = err.Error()
		c.rec.Add(ex)
		return nil, err
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(hresp.Body)
	ex.Duration = time.Since(ex.Time)
	ex.Status = hresp.StatusCode
	ex.ResponseHeader = redactHeader(hresp.Header)
	ex.ResponseBody = clip(b, c.maxBody)
	ex.ResponseSize = int64(len(b))
	if err != nil {
		ex.Error = "reading body: " + err.Error()
	}
	c.rec.Add(ex)
	if err != nil {
		return nil, fmt.Errorf("reading response body: %w", err)
	}
	return &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: b, URL: hresp.Request.URL}, nil
}

// fetchToken asks the challenge's realm for a token with scopes.
func (c *Client) fetchToken(ctx context.Context, ch Challenge, scopes []string) (string, error) {
	realm := ch.Params["realm"]
	if realm == "" {
		return "", errors.New("bearer challenge has no realm")
	}
	u, err := c.base.Parse(realm)
	if err != nil {
		return "", fmt.Errorf("token realm %q: %w", realm, err)
	}
	q := u.Query()
	if s := ch.Params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	if c.username != "" {
		q.Set("account", c.username)
	}
	u.RawQuery = q.Encode()
	auth := ""
	if c.username != "" {
		auth = basicAuth(c.username, c.password)
	}
	resp, err := c.send(ctx, Request{Method: http.MethodGet}, u, auth, "token request")
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", fmt.Errorf("token endpoint answered %s", resp)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp.Body, &tr); err != nil {
		return "", fmt.Errorf("token endpoint body: %w", err)
	}
	if tr.Token == "" {
		tr.Token = tr.AccessToken
	}
	if tr.Token == "" {
		return "", errors.New("token endpoint returned no token")
	}
	return tr.Token, nil
}

// BearerChallenge returns the last Bearer challenge the registry sent, if
// any.
func (c *Client) BearerChallenge() (Challenge, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bearer == nil {
		return Challenge{}, false
	}
	return *c.bearer, true
}

func scopeKey(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(s, " ")
}

func mergeScopes(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Challenge is a parsed WWW-Authenticate challenge (spec/oci's).
type Challenge = oci.Challenge

// ParseChallenge returns the first challenge of WWW-Authenticate values
// (see oci.ParseChallenges; a syntax error after it does not hide it).
func ParseChallenge(values []string) (Challenge, bool) {
	chs, _ := oci.ParseChallenges(values)
	if len(chs) == 0 {
		return Challenge{}, false
	}
	return chs[0], true
}
