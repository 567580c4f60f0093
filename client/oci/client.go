package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "regkit-client/1"

// maxErrorBody is the most of an error response body the client reads.
const maxErrorBody = 64 << 10

// Client talks to one registry. It is safe for concurrent use; create it
// with NewClient.
type Client struct {
	base      string
	hc        *http.Client
	user      string
	pass      string
	hasBasic  bool
	static    string // WithBearerToken
	userAgent string
	auth      *authState
	retry     RetryPolicy
	keychain  authn.Keychain
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc. The default
// is a client of its own whose transport keeps enough idle connections for
// concurrent use (http.DefaultTransport keeps 2 per host).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBasicAuth sets credentials: sent as HTTP Basic when the registry
// asks for Basic, and to the token realm when it asks for a Bearer token.
func WithBasicAuth(user, pass string) Option {
	return func(c *Client) { c.user, c.pass, c.hasBasic = user, pass, true }
}

// WithBearerToken sends token as "Authorization: Bearer <token>" on every
// request; no token flow is followed.
func WithBearerToken(token string) Option { return func(c *Client) { c.static = token } }

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// NewClient returns a client for the registry at base, a URL such as
// "https://registry.example" or "http://127.0.0.1:5000" (it may carry a
// path prefix; "https://" is assumed when base has no scheme).
func NewClient(base string, opts ...Option) *Client {
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	c := &Client{
		base:      strings.TrimRight(base, "/"),
		userAgent: DefaultUserAgent,
		auth:      newAuthState(),
		retry:     DefaultRetryPolicy,
	}
	for _, o := range opts {
		o(c)
	}
	c.applyKeychain()
	if c.hc == nil {
		c.hc = &http.Client{Transport: defaultTransport()}
	}
	if c.retry.Attempts > 0 {
		hc := *c.hc
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		hc.Transport = retryTransport{next: next, p: &c.retry}
		c.hc = &hc
	}
	return c
}

// defaultTransport is http.DefaultTransport with more idle connections per
// host, so concurrent callers reuse connections instead of opening new ones.
func defaultTransport() http.RoundTripper {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// Base returns the registry's base URL as the client uses it.
func (c *Client) Base() string { return c.base }

// Ping checks that the registry implements the API (GET /v2/ answers 200).
// With credentials, it also proves they are accepted: a Bearer challenge
// is answered with a token request for no particular scope.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, call{req: request(ocispec.RouteBase, http.MethodGet, "")}, http.StatusOK)
	if err != nil {
		return err
	}
	return discard(resp)
}

// request returns a Request for route, method and repository name; the
// other fields are zero (absent).
func request(route ocispec.RouteID, method, name string) ocispec.Request {
	return ocispec.Request{Route: route, Method: method, Name: name}
}

// call is one HTTP exchange.
type call struct {
	req ocispec.Request
	// url, when set, is used instead of req.URL(base): an upload's
	// Location or a Link to the next page.
	url    string
	header http.Header
	// body is sent with Content-Length size. A body that is an io.Seeker
	// can be sent again after an authentication challenge.
	body io.Reader
	size int64
	// noReplay keeps the transport from sending the body again after a
	// network error or a 5xx: the caller asks the server what arrived
	// instead (upload chunks).
	noReplay bool
	// notFound replaces the generic NOT_FOUND of a 404 without an OCI
	// body (as to every HEAD).
	notFound *ocispec.Error
}

// do sends cl, following authentication challenges, and returns the
// response when its status is one of ok (any 2xx when ok is empty).
// Otherwise it returns the decoded *ocispec.Error together with the
// response, whose body is then closed but whose headers may be read.
func (c *Client) do(ctx context.Context, cl call, ok ...int) (*http.Response, error) {
	target := cl.url
	if target == "" {
		if err := cl.req.Validate(); err != nil {
			return nil, err
		}
		target = cl.req.URL(c.base)
	}
	scope := scopeOf(cl.req)
	rewind, replayable := rewinder(cl.body)
	if !replayable {
		if err := c.prepareAuth(ctx, scope); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && rewind != nil {
			if err := rewind(); err != nil {
				return nil, err
			}
		}
		hr, err := c.newHTTPRequest(ctx, cl.req.Method, target, cl)
		if err != nil {
			return nil, err
		}
		c.authorize(hr, scope)
		resp, err := c.hc.Do(hr)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && replayable {
			retry, aerr := c.answerChallenge(ctx, resp.Header.Values(ocispec.WWWAuthenticate), scope)
			if aerr != nil {
				_ = discard(resp)
				return nil, aerr
			}
			if retry {
				_ = discard(resp)
				continue
			}
		}
		if statusOK(resp.StatusCode, ok) {
			return resp, nil
		}
		return resp, c.decodeError(resp, cl)
	}
}

func statusOK(status int, ok []int) bool {
	if len(ok) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(ok, status)
}

// decodeError reads and closes the body of a failed response.
func (c *Client) decodeError(resp *http.Response, cl call) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = discard(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return ocispec.CodeUnknown.Errorf("%s %s: unexpected status %d", cl.req.Method, cl.req.Route, resp.StatusCode).WithStatus(resp.StatusCode)
	}
	err := ocispec.DecodeErrors(resp.StatusCode, body)
	var oe *ocispec.Error
	if errors.As(err, &oe) && resp.StatusCode == http.StatusNotFound && cl.notFound != nil && oe.Code == ocispec.CodeNotFound && len(body) == 0 {
		return cl.notFound.WithStatus(http.StatusNotFound)
	}
	return err
}

func (c *Client) newHTTPRequest(ctx context.Context, method, target string, cl call) (*http.Request, error) {
	var body io.Reader
	if cl.body != nil {
		// NopCloser: the transport must not close the caller's reader
		// (an *os.File, say); it keeps WriterTo and sendfile.
		body = io.NopCloser(cl.body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if cl.body != nil {
		hr.ContentLength = cl.size
		if cl.size == 0 {
			hr.Body = http.NoBody
		} else if rewind, ok := rewinder(cl.body); ok && !cl.noReplay {
			b := cl.body
			hr.GetBody = func() (io.ReadCloser, error) {
				if err := rewind(); err != nil {
					return nil, err
				}
				return io.NopCloser(b), nil
			}
		}
	}
	for k, vs := range cl.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", c.userAgent)
	return hr, nil
}

// rewinder reports whether body can be sent again, and how to rewind it.
func rewinder(body io.Reader) (func() error, bool) {
	if body == nil {
		return nil, true
	}
	s, ok := body.(io.Seeker)
	if !ok {
		return nil, false
	}
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, false
	}
	return func() error {
		_, err := s.Seek(start, io.SeekStart)
		return err
	}, true
}

// discard drains (a little of) and closes a response body, so that the
// connection can be reused.
func discard(resp *http.Response) error {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return resp.Body.Close()
}

// resolve returns ref (a Location or Link) resolved against the URL of
// the request that resp answers.
func resolve(resp *http.Response, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("registry sent an invalid URL %q: %w", ref, err)
	}
	return resp.Request.URL.ResolveReference(u).String(), nil
}
