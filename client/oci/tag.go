package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// ListOptions are the per-call knobs of TagList and Catalog. A nil
// *ListOptions lists everything.
type ListOptions struct {
	// N is the page size sent as ?n=; 0 lets the registry choose.
	N int
	// Last lists only the entries after this one (?last=).
	Last string
	// Max stops after this many entries; 0 follows every Link.
	Max int
}

// maxPages bounds how many Link pages one listing follows.
const maxPages = 100000

// TagList lists the tags of repo, in the registry's (lexical) order,
// following the Link header from page to page. An unknown repository is
// ErrNameUnknown.
func (c *Client) TagList(ctx context.Context, repo string, opts *ListOptions) ([]string, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	req := request(ocispec.RouteTags, http.MethodGet, repo)
	if o.N > 0 || o.Last != "" {
		req.Route = ocispec.RouteTagsPaged
		req.Last = o.Last
		if o.N > 0 {
			req.N = &o.N
		}
	}
	return list(ctx, c, call{req: req}, o.Max, func(body []byte) ([]string, error) {
		var tl struct {
			Tags []string `json:"tags"`
		}
		err := json.Unmarshal(body, &tl)
		return tl.Tags, err
	})
}

// Catalog lists the repositories of the registry, following the Link
// header from page to page.
func (c *Client) Catalog(ctx context.Context, opts *ListOptions) ([]string, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	req := request(ocispec.RouteCatalog, http.MethodGet, "")
	req.Last = o.Last
	if o.N > 0 {
		req.N = &o.N
	}
	return list(ctx, c, call{req: req}, o.Max, func(body []byte) ([]string, error) {
		var cl struct {
			Repositories []string `json:"repositories"`
		}
		err := json.Unmarshal(body, &cl)
		return cl.Repositories, err
	})
}

// list fetches first and the pages its Link headers lead to, decoding
// each body, until there is no next page or max entries were collected.
func list[T any](ctx context.Context, c *Client, first call, max int, decode func([]byte) ([]T, error)) ([]T, error) {
	out := []T{}
	cl := first
	seen := map[string]bool{}
	for page := 0; page < maxPages; page++ {
		resp, err := c.do(ctx, cl, http.StatusOK)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		items, err := decode(body)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid response: %w", cl.req.Route, err)
		}
		out = append(out, items...)
		if max > 0 && len(out) >= max {
			return out[:max], nil
		}
		link, ok := ocispec.ParseNextLink(resp.Header.Get(ocispec.Link))
		if !ok || len(items) == 0 {
			return out, nil
		}
		next, err := resolve(resp, link)
		if err != nil {
			return nil, err
		}
		if seen[next] {
			return nil, fmt.Errorf("%s: the registry's Link header loops back to %s", cl.req.Route, next)
		}
		seen[next] = true
		cl = call{req: cl.req, url: next}
	}
	return nil, fmt.Errorf("%s: more than %d pages", first.req.Route, maxPages)
}
