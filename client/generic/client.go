package generic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/regkit/regkit/client/oci"
	genspec "github.com/regkit/regkit/spec/generic"
)

// Error is an error response of either API (spec/generic's *Error).
// errors.Is compares statuses.
type Error = genspec.Error

// Errors to match with errors.Is.
var (
	// ErrNotFound matches any 404: unknown owner, package, version or file.
	ErrNotFound = &Error{Status: http.StatusNotFound}
	// ErrUnauthorized matches any 401.
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized}
	// ErrForbidden matches any 403: no permission, or a size limit or quota.
	ErrForbidden = &Error{Status: http.StatusForbidden}
	// ErrConflict matches any 409: the file exists already.
	ErrConflict = &Error{Status: http.StatusConflict}
	// ErrIntegrity is returned when downloaded bytes do not match the
	// file's sha256 or size.
	ErrIntegrity = errors.New("downloaded content does not match its checksum")
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "regkit-client/1"

// Client talks to one server. It is safe for concurrent use.
type Client struct {
	base      string
	hc        *http.Client
	auth      func(*http.Request)
	userAgent string
	retry     oci.RetryPolicy
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth sends HTTP Basic credentials (a password or a token as the
// password).
func WithBasicAuth(user, pass string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.SetBasicAuth(user, pass) } }
}

// WithToken sends "Authorization: token <t>", as Gitea's API documents.
func WithToken(t string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.Header.Set("Authorization", "token "+t) } }
}

// WithHTTPClient sends requests with hc.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetry sets the retry policy (oci.DefaultRetryPolicy unless set).
func WithRetry(p oci.RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// NewClient returns a client for the server at base, e.g.
// "http://127.0.0.1:5000" or "https://gitea.example" (a path prefix is
// kept).
func NewClient(base string, opts ...Option) *Client {
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	c := &Client{base: strings.TrimRight(base, "/"), userAgent: DefaultUserAgent, retry: oci.DefaultRetryPolicy}
	for _, o := range opts {
		o(c)
	}
	hc := http.Client{}
	if c.hc != nil {
		hc = *c.hc
	}
	if c.retry.Attempts > 0 {
		hc.Transport = oci.NewRetryTransport(hc.Transport, c.retry)
	}
	c.hc = &hc
	return c
}

// Base returns the server's base URL.
func (c *Client) Base() string { return c.base }

// call is one request.
type call struct {
	req    genspec.Request
	url    string // instead of req.URL(base): an upload session's Location
	header http.Header
	body   io.Reader // an io.Seeker can be retried
	size   int64
}

// do sends cl and returns the response when its status is one of ok
// (any 2xx when empty); otherwise the decoded *Error, with the response
// (its body closed) so that headers can be read.
func (c *Client) do(ctx context.Context, cl call, ok ...int) (*http.Response, error) {
	target := cl.url
	if target == "" {
		if err := cl.req.Validate(); err != nil {
			return nil, err
		}
		target = cl.req.URL(c.base)
	}
	var body io.Reader
	if cl.body != nil {
		body = io.NopCloser(cl.body)
	}
	hr, err := http.NewRequestWithContext(ctx, cl.req.Method, target, body)
	if err != nil {
		return nil, err
	}
	if cl.body != nil {
		hr.ContentLength = cl.size
		if cl.size == 0 {
			hr.Body = http.NoBody
		} else if s, ok := cl.body.(io.Seeker); ok {
			if start, err := s.Seek(0, io.SeekCurrent); err == nil {
				b := cl.body
				hr.GetBody = func() (io.ReadCloser, error) {
					if _, err := s.Seek(start, io.SeekStart); err != nil {
						return nil, err
					}
					return io.NopCloser(b), nil
				}
			}
		}
	}
	for k, vs := range cl.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", c.userAgent)
	if c.auth != nil {
		c.auth(hr)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	if statusOK(resp.StatusCode, ok) {
		return resp, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 400 {
		return resp, genspec.Errorf(resp.StatusCode, "%s %s: unexpected status %d", cl.req.Method, cl.req.Route, resp.StatusCode)
	}
	return resp, genspec.DecodeError(resp.StatusCode, b)
}

func statusOK(status int, ok []int) bool {
	if len(ok) == 0 {
		return status >= 200 && status < 300
	}
	for _, s := range ok {
		if s == status {
			return true
		}
	}
	return false
}

// getJSON sends a GET of req and decodes the body into v.
func (c *Client) getJSON(ctx context.Context, req genspec.Request, v any) (*http.Response, error) {
	resp, err := c.do(ctx, call{req: req, header: http.Header{"Accept": {"application/json"}}}, http.StatusOK)
	if err != nil {
		return resp, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return resp, fmt.Errorf("%s: invalid response: %w", req.Route, err)
	}
	return resp, nil
}

func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}
