package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// Mounts with auth mode "tokens".
//
// A mount from= a repository needs pull on it. A bearer token that does
// not cover it while its subject may pull it is challenged (401, the
// challenge's scope adds "repository:<from>:pull", as Distribution does),
// so clients that cache a token per repository get one for both and
// still mount. A caller without the right gets a plain upload start
// (202): the answer depends on rights only, never on whether the blob
// exists.
//
// A mount without from= (WithAutoMount) links the blob only when it is
// linked in a repository the caller may pull. No challenge can name a
// source there, so a bearer token's list of repositories does not limit
// the search to itself: the caller's rights do (those of its user and
// personal or deploy token). The search is bounded: the target
// repository, the repositories a bearer token grants pull on, and the
// first autoMountScan repositories of the target's owner. A blob held
// only elsewhere starts an upload (202), which a mount may always answer.

// autoMountScan is how many repositories of the target's owner a mount
// without from= looks at, at most.
const autoMountScan = 100

// authorizeMount decides a mount request whose push on req.Name is
// authorized: it leaves req a mount (with req.From set to a repository
// the caller may pull), turns it into a plain upload start, or answers
// with a challenge.
func (s *Server) authorizeMount(w http.ResponseWriter, r *http.Request, req *oci.Request, p auth.Principal) error {
	ctx := r.Context()
	if req.From == "" {
		from, err := s.autoMountSource(ctx, p, req.Name, digest.Digest(req.Digest))
		if err != nil {
			return fmt.Errorf("mount: %w", err)
		}
		if from == "" {
			req.Route, req.Digest = oci.RouteUploadStart, ""
			return nil
		}
		req.From = from
		return nil
	}
	err := s.opts.auth.Authorize(ctx, p, req.From, auth.PackageContainer, auth.ActionsOf(string(auth.Pull)))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrInsufficientScope):
		return s.challenge(w, r, req, err)
	case errors.Is(err, auth.ErrDenied), errors.Is(err, auth.ErrUnauthenticated):
		req.Route, req.From, req.Digest = oci.RouteUploadStart, "", ""
		return nil
	}
	return err
}

// autoMountSource returns a repository holding d that p may pull, or ""
// when the bounded search (see above) finds none or autoMount is off.
func (s *Server) autoMountSource(ctx context.Context, p auth.Principal, name string, d digest.Digest) (string, error) {
	if !s.opts.autoMount {
		return "", nil
	}
	if _, err := s.meta.GetBlob(ctx, d); errors.Is(err, metadata.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	a := s.opts.auth
	pull := auth.ActionsOf(string(auth.Pull))
	mayPull := map[string]bool{}
	canPull := func(repo string) (bool, error) {
		owner := metadata.NameKey(auth.Owner(repo))
		if v, ok := mayPull[owner]; ok {
			return v, nil
		}
		acts, err := a.Actions(ctx, p, auth.Owner(repo), auth.PackageContainer)
		if err != nil {
			return false, err
		}
		mayPull[owner] = acts.Has(pull)
		return mayPull[owner], nil
	}
	holds := func(repo string) (bool, error) {
		if ok, err := canPull(repo); !ok || err != nil {
			return false, err
		}
		_, err := s.meta.RepoBlob(ctx, repo, d)
		if errors.Is(err, metadata.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	candidates := []string{name}
	for _, e := range p.Access {
		if e.Type == "repository" && auth.ActionsOf(e.Actions...).Has(pull) && e.Name != name {
			candidates = append(candidates, e.Name)
		}
	}
	for _, repo := range candidates {
		if ok, err := holds(repo); ok || err != nil {
			return repo, err
		}
	}
	prefix := auth.Owner(name) + "/"
	repos, _, err := s.meta.AllRepositories(ctx, prefix, autoMountScan)
	if err != nil {
		return "", err
	}
	for _, repo := range repos {
		if !strings.HasPrefix(repo, prefix) {
			break
		}
		if ok, err := holds(repo); ok || err != nil {
			return repo, err
		}
	}
	return "", nil
}
