package accounts

import (
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
	spec "github.com/regkit/regkit/spec/accounts"
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

// maxAPIBody bounds a JSON request body.
const maxAPIBody = 64 << 10

// apiErrorf returns the error answered with status and the message.
func apiErrorf(status int, format string, args ...any) error {
	return core.APIErrorf(status, format, args...)
}

// apiHandler is an /api/v1 handler given the caller's principal.
type apiHandler func(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error

// api wraps h: refuses invalid credentials with 401 and writes h's
// errors as JSON.
func (s *API) api(h apiHandler) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, r bunrouter.Request) error {
		res := core.AuthOf(r.Context())
		err := res.Err
		if err == nil {
			err = h(w, r, res.Principal)
		}
		if err != nil {
			s.writeAPIError(w, r.Request, err)
		}
		return nil
	}
}

// writeAPIError writes err as {"message","url"} with its status.
func (s *API) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	core.WriteAPIError(w, r, err, s.log, s.auth.Service(), s.unavailable)
}

// handlers maps every route of spec/accounts to its handler. A test
// checks that every row of accounts.Routes() has one.
func (s *API) handlers() map[spec.RouteID]apiHandler {
	return map[spec.RouteID]apiHandler{
		spec.RouteCurrentUser:       s.apiCurrentUser,
		spec.RouteGetUser:           s.apiGetUser,
		spec.RouteCreateToken:       s.apiCreateToken,
		spec.RouteListTokens:        s.apiListTokens,
		spec.RouteDeleteToken:       s.apiDeleteToken,
		spec.RouteAdminListUsers:    s.apiAdminListAccounts(metadata.AccountUser),
		spec.RouteAdminCreateUser:   s.apiAdminCreateUser,
		spec.RouteAdminEditUser:     s.apiAdminEditUser,
		spec.RouteAdminDeleteUser:   s.apiAdminDeleteUser,
		spec.RouteAdminListOrgs:     s.apiAdminListAccounts(metadata.AccountOrganization),
		spec.RouteCreateOrg:         s.apiCreateOrg,
		spec.RouteGetOrg:            s.apiGetOrg,
		spec.RouteEditOrg:           s.apiEditOrg,
		spec.RouteDeleteOrg:         s.apiDeleteOrg,
		spec.RouteListMembers:       s.apiListMembers,
		spec.RouteIsMember:          s.apiIsMember,
		spec.RouteSetMember:         s.apiSetMember,
		spec.RouteDeleteMember:      s.apiDeleteMember,
		spec.RouteListDeployTokens:  s.apiListDeployTokens,
		spec.RouteCreateDeployToken: s.apiCreateDeployToken,
		spec.RouteDeleteDeployToken: s.apiDeleteDeployToken,
	}
}

// Routes registers the /api/v1 account and token API on r, one route per
// row of spec/accounts' table.
func (s *API) Routes(r *bunrouter.Router) {
	hs := s.handlers()
	for _, rt := range spec.Routes() {
		r.Handle(rt.Method, rt.Pattern(), s.api(hs[rt.ID]))
	}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// userObject renders a; the email only for the user and site admins.
func userObject(a metadata.Account, viewer auth.Principal) spec.User {
	u := spec.User{ID: a.ID, Login: a.Name, Username: a.Name, FullName: a.FullName, IsAdmin: a.SiteAdmin,
		Visibility: string(a.Visibility), Created: rfc3339(a.Created)}
	if viewer.SiteAdmin() || viewer.User != nil && metadata.NameKey(viewer.User.Name) == metadata.NameKey(a.Name) {
		u.Email = a.Email
	}
	return u
}

func orgObject(a metadata.Account) spec.Org {
	return spec.Org{ID: a.ID, Name: a.Name, Username: a.Name, FullName: a.FullName, Visibility: string(a.Visibility)}
}

func tokenObject(t metadata.Token, secret string) spec.Token {
	o := spec.Token{ID: t.ID, Name: t.Name, SHA1: secret, TokenLastEight: t.LastEight, Scopes: t.Scopes,
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
	return core.WriteJSON(w, r, status, "application/json", v)
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// account looks an account of typ up ("" any type); 404 when absent.
func (s *API) account(r bunrouter.Request, name string, typ metadata.AccountType) (metadata.Account, error) {
	a, err := s.auth.Identity().GetAccount(r.Context(), name)
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

func (s *API) apiCurrentUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
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
func (s *API) apiGetUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
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

// tokenFrom is the token that the creation body o asks for.
func tokenFrom(o spec.TokenOptions, kind metadata.TokenKind, owner string) metadata.Token {
	t := metadata.Token{Kind: kind, Owner: owner, Name: strings.Trim(o.Name, " "), Scopes: o.Scopes, PackageTypes: o.PackageTypes}
	if o.ExpiresAt != nil {
		t.Expires = *o.ExpiresAt
	}
	return t
}

// createToken creates a token and answers 201 with its secret.
func (s *API) createToken(w http.ResponseWriter, r bunrouter.Request, t metadata.Token) error {
	secret, t, err := s.auth.NewToken(r.Context(), t)
	switch {
	case errors.Is(err, metadata.ErrExists):
		return apiErrorf(http.StatusBadRequest, "access token name has been used already")
	case err != nil:
		return err
	}
	s.log.InfoContext(r.Context(), "token created", "token_id", t.ID, "kind", t.Kind, "owner", t.Owner, "scopes", t.Scopes)
	return writeAPI(w, r.Request, http.StatusCreated, tokenObject(t, secret))
}

// tokensOf lists the tokens of owner's kind after checking p may manage
// them.
func (s *API) tokensOf(r bunrouter.Request, p auth.Principal, owner metadata.Account, kind metadata.TokenKind) ([]metadata.Token, error) {
	if err := s.auth.ManageTokens(r.Context(), p, owner, kind); err != nil {
		return nil, err
	}
	ts, err := s.auth.Identity().Tokens(r.Context(), owner.Name, kind)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

func tokenList(ts []metadata.Token) []spec.Token {
	out := make([]spec.Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenObject(t, ""))
	}
	return out
}

// deleteTokenOf deletes the token ref (an ID or a name) of owner's kind.
func (s *API) deleteTokenOf(w http.ResponseWriter, r bunrouter.Request, p auth.Principal, owner metadata.Account, kind metadata.TokenKind, ref string) error {
	ts, err := s.tokensOf(r, p, owner, kind)
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	for _, t := range ts {
		if t.ID == id && id != 0 || metadata.NameKey(t.Name) == metadata.NameKey(ref) {
			if err := s.auth.Identity().DeleteToken(r.Context(), t.ID); err != nil && !errors.Is(err, metadata.ErrNotFound) {
				return fmt.Errorf("delete token: %w", err)
			}
			s.log.InfoContext(r.Context(), "token deleted", "token_id", t.ID, "kind", t.Kind, "owner", t.Owner)
			return noContent(w)
		}
	}
	return apiErrorf(http.StatusNotFound, "token %q does not exist", ref)
}

func (s *API) apiCreateToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	u, err := s.accountForManagement(r, p, r.Param("name"), metadata.AccountUser, s.manageTokens(r, p, metadata.TokenPersonal))
	if err != nil {
		return err
	}
	var o spec.TokenOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	return s.createToken(w, r, tokenFrom(o, metadata.TokenPersonal, u.Name))
}

// accountForManagement looks up the target of a management request and
// checks that p may manage it. Strangers learn nothing about accounts
// they may not see: anonymous callers get 401 before any lookup, and for
// a missing account check decides as for an account of that name the
// caller has no right on, so that "missing" and "not yours" answer alike;
// only callers check lets through (site admins) learn it is missing (404).
func (s *API) accountForManagement(r bunrouter.Request, p auth.Principal, name string, typ metadata.AccountType, check func(metadata.Account) error) (metadata.Account, error) {
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
	var ae *core.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// manageTokens is the check of accountForManagement for tokens of kind.
func (s *API) manageTokens(r bunrouter.Request, p auth.Principal, kind metadata.TokenKind) func(metadata.Account) error {
	return func(a metadata.Account) error { return s.auth.ManageTokens(r.Context(), p, a, kind) }
}

// manageOrg is the check of accountForManagement for an organization.
func (s *API) manageOrg(r bunrouter.Request, p auth.Principal) func(metadata.Account) error {
	return func(a metadata.Account) error { return s.auth.ManageOrg(r.Context(), p, a) }
}

func (s *API) apiListTokens(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
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

func (s *API) apiDeleteToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	u, err := s.accountForManagement(r, p, r.Param("name"), metadata.AccountUser, s.manageTokens(r, p, metadata.TokenPersonal))
	if err != nil {
		return err
	}
	return s.deleteTokenOf(w, r, p, u, metadata.TokenPersonal, r.Param("id"))
}

func (s *API) apiListDeployTokens(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
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

func (s *API) apiCreateDeployToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	o, err := s.accountForManagement(r, p, r.Param("owner"), "", s.manageTokens(r, p, metadata.TokenDeploy))
	if err != nil {
		return err
	}
	var opts spec.TokenOptions
	if err := readJSON(r.Request, &opts); err != nil {
		return err
	}
	return s.createToken(w, r, tokenFrom(opts, metadata.TokenDeploy, o.Name))
}

func (s *API) apiDeleteDeployToken(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	o, err := s.accountForManagement(r, p, r.Param("owner"), "", s.manageTokens(r, p, metadata.TokenDeploy))
	if err != nil {
		return err
	}
	return s.deleteTokenOf(w, r, p, o, metadata.TokenDeploy, r.Param("id"))
}

// apply sets the optional fields on a; the password is hashed.
func (s *API) apply(r bunrouter.Request, o spec.AccountOptions, a *metadata.Account) error {
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
		h, err := s.auth.HashPassword(r.Context(), *o.Password)
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

func (s *API) apiAdminListAccounts(typ metadata.AccountType) apiHandler {
	return func(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
		if err := s.auth.RequireSiteAdmin(p); err != nil {
			return err
		}
		all, _, err := s.auth.Identity().Accounts(r.Context(), "", -1)
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

func (s *API) apiAdminCreateUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.auth.RequireSiteAdmin(p); err != nil {
		return err
	}
	var o spec.AccountOptions
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
	a, err := s.auth.Identity().CreateAccount(r.Context(), a)
	if errors.Is(err, metadata.ErrExists) {
		return apiErrorf(http.StatusUnprocessableEntity, "user already exists [name: %s]", o.Username)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	s.log.InfoContext(r.Context(), "user created", "user", a.Name, "admin", a.SiteAdmin, "by", p.String())
	return writeAPI(w, r.Request, http.StatusCreated, userObject(a, p))
}

func (s *API) apiAdminEditUser(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.auth.RequireSiteAdmin(p); err != nil {
		return err
	}
	a, err := s.account(r, r.Param("name"), metadata.AccountUser)
	if err != nil {
		return err
	}
	var o spec.AccountOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	if err := s.apply(r, o, &a); err != nil {
		return err
	}
	if err := s.auth.Identity().UpdateAccount(r.Context(), a); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	s.log.InfoContext(r.Context(), "user updated", "user", a.Name, "by", p.String())
	return writeAPI(w, r.Request, http.StatusOK, userObject(a, p))
}
