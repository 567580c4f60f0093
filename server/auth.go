package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	ociapi "github.com/regkit/regkit/server/oci"
	"github.com/regkit/regkit/spec/oci"
)

// Authentication and authorization with auth mode "tokens" (WithAuth).
//
// The authenticate middleware parses and verifies the credentials of
// every request once and stores the outcome in the request context; it
// also applies the rate limits (429 with Retry-After; TOOMANYREQUESTS on
// /v2). Authorization happens per route: authorize, called by server/oci's
// Dispatch for /v2, and the /api/v1 handlers (server/accounts).
//
// OCI routes need these actions on the repository's owner (the first
// path component): pull for blob and manifest GET/HEAD, tags and
// referrers; push for every upload route and manifest PUT; delete for
// manifest and blob DELETE; a mount also needs pull on its source (see
// authorizeMount), and without it is answered as a plain upload start
// (202), so a mount never reveals a blob the caller may not read. GET /v2/ and GET /v2/_catalog need any valid credentials (or an
// anonymous bearer token), as the docker login flow expects: a client
// without them is challenged, so clients that only send credentials after
// a challenge (crane, skopeo) still send them. The catalog lists only the
// repositories the caller may pull (catalogVisible); anonymous callers
// (with an anonymous bearer token) see public owners only.

// authResult is the outcome of authenticating a request (core.AuthResult).
type authResult = core.AuthResult

// principal returns the authentication outcome of r's request.
func principal(ctx context.Context) authResult { return core.AuthOf(ctx) }

// isOCIPath reports whether p is under /v2.
func isOCIPath(p string) bool { return p == "/v2" || strings.HasPrefix(p, "/v2/") }

// credentials extracts the credentials of r: the Authorization header,
// or on /api routes ?token= (and ?access_token=) when allowed.
func (s *Server) credentials(r *http.Request) (auth.Credentials, error) {
	h := r.Header.Values("Authorization")
	if len(h) > 1 {
		return auth.Credentials{}, auth.ErrMalformedCredentials
	}
	if len(h) == 1 {
		return auth.ParseAuthorization(h[0])
	}
	if !isOCIPath(r.URL.Path) && s.opts.auth.AllowQueryToken() {
		q := r.URL.Query()
		for _, k := range []string{"token", "access_token"} {
			if v, ok := q[k]; ok && len(v) > 0 {
				return auth.QueryToken(v[0])
			}
		}
	}
	return auth.Credentials{}, nil
}

// authenticate is the middleware that authenticates every request and
// applies the rate limits.
func (s *Server) authenticate(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		a := s.opts.auth
		r := req.Request
		ctx := r.Context()
		ip := s.clientIP(r)
		var res authResult
		creds, err := s.credentials(r)
		if err == nil && creds.Kind != auth.NoCredentials {
			// Tokens are not guessed: their failures are counted (below),
			// but the lockout is checked only before passwords.
			if creds.Guessable() {
				if err := a.CheckFailures(ctx, ip); err != nil {
					s.writeAuthError(w, r, err)
					return nil
				}
			}
			res.Principal, err = a.Authenticate(ctx, creds)
		}
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrMalformedCredentials) {
				s.writeAuthError(w, r, err)
				return nil
			}
			a.RecordFailure(ctx, ip)
			res = authResult{Err: err}
		}
		if err := a.Hit(ctx, ip, res.Principal); err != nil {
			s.writeAuthError(w, r, err)
			return nil
		}
		return next(w, req.WithContext(core.WithAuth(ctx, res)))
	}
}

// writeAuthError writes an error of the middleware in the format of the
// path's protocol.
func (s *Server) writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	if isOCIPath(r.URL.Path) {
		var rl *auth.RateLimitError
		if errors.As(err, &rl) {
			w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfterSeconds()))
			err = oci.CodeTooManyRequests.Errorf("%s", rl.Error())
		}
		s.writeError(w, r, err)
		return
	}
	s.writeAPIError(w, r, err)
}

// ociActions returns the actions a route needs on its repository.
func ociActions(route oci.RouteID) auth.Actions {
	switch route {
	case oci.RouteBlob, oci.RouteManifest, oci.RouteTags, oci.RouteTagsPaged, oci.RouteReferrers, oci.RouteReferrersFiltered:
		return auth.ActionsOf(string(auth.Pull))
	case oci.RouteManifestDelete, oci.RouteBlobDelete:
		return auth.ActionsOf(string(auth.Delete))
	}
	return auth.ActionsOf(string(auth.Push))
}

// challengeScope is the scope of the Bearer challenge for req.
func challengeScope(req *oci.Request) string {
	switch req.Route {
	case oci.RouteBase, oci.RouteToken:
		return ""
	case oci.RouteCatalog:
		return "registry:catalog:*"
	}
	need := ociActions(req.Route)
	if need.Has(auth.ActionsOf(string(auth.Push))) {
		need |= auth.ActionsOf(string(auth.Pull))
	}
	scope := "repository:" + req.Name + ":" + need.String()
	if req.Route == oci.RouteBlobMount && req.From != "" {
		scope += " repository:" + req.From + ":pull"
	}
	return scope
}

// challenge sets the Bearer challenge for req and returns the 401 error
// for cause.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, req *oci.Request, cause error) error {
	a := s.opts.auth
	ch := oci.Challenge{Scheme: "Bearer", Params: map[string]string{"realm": core.BaseURL(r) + "/v2/token", "service": a.Service()}}
	if scope := challengeScope(req); scope != "" {
		ch.Params["scope"] = scope
	}
	msg := "authentication required"
	switch {
	case errors.Is(cause, auth.ErrInsufficientScope):
		ch.Params["error"] = "insufficient_scope"
		msg = "the bearer token does not cover this request; get a token for its scope"
	case errors.Is(cause, auth.ErrInvalidCredentials), errors.Is(cause, auth.ErrMalformedCredentials):
		ch.Params["error"] = "invalid_token"
		msg = "invalid, expired or revoked credentials"
	}
	w.Header().Set(oci.WWWAuthenticate, ch.String())
	return oci.CodeUnauthorized.Errorf("%s", msg)
}

// denied is the 403 of a valid principal without the right.
func denied(req *oci.Request) error {
	return oci.CodeDenied.Errorf("requested access to %s is denied", req.Name)
}

// authorize decides an OCI request (nil when allowed), after Parse and
// before its handler. It may rewrite a mount into a plain upload start
// (see above).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, req *oci.Request) error {
	a := s.opts.auth
	if a == nil || req.Route == oci.RouteToken {
		return nil
	}
	ctx := r.Context()
	res := principal(ctx)
	if res.Err != nil {
		return s.challenge(w, r, req, res.Err)
	}
	p := res.Principal
	switch req.Route {
	case oci.RouteBase, oci.RouteCatalog:
		// Any valid credentials, or an anonymous bearer token; the
		// catalog then lists what the caller may pull.
		if !p.Authenticated() && p.Method != auth.MethodBearer {
			return s.challenge(w, r, req, auth.ErrUnauthenticated)
		}
		return nil
	}
	if err := s.decide(w, r, req, a.Authorize(ctx, p, req.Name, auth.PackageContainer, ociActions(req.Route))); err != nil {
		return err
	}
	if req.Route == oci.RouteBlobMount {
		return s.authorizeMount(w, r, req, p)
	}
	return nil
}

// decide maps an auth.Authorize outcome to the OCI error.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, req *oci.Request, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, auth.ErrInsufficientScope):
		return s.challenge(w, r, req, err)
	case errors.Is(err, auth.ErrDenied):
		return denied(req)
	}
	return err
}

// tokenResponse is the body of GET /v2/token.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// issueToken answers GET /v2/token?service=&scope=...: a bearer token for
// the caller (Basic credentials, a token, or anonymous) granting the
// intersection of the requested and the permitted actions.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, _ oci.Request) error {
	a := s.opts.auth
	res := principal(r.Context())
	if res.Err != nil {
		w.Header().Set(oci.WWWAuthenticate, oci.Challenge{Scheme: "Basic", Params: map[string]string{"realm": a.Service()}}.String())
		return oci.CodeUnauthorized.Errorf("invalid, expired or revoked credentials")
	}
	tok, err := a.IssueBearer(r.Context(), res.Principal, r.URL.Query()["scope"])
	if errors.Is(err, auth.ErrInvalidRequest) {
		return oci.CodeUnsupported.Errorf("%s", strings.TrimPrefix(err.Error(), auth.ErrInvalidRequest.Error()+": ")).WithStatus(http.StatusBadRequest)
	}
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	body, err := json.Marshal(tokenResponse{
		Token: tok.Token, AccessToken: tok.Token,
		ExpiresIn: int(tok.ExpiresIn / time.Second),
		IssuedAt:  tok.IssuedAt.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("encode token: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// catalogPage is how many repositories catalogVisible reads at a time.
const catalogPage = 100

// catalogVisible answers GET /v2/_catalog with auth: only the
// repositories the caller may pull are listed (site admins see all), with
// the same n/last pagination and Link header as the open catalog. On the
// local registry it reads only the owners the caller may see
// (auth.CatalogOwners, metadata.OwnerCatalog): O(page + visible owners
// passed), whatever the hidden owners hold.
func (s *Server) catalogVisible(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	a := s.opts.auth
	p := principal(ctx).Principal
	if oc, ok := s.meta.(metadata.OwnerCatalog); ok && s.opts.registry == nil {
		set, err := a.CatalogOwners(ctx, p, oc)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		out, more := []string{}, false
		if n := ociapi.Limit(req); n != 0 {
			if out, more, err = oc.RepositoriesOf(ctx, set, req.Last, n); err != nil {
				return fmt.Errorf("catalog: %w", err)
			}
		}
		if more && len(out) > 0 {
			ociapi.NextPage(w, req, out[len(out)-1])
		}
		return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
			Repositories []string `json:"repositories"`
		}{out})
	}
	return s.catalogWalk(w, r, req)
}

// catalogWalk is catalogVisible over a registry that is not the local
// one: it walks the catalog, deciding each owner once, and jumps past the
// rest of a page's hidden owner.
func (s *Server) catalogWalk(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	a := s.opts.auth
	p := principal(ctx).Principal
	visible := map[string]bool{}
	canSee := func(repo string) (bool, error) {
		owner := auth.Owner(repo)
		if v, ok := visible[owner]; ok {
			return v, nil
		}
		acts, err := a.Actions(ctx, p, owner, auth.PackageContainer)
		if err != nil {
			return false, err
		}
		v := acts.Has(auth.ActionsOf(string(auth.Pull)))
		visible[owner] = v
		return v, nil
	}
	out := []string{}
	last, full, n := req.Last, false, ociapi.Limit(req)
	for n != 0 && !full {
		repos, more, err := s.registry.Repositories(ctx, last, catalogPage)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		skipped := ""
		for _, repo := range repos {
			ok, err := canSee(repo)
			if err != nil {
				return fmt.Errorf("catalog: %w", err)
			}
			if !ok {
				skipped = auth.Owner(repo)
				continue
			}
			skipped = ""
			out = append(out, repo)
			if n > 0 && len(out) > n {
				full = true
				break
			}
		}
		if !more || len(repos) == 0 {
			break
		}
		last = repos[len(repos)-1]
		if skipped != "" && strings.HasPrefix(last, skipped+"/") {
			// The page ended inside an owner the caller cannot see: jump
			// past its repositories (names are ASCII, below 0x7f) rather
			// than reading them.
			last = skipped + "/\x7f"
		}
	}
	if full {
		out = out[:n]
		ociapi.NextPage(w, req, out[len(out)-1])
	}
	return core.WriteJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{out})
}

// writeAPIError writes err in the /api/v1 error format (core.WriteAPIError).
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	service := ""
	if s.opts.auth != nil {
		service = s.opts.auth.Service()
	}
	core.WriteAPIError(w, r, err, s.opts.log, service, s.generic.WriteError)
}

// exempt reports whether ctx's request acts for a site admin, whom
// quotas and file-size limits do not apply to.
func (s *Server) exempt(ctx context.Context) bool {
	return s.opts.auth != nil && principal(ctx).Principal.SiteAdmin()
}
