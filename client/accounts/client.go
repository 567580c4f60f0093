// Package accounts is a Go client of regkit's account and token API under
// /api/v1 (spec/accounts; auth mode "tokens"), which follows Gitea's API
// where Gitea has the endpoint: users, organizations and members,
// personal and deploy tokens. Every URL comes from the spec/accounts route
// table, and a test fails when a row of the table has no method here.
package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	spec "github.com/regkit/regkit/spec/accounts"
	genspec "github.com/regkit/regkit/spec/generic"
)

// Error is an error answer of the API (its status and message);
// errors.Is compares statuses, so errors.Is(err, ErrNotFound) matches any
// 404.
type Error = genspec.Error

// Errors to match with errors.Is.
var (
	// ErrNotFound matches any 404 (an unknown user, organization, member
	// or token, or one the caller may not see).
	ErrNotFound = &Error{Status: http.StatusNotFound}
	// ErrUnauthorized matches any 401.
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized}
	// ErrForbidden matches any 403.
	ErrForbidden = &Error{Status: http.StatusForbidden}
	// ErrConflict matches any 409 (the name is taken; the account still
	// owns content).
	ErrConflict = &Error{Status: http.StatusConflict}
)

// The bodies of the API (spec/accounts).
type (
	// User is a user account.
	User = spec.User
	// Org is an organization.
	Org = spec.Org
	// Token is a personal or deploy token; SHA1 holds the secret once.
	Token = spec.Token
	// TokenOptions is the body of a token creation.
	TokenOptions = spec.TokenOptions
	// AccountOptions is the body of account creation and edits.
	AccountOptions = spec.AccountOptions
)

// maxAnswer bounds an answer's body.
const maxAnswer = 16 << 20

// Client talks to one server. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
	auth func(*http.Request)
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth logs in with a user name and a password (or a token as the
// password). Creating personal tokens needs a password login, as on Gitea.
func WithBasicAuth(user, pass string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.SetBasicAuth(user, pass) } }
}

// WithToken sends "Authorization: token <t>", as Gitea's API documents.
func WithToken(t string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.Header.Set("Authorization", "token "+t) } }
}

// WithHTTPClient sends requests with hc (default: http.DefaultClient).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// NewClient returns a client of the server at base, e.g.
// "http://127.0.0.1:5000" (a path prefix is kept; "https://" is assumed
// without a scheme).
func NewClient(base string, opts ...Option) *Client {
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	c := &Client{base: strings.TrimRight(base, "/"), hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c
}

// call is one request of the API: a route of the table, the values of its
// placeholders, a query and a JSON body.
type call struct {
	route spec.RouteID
	args  []string
	query url.Values
	body  any
}

// do sends cl and decodes a 2xx answer's JSON into out (when not nil);
// any other answer is an *Error.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	rt, ok := spec.Lookup(cl.route)
	if !ok {
		return fmt.Errorf("accounts: unknown route %q", cl.route)
	}
	p, err := spec.Path(cl.route, cl.args...)
	if err != nil {
		return err
	}
	target := c.base + p
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("accounts: encode the %s body: %w", cl.route, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rt.Method, target, body)
	if err != nil {
		return err
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", rt.Method, p, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", rt.Method, p, err)
	}
	if resp.StatusCode/100 != 2 {
		return genspec.DecodeError(resp.StatusCode, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", rt.Method, p, err)
	}
	return nil
}

// purge is the query of a delete that also deletes what the account owns.
func purge(on bool) url.Values {
	if !on {
		return nil
	}
	return url.Values{"purge": {"true"}}
}

// ID formats a token ID for the delete methods.
func ID(id int64) string { return strconv.FormatInt(id, 10) }
