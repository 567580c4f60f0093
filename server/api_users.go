package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// The account and token API under /api/v1, served with auth mode
// "tokens". It follows Gitea where Gitea has the endpoint:
//
//	GET    /api/v1/user                              the caller
//	GET    /api/v1/users/{name}                      a user (public, self or admin)
//	POST   /api/v1/users/{name}/tokens               create a personal token (password login) → 201
//	GET    /api/v1/users/{name}/tokens               list them, without secrets
//	DELETE /api/v1/users/{name}/tokens/{id or name}  → 204
//	GET    /api/v1/admin/users                       site admins: list users
//	POST   /api/v1/admin/users                       site admins: create a user → 201
//	PATCH  /api/v1/admin/users/{name}                site admins: password, visibility, admin, ...
//	DELETE /api/v1/admin/users/{name}                site admins → 204
//	GET    /api/v1/admin/orgs                        site admins: list organizations
//	POST   /api/v1/orgs                              any password login; the creator becomes admin → 201
//	GET    /api/v1/orgs/{org}                        public, members or site admins
//	PATCH  /api/v1/orgs/{org}                        org admins, site admins
//	DELETE /api/v1/orgs/{org}                        org admins, site admins → 204
//	GET    /api/v1/orgs/{org}/members                members, site admins
//	GET    /api/v1/orgs/{org}/members/{user}         204 when a member, else 404
//	PUT    /api/v1/orgs/{org}/members/{user}         org admins, site admins; body {"role"} → 204
//	DELETE /api/v1/orgs/{org}/members/{user}         org admins, site admins, the member → 204
//	GET    /api/v1/owners/{owner}/deploy_tokens      the owner (user), org admins, site admins
//	POST   /api/v1/owners/{owner}/deploy_tokens      body {"name","scopes","package_types","expires_at"} → 201
//	DELETE /api/v1/owners/{owner}/deploy_tokens/{id} → 204
//
// Errors are JSON {"message","url"}. 401 carries WWW-Authenticate: Basic.
// Managing tokens, accounts and memberships needs a password login;
// tokens never manage tokens.

// insufficientScope is the 403 message of a bearer token outside /v2.
const insufficientScope = "the bearer token does not cover this request: a token of /v2/token covers only the /v2 repositories it names; use a personal or deploy token here"

// maxAPIBody bounds a JSON request body.
const maxAPIBody = 64 << 10

// apiError is an error with the status and message to answer.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func apiErrorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// apiHandler is an /api/v1 handler given the caller's principal.
type apiHandler func(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error

// api wraps h: refuses invalid credentials with 401 and writes h's
// errors as JSON.
func (s *Server) api(h apiHandler) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, r bunrouter.Request) error {
		res := principal(r.Context())
		err := res.err
		if err == nil {
			err = h(w, r, res.p)
		}
		if err != nil {
			s.writeAPIError(w, r.Request, err)
		}
		return nil
	}
}

// writeAPIError writes err as {"message","url"} with its status.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal server error"
	var ae *apiError
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.status, ae.msg
	case errors.As(err, &rl):
		status, msg = http.StatusTooManyRequests, rl.Error()
		w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfterSeconds()))
	case errors.Is(err, auth.ErrMalformedCredentials), errors.Is(err, auth.ErrInvalidCredentials):
		status, msg = http.StatusUnauthorized, "invalid, expired or revoked credentials"
	case errors.Is(err, auth.ErrInsufficientScope):
		status, msg = http.StatusForbidden, insufficientScope
	case errors.Is(err, auth.ErrUnauthenticated):
		status, msg = http.StatusUnauthorized, "authentication required"
	case errors.Is(err, auth.ErrDenied):
		status, msg = http.StatusForbidden, "access denied"
		if _, detail, ok := strings.Cut(err.Error(), auth.ErrDenied.Error()+": "); ok {
			msg = detail
		}
	case errors.Is(err, auth.ErrInvalidRequest):
		status, msg = http.StatusBadRequest, strings.TrimPrefix(err.Error(), auth.ErrInvalidRequest.Error()+": ")
	case errors.Is(err, metadata.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, metadata.ErrUnavailable):
		s.writeGenericError(w, r, err) // 503 with Retry-After, in the path's format
		return
	default:
		s.opts.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", s.opts.auth.Service()))
	}
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
		URL     string `json:"url"`
	}{msg, baseURL(r) + r.URL.Path})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// apiRoutes registers the /api/v1 account and token API.
func (s *Server) apiRoutes(r *bunrouter.Router) {
	r.WithGroup("/api/v1", func(g *bunrouter.Group) {
		g.GET("/user", s.api(s.apiCurrentUser))
		g.GET("/users/:name", s.api(s.apiGetUser))
		g.POST("/users/:name/tokens", s.api(s.apiCreateToken))
		g.GET("/users/:name/tokens", s.api(s.apiListTokens))
		g.DELETE("/users/:name/tokens/:id", s.api(s.apiDeleteToken))
		g.GET("/admin/users", s.api(s.apiAdminListAccounts(metadata.AccountUser)))
		g.POST("/admin/users", s.api(s.apiAdminCreateUser))
		g.PATCH("/admin/users/:name", s.api(s.apiAdminEditUser))
		g.DELETE("/admin/users/:name", s.api(s.apiAdminDeleteUser))
		g.GET("/admin/orgs", s.api(s.apiAdminListAccounts(metadata.AccountOrganization)))
		g.POST("/orgs", s.api(s.apiCreateOrg))
		g.GET("/orgs/:org", s.api(s.apiGetOrg))
		g.PATCH("/orgs/:org", s.api(s.apiEditOrg))
		g.DELETE("/orgs/:org", s.api(s.apiDeleteOrg))
		g.GET("/orgs/:org/members", s.api(s.apiListMembers))
		g.GET("/orgs/:org/members/:user", s.api(s.apiIsMember))
		g.PUT("/orgs/:org/members/:user", s.api(s.apiSetMember))
		g.DELETE("/orgs/:org/members/:user", s.api(s.apiDeleteMember))
		g.GET("/owners/:owner/deploy_tokens", s.api(s.apiListDeployTokens))
		g.POST("/owners/:owner/deploy_tokens", s.api(s.apiCreateDeployToken))
		g.DELETE("/owners/:owner/deploy_tokens/:id", s.api(s.apiDeleteDeployToken))
	})
}

// userJSON is Gitea's user object (the fields regkit has).
type userJSON struct {
	ID         int64  `json:"id"`
	Login      string `json:"login"`
	Username   string `json:"username"`
	FullName   string `json:"full_name"`
	Email      string `json:"email"`
	IsAdmin    bool   `json:"is_admin"`
	Visibility string `json:"visibility"`
	Created    string `json:"created"`
	Role       string `json:"role,omitempty"`
}

// orgJSON is Gitea's organization object (the fields regkit has).
type orgJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Username   string `json:"username"`
	FullName   string `json:"full_name"`
	Visibility string `json:"visibility"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// userObject renders a; the email only for the user and site admins.
func userObject(a metadata.Account, viewer auth.Principal) userJSON {
	u := userJSON{ID: a.ID, Login: a.Name, Username: a.Name, FullName: a.FullName, IsAdmin: a.SiteAdmin,
		Visibility: string(a.Visibility), Created: rfc3339(a.Created)}
	if viewer.SiteAdmin() || viewer.User != nil && metadata.NameKey(viewer.User.Name) == metadata.NameKey(a.Name) {
		u.Email = a.Email
	}
	return u
}

func orgObject(a metadata.Account) orgJSON {
	return orgJSON{ID: a.ID, Name: a.Name, Username: a.Name, FullName: a.FullName, Visibility: string(a.Visibility)}
}

// tokenJSON is Gitea's access token object; sha1 holds the secret once,
// at creation, and is empty in lists.
type tokenJSON struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	SHA1           string   `json:"sha1"`
	TokenLastEight string   `json:"token_last_eight"`
	Scopes         []string `json:"scopes"`
	Owner          string   `json:"owner,omitempty"`
	PackageTypes   []string `json:"package_types,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	LastUsedAt     string   `json:"last_used_at,omitempty"`
	ExpiresAt      string   `json:"expires_at,omitempty"`
}

func tokenObject(t metadata.Token, secret string) tokenJSON {
	o := tokenJSON{ID: t.ID, Name: t.Name, SHA1: secret, TokenLastEight: t.LastEight, Scopes: t.Scopes,
		PackageTypes: t.PackageTypes, CreatedAt: rfc3339(t.Created), LastUsedAt: rfc3339(t.LastUsed), ExpiresAt: rfc3339(t.Expires)}
	if o.Scopes == nil {
		o.Scopes = []string{}
	}
	if t.Kind == metadata.TokenDeploy {
		o.Owner = t.Owner
	}
	return o
}

func writeAPI(w http.ResponseWriter, r *http.Request, status int, v any) error {
	return writeJSON(w, r, status, "application/json", v)
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// account looks an account of typ up ("" any type); 404 when absent.
func (s *Server) account(r bunrouter.Request, name string, typ metadata.AccountType) (metadata.Account, error) {
	a, err := s.opts.auth.Identity().GetAccount(r.Context(), name)
	if errors.Is(err, metadata.ErrNotFound) || err == nil && typ != "" && a.Type != typ {
		what := "account"
		switch typ {
		case metadata.AccountUser:
			what = "user"
		case metadata.AccountOrganization:
			what = "organization"
		}
		return metadata.Account{}, apiErrorf(http.StatusNotFound, "%s %q does not exist", what, name)
	}
	if err != nil {
		return metadata.Account{}, fmt.Errorf("account lookup: %w", err)
	}
	return a, nil
}

func (s *Server) apiCurrentUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if p.User == nil {
		if p.Authenticated() {
			return apiErrorf(http.StatusForbidden, "a deploy token has no user")
		}
		return auth.ErrUnauthenticated
	}
	return writeAPI(w, r.Request, http.StatusOK, userObject(*p.User, p))
}

// apiGetUser answers a user that p may see: public users, p itself, and
// everyone for site admins. A user that does not exist and one that p may
// not see answer alike: 401 for anonymous callers (as /v2 does), else 404.
func (s *Server) apiGetUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	name := r.Param("name")
	a, err := s.account(r, name, metadata.AccountUser)
	if err != nil && !isNotFound(err) {
		return err
	}
	self := p.User != nil && metadata.NameKey(p.User.Name) == metadata.NameKey(a.Name)
	if err != nil || !a.Visibility.ReadableBy(p.User != nil) && !self && !p.SiteAdmin() {
		if !p.Authenticated() {
			return auth.ErrUnauthenticated
		}
		return apiErrorf(http.StatusNotFound, "user %q does not exist", name)
	}
	return writeAPI(w, r.Request, http.StatusOK, userObject(a, p))
}

// tokenOptions is the body of a token creation.
type tokenOptions struct {
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	PackageTypes []string   `json:"package_types"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

func (o tokenOptions) token(kind metadata.TokenKind, owner string) metadata.Token {
	t := metadata.Token{Kind: kind, Owner: owner, Name: strings.Trim(o.Name, " "), Scopes: o.Scopes, PackageTypes: o.PackageTypes}
	if o.ExpiresAt != nil {
		t.Expires = *o.ExpiresAt
	}
	return t
}

// createToken creates a token and answers 201 with its secret.
func (s *Server) createToken(w http.ResponseWriter, r bunrouter.Request, t metadata.Token) error {
	secret, t, err := s.opts.auth.NewToken(r.Context(), t)
	switch {
	case errors.Is(err, metadata.ErrExists):
		return apiErrorf(http.StatusBadRequest, "access token name has been used already")
	case err != nil:
		return err
	}
	s.opts.log.InfoContext(r.Context(), "token created", "token_id", t.ID, "kind", t.Kind, "owner", t.Owner, "scopes", t.Scopes)
	return writeAPI(w, r.Request, http.StatusCreated, tokenObject(t, secret))
}

// tokensOf lists the tokens of owner's kind after checking p may manage
// them.
func (s *Server) tokensOf(r bunrouter.Request, p auth.Principal, owner metadata.Account, kind metadata.TokenKind) ([]metadata.Token, error) {
	if err := s.opts.auth.ManageTokens(r.Context(), p, owner, kind); err != nil {
		return nil, err
	}
	ts, err := s.opts.auth.Identity().Tokens(r.Context(), owner.Name, kind)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

func tokenList(ts []metadata.Token) []tokenJSON {
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenObject(t, ""))
	}
	return out
}

// deleteTokenOf deletes the token ref (an ID or a name) of owner's kind.
func (s *Server) deleteTokenOf(w http.ResponseWriter, r bunrouter.Request, p auth.Principal, owner metadata.Account, kind metadata.TokenKind, ref string) error {
	ts, err := s.tokensOf(r, p, owner, kind)
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	for _, t := range ts {
		if t.ID == id && id != 0 || metadata.NameKey(t.Name) == metadata.NameKey(ref) {
			if err := s.opts.auth.Identity().DeleteToken(r.Context(), t.ID); err != nil && !errors.Is(err, metadata.ErrNotFound) {
				return fmt.Errorf("delete token: %w", err)
			}
			s.opts.log.InfoContext(r.Context(), "token deleted", "token_id", t.ID, "kind", t.Kind, "owner", t.Owner)
			return noContent(w)
		}
	}
	return apiErrorf(http.StatusNotFound, "token %q does not exist", ref)
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	u, err := s.accountForManagement(r, p, r.Param("name"), metadata.AccountUser, s.manageTokens(r, p, metadata.TokenPersonal))
	if err != nil {
		return err
	}
	var o tokenOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	return s.createToken(w, r, o.token(metadata.TokenPersonal, u.Name))
}

// accountForManagement looks up the target of a management request and
// checks that p may manage it. Strangers learn nothing about accounts
// they may not see: anonymous callers get 401 before any lookup, and for
// a missing account check decides as for an account of that name the
// caller has no right on, so that "missing" and "not yours" answer alike;
// only callers check lets through (site admins) learn it is missing (404).
func (s *Server) accountForManagement(r bunrouter.Request, p auth.Principal, name string, typ metadata.AccountType, check func(metadata.Account) error) (metadata.Account, error) {
	if !p.Authenticated() {
		return metadata.Account{}, auth.ErrUnauthenticated
	}
	a, err := s.account(r, name, typ)
	if isNotFound(err) {
		ghost := metadata.Account{Name: name, Type: typ}
		if ghost.Type == "" {
			ghost.Type = metadata.AccountUser
		}
		if cerr := check(ghost); cerr != nil {
			return metadata.Account{}, cerr
		}
	}
	if err != nil {
		return metadata.Account{}, err
	}
	if err := check(a); err != nil {
		return metadata.Account{}, err
	}
	return a, nil
}

// isNotFound reports whether err is a 404 of the API.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusNotFound
}

// manageTokens is the check of accountForManagement for tokens of kind.
func (s *Server) manageTokens(r bunrouter.Request, p auth.Principal, kind metadata.TokenKind) func(metadata.Account) error {
	return func(a metadata.Account) error { return s.opts.auth.ManageTokens(r.Context(), p, a, kind) }
}

// manageOrg is the check of accountForManagement for an organization.
func (s *Server) manageOrg(r bunrouter.Request, p auth.Principal) func(metadata.Account) error {
	return func(a metadata.Account) error { return s.opts.auth.ManageOrg(r.Context(), p, a) }
}

func (s *Server) apiListTokens(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	u, err := s.accountForManagement(r, p, r.Param("name"), metadata.AccountUser, s.manageTokens(r, p, metadata.TokenPersonal))
	if err != nil {
		return err
	}
	ts, err := s.tokensOf(r, p, u, metadata.TokenPersonal)
	if err != nil {
		return err
	}
	return writeAPI(w, r.Request, http.StatusOK, tokenList(ts))
}

func (s *Server) apiDeleteToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	u, err := s.accountForManagement(r, p, r.Param("name"), metadata.AccountUser, s.manageTokens(r, p, metadata.TokenPersonal))
	if err != nil {
		return err
	}
	return s.deleteTokenOf(w, r, p, u, metadata.TokenPersonal, r.Param("id"))
}

func (s *Server) apiListDeployTokens(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	o, err := s.accountForManagement(r, p, r.Param("owner"), "", s.manageTokens(r, p, metadata.TokenDeploy))
	if err != nil {
		return err
	}
	ts, err := s.tokensOf(r, p, o, metadata.TokenDeploy)
	if err != nil {
		return err
	}
	return writeAPI(w, r.Request, http.StatusOK, tokenList(ts))
}

func (s *Server) apiCreateDeployToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	o, err := s.accountForManagement(r, p, r.Param("owner"), "", s.manageTokens(r, p, metadata.TokenDeploy))
	if err != nil {
		return err
	}
	var opts tokenOptions
	if err := readJSON(r.Request, &opts); err != nil {
		return err
	}
	return s.createToken(w, r, opts.token(metadata.TokenDeploy, o.Name))
}

func (s *Server) apiDeleteDeployToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	o, err := s.accountForManagement(r, p, r.Param("owner"), "", s.manageTokens(r, p, metadata.TokenDeploy))
	if err != nil {
		return err
	}
	return s.deleteTokenOf(w, r, p, o, metadata.TokenDeploy, r.Param("id"))
}

// accountOptions is the body of user and organization creation and
// edits (Gitea's CreateUserOption, EditUserOption, CreateOrgOption).
type accountOptions struct {
	Username   string  `json:"username"`
	Name       string  `json:"name"`
	Password   *string `json:"password"`
	Email      *string `json:"email"`
	FullName   *string `json:"full_name"`
	Visibility *string `json:"visibility"`
	Admin      *bool   `json:"admin"`
}

// apply sets the optional fields on a; the password is hashed.
func (s *Server) apply(r bunrouter.Request, o accountOptions, a *metadata.Account) error {
	if o.Visibility != nil {
		switch v := metadata.Visibility(strings.ToLower(*o.Visibility)); v {
		case metadata.VisibilityPublic, metadata.VisibilityPrivate, metadata.VisibilityLimited:
			a.Visibility = v
		default:
			return apiErrorf(http.StatusUnprocessableEntity, "visibility must be public, limited or private")
		}
	}
	if o.Email != nil {
		a.Email = strings.TrimSpace(*o.Email)
	}
	if o.FullName != nil {
		a.FullName = strings.TrimSpace(*o.FullName)
	}
	if o.Admin != nil {
		a.SiteAdmin = *o.Admin
	}
	if o.Password != nil {
		if a.Type != metadata.AccountUser {
			return apiErrorf(http.StatusUnprocessableEntity, "organizations have no password")
		}
		h, err := s.opts.auth.HashPassword(r.Context(), *o.Password)
		if err != nil {
			if errors.Is(err, r.Context().Err()) {
				return err
			}
			return apiErrorf(http.StatusUnprocessableEntity, "%v", err)
		}
		a.PasswordHash = h
	}
	return nil
}

func (s *Server) apiAdminListAccounts(typ metadata.AccountType) apiHandler {
	return func(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
		if err := s.opts.auth.RequireSiteAdmin(p); err != nil {
			return err
		}
		all, _, err := s.opts.auth.Identity().Accounts(r.Context(), "", -1)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		out := []any{}
		for _, a := range all {
			switch {
			case a.Type != typ:
			case typ == metadata.AccountUser:
				out = append(out, userObject(a, p))
			default:
				out = append(out, orgObject(a))
			}
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(len(out)))
		return writeAPI(w, r.Request, http.StatusOK, out)
	}
}

func (s *Server) apiAdminCreateUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.opts.auth.RequireSiteAdmin(p); err != nil {
		return err
	}
	var o accountOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	if err := auth.ValidName(o.Username); err != nil {
		return apiErrorf(http.StatusUnprocessableEntity, "%v", err)
	}
	if o.Password == nil {
		return apiErrorf(http.StatusUnprocessableEntity, "password is required")
	}
	if err := s.nameFree(r.Context(), o.Username); err != nil {
		return err
	}
	a := metadata.Account{Name: o.Username, Type: metadata.AccountUser, Visibility: metadata.VisibilityPublic}
	if err := s.apply(r, o, &a); err != nil {
		return err
	}
	a, err := s.opts.auth.Identity().CreateAccount(r.Context(), a)
	if errors.Is(err, metadata.ErrExists) {
		return apiErrorf(http.StatusUnprocessableEntity, "user already exists [name: %s]", o.Username)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	s.opts.log.InfoContext(r.Context(), "user created", "user", a.Name, "admin", a.SiteAdmin, "by", p.String())
	return writeAPI(w, r.Request, http.StatusCreated, userObject(a, p))
}

func (s *Server) apiAdminEditUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.opts.auth.RequireSiteAdmin(p); err != nil {
		return err
	}
	a, err := s.account(r, r.Param("name"), metadata.AccountUser)
	if err != nil {
		return err
	}
	var o accountOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	if err := s.apply(r, o, &a); err != nil {
		return err
	}
	if err := s.opts.auth.Identity().UpdateAccount(r.Context(), a); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	s.opts.log.InfoContext(r.Context(), "user updated", "user", a.Name, "by", p.String())
	return writeAPI(w, r.Request, http.StatusOK, userObject(a, p))
}
