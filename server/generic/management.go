package generic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/generic"
)

// The management API (/api/v1/packages), after Gitea's. Generic packages
// come from metadata.Packages; OCI repositories of the owner (<owner>/...)
// are listed as packages of type "container", one version per tag (the
// tag's manifest is the version's one file). Listings are newest first
// and paginated with page/limit, X-Total-Count and Link.

// apiUser is Gitea's user object.
type apiUser struct {
	ID         int64  `json:"id"`
	Login      string `json:"login"`
	LoginName  string `json:"login_name"`
	FullName   string `json:"full_name"`
	Email      string `json:"email"`
	AvatarURL  string `json:"avatar_url"`
	Username   string `json:"username"`
	Visibility string `json:"visibility"`
	IsAdmin    bool   `json:"is_admin"`
	Created    string `json:"created,omitempty"`
}

// apiRepository is the linked repository of a package.
type apiRepository struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	FullName string  `json:"full_name"`
	Owner    apiUser `json:"owner"`
	HTMLURL  string  `json:"html_url"`
}

// apiFile is Gitea's package file object.
type apiFile struct {
	ID          int64  `json:"id"`
	Size        int64  `json:"size"`
	Name        string `json:"name"`
	MD5         string `json:"md5"`
	SHA1        string `json:"sha1"`
	SHA256      string `json:"sha256"`
	SHA512      string `json:"sha512"`
	ContentType string `json:"content_type"`
	CreatedAt   string `json:"created_at"`
}

// apiPackage is Gitea's package object (one version), plus
// download_count, semver_compatible and, on latest, latest_rule.
type apiPackage struct {
	ID            int64          `json:"id"`
	Owner         apiUser        `json:"owner"`
	Repository    *apiRepository `json:"repository"`
	Creator       apiUser        `json:"creator"`
	Type          string         `json:"type"`
	Name          string         `json:"name"`
	Version       string         `json:"version"`
	HTMLURL       string         `json:"html_url"`
	CreatedAt     string         `json:"created_at"`
	DownloadCount int64          `json:"download_count"`
	SemVer        bool           `json:"semver_compatible"`
	LatestRule    string         `json:"latest_rule,omitempty"`
	Files         []apiFile      `json:"files,omitempty"`

	created time.Time // for ordering
}

// stableID derives a JSON-safe ID from parts (for owners without an
// account and for container versions, which have no stored ID).
func stableID(parts ...string) int64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return int64(h.Sum64() & (1<<53 - 1))
}

// pkgTime formats a time of the management API (RFC 3339, UTC).
func pkgTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// user returns the user object of name: from its account with auth,
// synthesized without (owners are implicit then). Empty name: the ghost
// user of anonymous uploads.
func (s *API) user(ctx context.Context, name string) apiUser {
	if name == "" {
		return apiUser{ID: -1, Login: "Ghost", Username: "Ghost", Visibility: "public"}
	}
	u := apiUser{ID: stableID("owner", generic.Key(name)), Login: name, Username: name, Visibility: "public"}
	if s.cfg.Auth != nil {
		if a, err := s.cfg.Auth.Identity().GetAccount(ctx, name); err == nil {
			u = apiUser{ID: a.ID, Login: a.Name, Username: a.Name, FullName: a.FullName, Email: a.Email,
				Visibility: string(a.Visibility), IsAdmin: a.SiteAdmin, Created: pkgTime(a.Created)}
		}
	}
	return u
}

// ownerExists reports whether owner is known: an account with auth;
// without, owners are implicit, so every valid name exists (an owner
// with nothing stored lists [], as an existing Gitea owner without
// packages does).
func (s *API) ownerExists(ctx context.Context, owner string) (bool, error) {
	if s.cfg.Auth == nil {
		return true, nil
	}
	_, err := s.cfg.Auth.Identity().GetAccount(ctx, owner)
	if errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (s *API) htmlURL(r *http.Request, owner, typ, name, version string) string {
	return core.BaseURL(r) + "/" + owner + "/-/packages/" + typ + "/" + name + "/" + version
}

// toAPI converts a generic version (files included when it has them).
func (s *API) toAPI(r *http.Request, v metadata.PackageVersion) apiPackage {
	ctx := r.Context()
	p := v.Package
	owner := s.user(ctx, p.Owner)
	out := apiPackage{
		ID: v.ID, Owner: owner, Creator: s.user(ctx, v.Creator), Type: p.Type, Name: p.Name, Version: v.Version,
		HTMLURL: s.htmlURL(r, p.Owner, p.Type, p.Name, v.Version), CreatedAt: pkgTime(v.Created),
		DownloadCount: v.Downloads, SemVer: p.SemVer, created: v.Created,
	}
	if p.Repository != "" {
		out.Repository = &apiRepository{ID: stableID("repository", generic.Key(p.Owner), generic.Key(p.Repository)), Name: p.Repository, FullName: p.Owner + "/" + p.Repository, Owner: owner,
			HTMLURL: core.BaseURL(r) + "/" + p.Owner + "/" + p.Repository}
	}
	for _, f := range v.Files {
		out.Files = append(out.Files, apiFile{ID: f.ID, Size: f.Size, Name: f.Name, MD5: f.MD5, SHA1: f.SHA1,
			SHA256: f.SHA256, SHA512: f.SHA512, ContentType: f.ContentType, CreatedAt: pkgTime(f.Created)})
	}
	return out
}

// containerRepos lists the OCI repositories of owner (at most n; n < 0
// all), in name order.
func (s *API) containerRepos(ctx context.Context, owner string, n int) ([]string, error) {
	prefix := generic.Key(owner) + "/"
	var out []string
	last := prefix
	for n < 0 || len(out) < n {
		repos, more, err := s.cfg.Meta.Repositories(ctx, last, 100)
		if err != nil {
			return nil, fmt.Errorf("repositories: %w", err)
		}
		for _, repo := range repos {
			if !strings.HasPrefix(repo, prefix) {
				return out, nil
			}
			out = append(out, repo)
		}
		if !more || len(repos) == 0 {
			break
		}
		last = repos[len(repos)-1]
	}
	return out, nil
}

// tagPage returns the tags of repository repo with their manifests,
// newest first, from rank offset (at most n; n < 0 all), and their
// number, from the store's tag index.
func (s *API) tagPage(ctx context.Context, repo string, offset, n int) ([]metadata.TaggedManifest, int, error) {
	tl, ok := s.cfg.Meta.(metadata.TagLister)
	if !ok {
		return nil, 0, fmt.Errorf("metadata store %T cannot page tags", s.cfg.Meta)
	}
	return tl.TagPage(ctx, repo, offset, n)
}

// containerVersion returns tag tm of repository repo as a package
// version (with the manifest as its file when files is set).
func (s *API) containerVersion(r *http.Request, u apiUser, owner, repo string, tm metadata.TaggedManifest, files bool) apiPackage {
	name := strings.TrimPrefix(repo, generic.Key(owner)+"/")
	m := tm.Manifest
	p := apiPackage{
		ID: stableID("container", repo, tm.Tag), Owner: u, Creator: u, Type: generic.TypeContainer, Name: name, Version: tm.Tag,
		HTMLURL: s.htmlURL(r, owner, generic.TypeContainer, name, tm.Tag), CreatedAt: pkgTime(m.Created), created: m.Created,
	}
	if files {
		sha := m.Digest.Encoded()
		if m.Digest.Algorithm() != "sha256" {
			sha = ""
		}
		p.Files = []apiFile{{ID: stableID("manifest", repo, m.Digest.String()), Size: int64(len(m.Body)), Name: m.Digest.String(),
			SHA256: sha, ContentType: m.MediaType, CreatedAt: pkgTime(m.Created)}}
	}
	return p
}

// containerVersions returns one page of the tags of repository repo as
// package versions, newest first, and the number of tags; 404 when the
// repository does not exist.
func (s *API) containerVersions(r *http.Request, owner, repo string, offset, limit int) ([]apiPackage, int, error) {
	ctx := r.Context()
	tms, total, err := s.tagPage(ctx, repo, offset, limit)
	if err != nil {
		return nil, 0, notFoundErr(err, "container package %q not found", repo)
	}
	u := s.user(ctx, owner)
	out := make([]apiPackage, 0, len(tms))
	for _, tm := range tms {
		out = append(out, s.containerVersion(r, u, owner, repo, tm, false))
	}
	return out, total, nil
}

// newestFirst orders API packages by creation, newest first.
func newestFirst(a, b apiPackage) int {
	if c := b.created.Compare(a.created); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// writePage writes one page of a listing with X-Total-Count and Link.
func writePage(w http.ResponseWriter, r *http.Request, req generic.Request, items []apiPackage, total int) error {
	if items == nil {
		items = []apiPackage{}
	}
	h := w.Header()
	h.Set(generic.TotalCount, strconv.Itoa(total))
	h.Set(generic.Link, generic.PageLinks(req, total))
	return core.WriteJSON(w, r, http.StatusOK, "application/json; charset=utf-8", items)
}

// pkgList lists the owner's package versions (both types, or ?type=),
// filtered by ?q=, newest first.
func (s *API) pkgList(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	ok, err := s.ownerExists(ctx, req.Owner)
	if err != nil {
		return err
	}
	if !ok {
		return generic.Errorf(http.StatusNotFound, "owner %q not found", req.Owner)
	}
	page, limit := req.PageLimit()
	offset := (page - 1) * limit
	wantGeneric := req.PackageType == "" || req.PackageType == generic.TypeGeneric
	wantContainer := req.PackageType == "" || req.PackageType == generic.TypeContainer
	if wantGeneric {
		if wantGeneric, err = s.canRead(ctx, req.Owner, generic.TypeGeneric); err != nil {
			return err
		}
	}
	if wantContainer {
		if wantContainer, err = s.canRead(ctx, req.Owner, generic.TypeContainer); err != nil {
			return err
		}
	}
	filter := metadata.PackageFilter{Type: generic.TypeGeneric, Query: req.Q}
	switch {
	case !wantGeneric && !wantContainer: // an unknown type, or nothing readable
		return writePage(w, r, req, nil, 0)
	case !wantContainer:
		return s.genericList(w, r, req, filter, offset, limit) // paged in the store
	}
	if ol, ok := s.cfg.Packages.(metadata.OwnerLister); ok {
		return s.ownerList(w, r, req, ol, wantGeneric, offset, limit)
	}
	// A package store without owner listings: merged here (O(the
	// owner's versions and tags)).
	owned, err := s.containerRepos(ctx, req.Owner, -1)
	if err != nil {
		return err
	}
	var all []apiPackage
	if wantGeneric {
		vs, _, err := s.cfg.Packages.ListPackageVersions(ctx, req.Owner, filter, 0, -1)
		if err != nil {
			return fmt.Errorf("list packages: %w", err)
		}
		for _, v := range vs {
			all = append(all, s.toAPI(r, v))
		}
	}
	for _, repo := range owned {
		name := strings.TrimPrefix(repo, generic.Key(req.Owner)+"/")
		if !strings.Contains(name, generic.Key(req.Q)) || !s.canReadRepo(ctx, repo) {
			continue
		}
		vs, _, err := s.containerVersions(r, req.Owner, repo, 0, -1)
		if err != nil && !errors.Is(err, generic.ErrNotFound) {
			return err
		}
		all = append(all, vs...)
	}
	slices.SortFunc(all, newestFirst)
	return writePage(w, r, req, metadata.PageOf(all, offset, limit), len(all))
}

// ownerList writes one page of the owner's generic versions (when
// withGeneric) and container tags, paged in the store (see
// metadata.OwnerLister). A bearer token that names repositories reads
// only the tags of those.
func (s *API) ownerList(w http.ResponseWriter, r *http.Request, req generic.Request, ol metadata.OwnerLister, withGeneric bool, offset, limit int) error {
	ctx := r.Context()
	f := metadata.OwnerFilter{Packages: withGeneric, Type: generic.TypeGeneric, Containers: true, Query: req.Q}
	if s.cfg.Auth != nil && core.AuthOf(ctx).Principal.Method == auth.MethodBearer {
		f.Repository = func(repo string) bool { return s.canReadRepo(ctx, repo) }
	}
	items, total, err := ol.ListOwner(ctx, req.Owner, f, offset, limit)
	if err != nil {
		return fmt.Errorf("list packages: %w", err)
	}
	u := s.user(ctx, req.Owner)
	out := make([]apiPackage, len(items))
	for i, it := range items {
		if it.Version != nil {
			out[i] = s.toAPI(r, *it.Version)
		} else {
			out[i] = s.containerVersion(r, u, req.Owner, it.Repository, *it.Tag, false)
		}
	}
	return writePage(w, r, req, out, total)
}

// genericList writes one page of the owner's generic versions, paged in
// the store.
func (s *API) genericList(w http.ResponseWriter, r *http.Request, req generic.Request, filter metadata.PackageFilter, offset, limit int) error {
	vs, total, err := s.cfg.Packages.ListPackageVersions(r.Context(), req.Owner, filter, offset, limit)
	if err != nil {
		return fmt.Errorf("list packages: %w", err)
	}
	items := make([]apiPackage, len(vs))
	for i, v := range vs {
		items[i] = s.toAPI(r, v)
	}
	return writePage(w, r, req, items, total)
}

// unknownType is the 404 of a package type the registry does not have.
func unknownType(t string) error {
	return generic.Errorf(http.StatusNotFound, "package type %q is not supported (use generic or container)", t)
}

// containerRepo is the OCI repository of a container package.
func containerRepo(req generic.Request) string { return generic.Key(req.Owner) + "/" + req.Name }

// pkgVersions lists the versions of a package, newest first, paged in
// the store.
func (s *API) pkgVersions(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	page, limit := req.PageLimit()
	offset := (page - 1) * limit
	switch req.Type {
	case generic.TypeGeneric:
		vs, total, err := s.cfg.Packages.PackageVersions(r.Context(), refOf(req), offset, limit)
		if err != nil {
			return notFoundErr(err, "package %q not found", req.Name)
		}
		items := make([]apiPackage, len(vs))
		for i, v := range vs {
			items[i] = s.toAPI(r, v)
		}
		return writePage(w, r, req, items, total)
	case generic.TypeContainer:
		vs, total, err := s.containerVersions(r, req.Owner, containerRepo(req), offset, limit)
		if err != nil {
			return err
		}
		if total == 0 {
			return generic.Errorf(http.StatusNotFound, "container package %q has no tags", req.Name)
		}
		return writePage(w, r, req, vs, total)
	}
	return unknownType(req.Type)
}

// version returns one version with its files.
func (s *API) version(r *http.Request, req generic.Request) (apiPackage, error) {
	switch req.Type {
	case generic.TypeGeneric:
		v, err := s.cfg.Packages.GetPackageVersion(r.Context(), refOf(req))
		if err != nil {
			return apiPackage{}, notFoundErr(err, "version %q of package %q not found", req.Version, req.Name)
		}
		return s.toAPI(r, v), nil
	case generic.TypeContainer:
		repo := containerRepo(req)
		if _, _, err := s.cfg.Meta.Tags(r.Context(), repo, "", 0); err != nil {
			return apiPackage{}, notFoundErr(err, "container package %q not found", repo)
		}
		var (
			m   metadata.Manifest
			err = metadata.ErrNotFound
		)
		if !strings.Contains(req.Version, ":") { // a tag, never a digest
			m, err = s.cfg.Meta.GetManifest(r.Context(), repo, req.Version)
		}
		if err != nil {
			return apiPackage{}, notFoundErr(err, "tag %q of container package %q not found", req.Version, req.Name)
		}
		tm := metadata.TaggedManifest{Tag: req.Version, Manifest: m}
		return s.containerVersion(r, s.user(r.Context(), req.Owner), req.Owner, repo, tm, true), nil
	}
	return apiPackage{}, unknownType(req.Type)
}

// pkgVersion answers one version with its files and download count.
func (s *API) pkgVersion(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	v, err := s.version(r, req)
	if err != nil {
		return err
	}
	if v.Files == nil {
		v.Files = []apiFile{}
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json; charset=utf-8", v)
}

// pkgFiles answers the files of a version.
func (s *API) pkgFiles(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	v, err := s.version(r, req)
	if err != nil {
		return err
	}
	if v.Files == nil {
		v.Files = []apiFile{}
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json; charset=utf-8", v.Files)
}

// pkgDelete deletes a version (a tag for containers): 204.
func (s *API) pkgDelete(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	switch req.Type {
	case generic.TypeGeneric:
		if _, err := s.cfg.Packages.DeletePackageVersion(r.Context(), refOf(req)); err != nil {
			return notFoundErr(err, "version %q of package %q not found", req.Version, req.Name)
		}
	case generic.TypeContainer:
		if !s.cfg.DeleteEnabled {
			return generic.Errorf(http.StatusMethodNotAllowed, "deletes are disabled on this registry (allowed: GET)")
		}
		if err := s.cfg.Meta.DeleteTag(r.Context(), containerRepo(req), req.Version); err != nil {
			return notFoundErr(err, "tag %q of container package %q not found", req.Version, req.Name)
		}
	default:
		return unknownType(req.Type)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pkgLatest answers the latest version: the highest SemVer precedence
// (stable releases before pre-releases) when every version is SemVer,
// else the newest. latest_rule says which rule applied. The store keeps
// the order, so this costs the same for any number of versions.
func (s *API) pkgLatest(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	var (
		latest apiPackage
		semver bool
	)
	switch req.Type {
	case generic.TypeGeneric:
		v, sv, err := s.cfg.Packages.LatestPackageVersion(r.Context(), refOf(req))
		if err != nil {
			return notFoundErr(err, "package %q not found", req.Name)
		}
		latest, semver = s.toAPI(r, v), sv
	case generic.TypeContainer:
		tl, ok := s.cfg.Meta.(metadata.TagLister)
		if !ok {
			return fmt.Errorf("metadata store %T cannot answer latest tags", s.cfg.Meta)
		}
		repo := containerRepo(req)
		tm, sv, err := tl.LatestTag(r.Context(), repo)
		if err != nil {
			if _, _, terr := s.cfg.Meta.Tags(r.Context(), repo, "", 0); terr != nil {
				return notFoundErr(terr, "container package %q not found", repo)
			}
			return notFoundErr(err, "container package %q has no tags", req.Name)
		}
		latest, semver = s.containerVersion(r, s.user(r.Context(), req.Owner), req.Owner, repo, tm, false), sv
	default:
		return unknownType(req.Type)
	}
	latest.LatestRule = generic.LatestNewest
	if semver {
		latest.LatestRule = generic.LatestSemVer
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json; charset=utf-8", latest)
}

// pkgLink links a generic package to a repository of its owner: 201.
func (s *API) pkgLink(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	return s.link(w, r, req, req.Repo, http.StatusCreated)
}

// pkgUnlink removes a package's link: 204.
func (s *API) pkgUnlink(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	return s.link(w, r, req, "", http.StatusNoContent)
}

func (s *API) link(w http.ResponseWriter, r *http.Request, req generic.Request, repo string, status int) error {
	switch req.Type {
	case generic.TypeGeneric:
	case generic.TypeContainer:
		return generic.Errorf(http.StatusBadRequest, "container packages cannot be linked on this registry")
	default:
		return unknownType(req.Type)
	}
	if err := s.cfg.Packages.LinkPackage(r.Context(), refOf(req), repo); err != nil {
		return notFoundErr(err, "package %q not found", req.Name)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}
