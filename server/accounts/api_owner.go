package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
)

// What an owner's name holds, and deleting it (Gitea's and Harbor's
// rule): an account that still owns OCI repositories or generic packages
// is not deleted unless a purge is asked for (?purge=true), which deletes
// them first; and no account is created under a name that still has
// repositories or packages, so a freed name never inherits anything — not
// even what an older version of regkit left behind.
//
// An owner's repositories are the one named like it and those below it
// (<owner>/...), as authorization reads them (auth.Owner).

// ownerContent is what is stored under an owner's name.
type ownerContent struct {
	// repos are the repositories named like the owner or below it that
	// hold manifests, blob links or a catalog entry.
	repos []string
	// packages counts the owner's generic packages.
	packages int
}

func (c ownerContent) empty() bool { return len(c.repos) == 0 && c.packages == 0 }

// String says what is left, as in "3 repositories and 1 package".
func (c ownerContent) String() string {
	return plural(len(c.repos), "repository", "repositories") + " and " + plural(c.packages, "package", "packages")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// justBefore returns a string that sorts immediately before every
// repository name starting with key (key is a non-empty lowercase owner
// name), for listings that start strictly after their argument.
func justBefore(key string) string {
	return key[:len(key)-1] + string(key[len(key)-1]-1) + "\xff"
}

// ownerRepositories lists every repository the store knows (with
// manifests, links or a catalog entry, or listed by AllRepositories after
// a delete) named key or starting with key + "/".
func (s *API) ownerRepositories(ctx context.Context, key string) ([]string, error) {
	var out []string
	last := justBefore(key)
	for {
		repos, more, err := s.meta.AllRepositories(ctx, last, 100)
		if err != nil {
			return nil, fmt.Errorf("list repositories: %w", err)
		}
		for _, r := range repos {
			if !strings.HasPrefix(r, key) {
				return out, nil
			}
			if r == key || strings.HasPrefix(r, key+"/") {
				out = append(out, r)
			}
		}
		if !more || len(repos) == 0 {
			return out, nil
		}
		last = repos[len(repos)-1]
	}
}

// holds reports whether repository repo has anything in it: a catalog
// entry (it was created by a manifest push) or stored bytes (manifests or
// linked blobs).
func (s *API) holds(ctx context.Context, repo string) (bool, error) {
	_, _, err := s.meta.Tags(ctx, repo, "", 0)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, metadata.ErrNotFound) {
		return false, fmt.Errorf("tags of %s: %w", repo, err)
	}
	n, err := s.meta.RepoUsage(ctx, repo)
	if err != nil {
		return false, fmt.Errorf("usage of %s: %w", repo, err)
	}
	return n > 0, nil
}

// contentOf returns what is stored under the owner name.
func (s *API) contentOf(ctx context.Context, name string) (ownerContent, error) {
	var c ownerContent
	key := metadata.NameKey(name)
	if key == "" {
		return c, nil
	}
	repos, err := s.ownerRepositories(ctx, key)
	if err != nil {
		return c, err
	}
	for _, r := range repos {
		ok, err := s.holds(ctx, r)
		if err != nil {
			return c, err
		}
		if ok {
			c.repos = append(c.repos, r)
		}
	}
	if pk := s.packages; pk != nil {
		vs, _, err := pk.ListPackageVersions(ctx, name, metadata.PackageFilter{}, 0, -1)
		if err != nil {
			return c, fmt.Errorf("list packages: %w", err)
		}
		seen := map[string]bool{}
		for _, v := range vs {
			k := metadata.PackageKey(v.Package.Type) + "/" + metadata.PackageKey(v.Package.Name)
			if !seen[k] {
				seen[k] = true
				c.packages++
			}
		}
	}
	return c, nil
}

// purgeContent deletes everything stored under the owner name: its
// repositories (manifests, tags, referrers, blob links; the bytes go
// later by garbage collection) and its generic packages with every
// version and file.
func (s *API) purgeContent(ctx context.Context, name string) (ownerContent, error) {
	var done ownerContent
	key := metadata.NameKey(name)
	if key == "" {
		return done, nil
	}
	repos, err := s.ownerRepositories(ctx, key)
	if err != nil {
		return done, err
	}
	for _, r := range repos {
		err := s.meta.DeleteRepository(ctx, r)
		switch {
		case err == nil:
			done.repos = append(done.repos, r)
		case !errors.Is(err, metadata.ErrNotFound):
			return done, fmt.Errorf("delete repository %s: %w", r, err)
		}
	}
	pk := s.packages
	if pk == nil {
		return done, nil
	}
	seen := map[string]bool{}
	for {
		vs, _, err := pk.ListPackageVersions(ctx, name, metadata.PackageFilter{}, 0, 100)
		if err != nil {
			return done, fmt.Errorf("list packages: %w", err)
		}
		if len(vs) == 0 {
			return done, nil
		}
		deleted := 0
		for _, v := range vs {
			ref := metadata.PackageRef{Owner: v.Package.Owner, Type: v.Package.Type, Name: v.Package.Name, Version: v.Version}
			_, err := pk.DeletePackageVersion(ctx, ref)
			switch {
			case err == nil:
				deleted++
			case !errors.Is(err, metadata.ErrNotFound):
				return done, fmt.Errorf("delete package %s/%s version %s: %w", ref.Type, ref.Name, ref.Version, err)
			}
			if k := metadata.PackageKey(ref.Type) + "/" + metadata.PackageKey(ref.Name); !seen[k] {
				seen[k] = true
				done.packages++
			}
		}
		if deleted == 0 {
			// Listed but not deletable: never loop on it.
			return done, fmt.Errorf("packages of %s: %d versions are listed but cannot be found to delete them", name, len(vs))
		}
	}
}

// nameFree refuses (422) to create an account named name while no
// account has the name but repositories or packages are stored under it.
func (s *API) nameFree(ctx context.Context, name string) error {
	if _, err := s.auth.Identity().GetAccount(ctx, name); err == nil {
		return nil // taken: the creation answers that
	} else if !errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("account lookup: %w", err)
	}
	c, err := s.contentOf(ctx, name)
	if err != nil {
		return err
	}
	if c.empty() {
		return nil
	}
	return apiErrorf(http.StatusUnprocessableEntity,
		"the name %q still has %s stored under it (left by a deleted account); a new account must not inherit them: a site admin can delete them with DELETE /api/v1/admin/users/%s?purge=true (regkit admin users delete %s -purge)",
		name, c, name, name)
}

// purgeParam reads ?purge= (Gitea's flag of the admin user delete).
func purgeParam(r bunrouter.Request) (bool, error) {
	v := r.URL.Query().Get("purge")
	if v == "" {
		return false, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, apiErrorf(http.StatusBadRequest, "purge must be true or false, not %q", core.ClipText(v, 32))
	}
	return on, nil
}

// deleteOwner deletes account a (what is the user or organization
// deleting it, for messages and logs). Without purge it refuses (409)
// while a still owns repositories or packages. With purge it deletes
// everything stored under its name, then the account — so that a purge
// that fails part way leaves the account to repeat it with — and then
// sweeps the name once more, for what was pushed while it ran (after the
// account is gone only site admins can push there).
func (s *API) deleteOwner(w http.ResponseWriter, r bunrouter.Request, a metadata.Account, what string, purge bool) error {
	ctx := r.Context()
	if purge {
		done, err := s.purgeContent(ctx, a.Name)
		if err != nil {
			s.log.ErrorContext(ctx, "purge failed; the account is kept, repeat the delete to finish", "owner", a.Name, "deleted", done.String(), "err", err)
			return fmt.Errorf("purge %s: %w", a.Name, err)
		}
		s.log.InfoContext(ctx, "owner content purged", "owner", a.Name, "deleted", done.String(), "by", core.AuthOf(ctx).Principal.String())
	} else {
		c, err := s.contentOf(ctx, a.Name)
		if err != nil {
			return err
		}
		if !c.empty() {
			cli := "users"
			if a.Type == metadata.AccountOrganization {
				cli = "orgs"
			}
			return apiErrorf(http.StatusConflict, "%s %q still owns %s; delete them first, or delete the %s with ?purge=true (regkit admin %s delete %s -purge) to delete them too",
				what, a.Name, c, what, cli, a.Name)
		}
	}
	if err := s.auth.Identity().DeleteAccount(ctx, a.Name); err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	s.log.InfoContext(ctx, what+" deleted", "owner", a.Name, "purge", purge, "by", core.AuthOf(ctx).Principal.String())
	if purge {
		return s.purge(w, r, a.Name)
	}
	return noContent(w)
}

// purge deletes what is stored under name and answers 204. A failure
// is logged with what was deleted so far and returned (the request can
// be repeated: DELETE /api/v1/admin/users/{name}?purge=true also purges
// a name whose account is gone).
func (s *API) purge(w http.ResponseWriter, r bunrouter.Request, name string) error {
	ctx := r.Context()
	done, err := s.purgeContent(ctx, name)
	if err != nil {
		s.log.ErrorContext(ctx, "purge failed; repeat DELETE /api/v1/admin/users/{name}?purge=true to finish", "owner", name, "deleted", done.String(), "err", err)
		return fmt.Errorf("purge %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "owner content purged", "owner", name, "deleted", done.String(), "by", core.AuthOf(ctx).Principal.String())
	return noContent(w)
}

// apiAdminDeleteUser deletes a user (?purge=true: with its repositories
// and packages). With purge, a name without an account that still has
// repositories or packages under it (left by an interrupted purge or an
// older version) is purged too.
func (s *API) apiAdminDeleteUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.auth.RequireSiteAdmin(p); err != nil {
		return err
	}
	purge, err := purgeParam(r)
	if err != nil {
		return err
	}
	name := r.Param("name")
	a, err := s.account(r, name, metadata.AccountUser)
	if err != nil {
		if !purge || auth.ValidName(name) != nil {
			return err
		}
		if _, gerr := s.auth.Identity().GetAccount(r.Context(), name); !errors.Is(gerr, metadata.ErrNotFound) {
			return err // an organization, or the store failed
		}
		c, cerr := s.contentOf(r.Context(), name)
		if cerr != nil {
			return cerr
		}
		if c.empty() {
			return err
		}
		return s.purge(w, r, name)
	}
	if metadata.NameKey(a.Name) == metadata.NameKey(p.User.Name) {
		return apiErrorf(http.StatusUnprocessableEntity, "site admins cannot delete themselves")
	}
	return s.deleteOwner(w, r, a, "user", purge)
}
