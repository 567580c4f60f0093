package generic

import (
	"context"
	"net/http"
	"strconv"

	genspec "github.com/regkit/regkit/spec/generic"
)

// User is an owner or creator as the management API shows it.
type User struct {
	ID         int64  `json:"id"`
	Login      string `json:"login"`
	FullName   string `json:"full_name,omitempty"`
	Visibility string `json:"visibility,omitempty"`
}

// Repository is the repository a package is linked to.
type Repository struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	FullName string `json:"full_name"`
}

// File is one file of a package version.
type File struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	MD5       string `json:"md5"`
	SHA1      string `json:"sha1"`
	SHA256    string `json:"sha256"`
	SHA512    string `json:"sha512"`
	CreatedAt string `json:"created_at,omitempty"`
}

// Package is one version of a package.
type Package struct {
	ID            int64       `json:"id"`
	Owner         User        `json:"owner"`
	Creator       User        `json:"creator"`
	Repository    *Repository `json:"repository"`
	Type          string      `json:"type"`
	Name          string      `json:"name"`
	Version       string      `json:"version"`
	HTMLURL       string      `json:"html_url"`
	CreatedAt     string      `json:"created_at"`
	DownloadCount int64       `json:"download_count"`
	// SemVer and LatestRule are regkit's: whether the package takes only
	// SemVer versions, and which rule chose the latest version.
	SemVer     bool   `json:"semver_compatible,omitempty"`
	LatestRule string `json:"latest_rule,omitempty"`
	Files      []File `json:"files,omitempty"`
}

// ListOptions filter and page a listing. A nil *ListOptions lists every
// page.
type ListOptions struct {
	// Type keeps one package type ("generic", "container", ...).
	Type string
	// Q keeps names containing this (case-insensitive).
	Q string
	// Page fetches only this page (from 1); 0 fetches every page.
	Page int
	// Limit is the page size (the server caps it; 0: the server's).
	Limit int
}

// maxPages bounds how many pages one listing follows.
const maxPages = 10000

// List lists the package versions of owner, newest first.
func (c *Client) List(ctx context.Context, owner string, opts *ListOptions) ([]Package, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	req := genspec.Request{Route: genspec.RouteList, Method: http.MethodGet, Owner: owner, PackageType: o.Type, Q: o.Q, Page: o.Page, Limit: o.Limit}
	return c.pages(ctx, req, o.Page == 0)
}

// Versions lists the versions of package name (of type typ, "generic"
// when ""), newest first.
func (c *Client) Versions(ctx context.Context, owner, typ, name string, opts *ListOptions) ([]Package, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	req := genspec.Request{Route: genspec.RouteVersions, Method: http.MethodGet, Owner: owner, Type: typeOr(typ), Name: name, Page: o.Page, Limit: o.Limit}
	return c.pages(ctx, req, o.Page == 0)
}

func typeOr(t string) string {
	if t == "" {
		return genspec.TypeGeneric
	}
	return t
}

// pages fetches req's page and, when all, the following ones (by
// X-Total-Count, or until a short page).
func (c *Client) pages(ctx context.Context, req genspec.Request, all bool) ([]Package, error) {
	out := []Package{}
	if req.Page == 0 {
		req.Page = 1
	}
	for range maxPages {
		var page []Package
		resp, err := c.getJSON(ctx, req, &page)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		total, terr := strconv.Atoi(resp.Header.Get(genspec.TotalCount))
		if !all || len(page) == 0 || (terr == nil && len(out) >= total) {
			return out, nil
		}
		if terr != nil {
			if _, next := genspec.ParseLinks(resp.Header.Get(genspec.Link))["next"]; !next {
				return out, nil
			}
		}
		req.Page++
	}
	return out, nil
}

// Version returns one version with its files.
func (c *Client) Version(ctx context.Context, owner, typ, name, version string) (Package, error) {
	var p Package
	_, err := c.getJSON(ctx, genspec.Request{Route: genspec.RouteVersion, Method: http.MethodGet, Owner: owner, Type: typeOr(typ), Name: name, Version: version}, &p)
	if err == nil && p.Files == nil {
		p.Files, err = c.Files(ctx, owner, typ, name, version)
	}
	return p, err
}

// Files lists the files of a version.
func (c *Client) Files(ctx context.Context, owner, typ, name, version string) ([]File, error) {
	var fs []File
	_, err := c.getJSON(ctx, genspec.Request{Route: genspec.RouteFiles, Method: http.MethodGet, Owner: owner, Type: typeOr(typ), Name: name, Version: version}, &fs)
	return fs, err
}

// Latest returns the latest version of a package: the highest SemVer
// when every version is SemVer, else the newest (regkit's rule; Gitea has
// the route too).
func (c *Client) Latest(ctx context.Context, owner, typ, name string) (Package, error) {
	var p Package
	_, err := c.getJSON(ctx, genspec.Request{Route: genspec.RouteLatest, Method: http.MethodGet, Owner: owner, Type: typeOr(typ), Name: name}, &p)
	return p, err
}

// Delete deletes a version with its files (management API).
func (c *Client) Delete(ctx context.Context, owner, typ, name, version string) error {
	resp, err := c.do(ctx, call{req: genspec.Request{Route: genspec.RouteDelete, Method: http.MethodDelete, Owner: owner, Type: typeOr(typ), Name: name, Version: version}}, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// Link links a package to repository repo of the same owner.
func (c *Client) Link(ctx context.Context, owner, typ, name, repo string) error {
	resp, err := c.do(ctx, call{req: genspec.Request{Route: genspec.RouteLink, Method: http.MethodPost, Owner: owner, Type: typeOr(typ), Name: name, Repo: repo}}, http.StatusCreated, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// Unlink removes a package's link.
func (c *Client) Unlink(ctx context.Context, owner, typ, name string) error {
	resp, err := c.do(ctx, call{req: genspec.Request{Route: genspec.RouteUnlink, Method: http.MethodPost, Owner: owner, Type: typeOr(typ), Name: name}}, http.StatusNoContent, http.StatusOK, http.StatusCreated)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}
