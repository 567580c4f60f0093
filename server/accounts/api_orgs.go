package accounts

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	spec "github.com/regkit/regkit/spec/accounts"
)

// Organizations and their members, of the account API (see api_users.go).

func (s *API) apiCreateOrg(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	if err := s.auth.RequirePassword(p); err != nil {
		return err
	}
	var o spec.AccountOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	if o.Username == "" {
		o.Username = o.Name
	}
	if err := auth.ValidName(o.Username); err != nil {
		return apiErrorf(http.StatusUnprocessableEntity, "%v", err)
	}
	o.Password, o.Admin = nil, nil
	if err := s.nameFree(r.Context(), o.Username); err != nil {
		return err
	}
	a := metadata.Account{Name: o.Username, Type: metadata.AccountOrganization, Visibility: metadata.VisibilityPublic}
	if err := s.apply(r, o, &a); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.auth.Identity().CreateAccount(ctx, a)
	if errors.Is(err, metadata.ErrExists) {
		return apiErrorf(http.StatusUnprocessableEntity, "user already exists [name: %s]", o.Username)
	}
	if err != nil {
		return fmt.Errorf("create organization: %w", err)
	}
	if err := s.auth.Identity().SetMember(ctx, a.Name, p.User.Name, metadata.RoleAdmin); err != nil {
		return fmt.Errorf("add the creator to the organization: %w", err)
	}
	s.log.InfoContext(ctx, "organization created", "org", a.Name, "by", p.String())
	return writeAPI(w, r.Request, http.StatusCreated, orgObject(a))
}

// member reports whether p's user is a member of org.
func (s *API) member(r bunrouter.Request, p auth.Principal, org metadata.Account) (bool, error) {
	if p.User == nil {
		return false, nil
	}
	_, err := s.auth.Identity().GetMember(r.Context(), org.Name, p.User.Name)
	if errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// orgForReading returns org when p may see it: public organizations, its
// members and site admins.
func (s *API) orgForReading(r bunrouter.Request, p auth.Principal, name string, membersOnly bool) (metadata.Account, error) {
	a, err := s.account(r, name, metadata.AccountOrganization)
	if err != nil {
		if !p.Authenticated() {
			return metadata.Account{}, auth.ErrUnauthenticated
		}
		return metadata.Account{}, err
	}
	if p.SiteAdmin() || a.Visibility.ReadableBy(p.User != nil) && !membersOnly {
		return a, nil
	}
	ok, err := s.member(r, p, a)
	if err != nil {
		return metadata.Account{}, fmt.Errorf("membership lookup: %w", err)
	}
	if ok {
		return a, nil
	}
	if !p.Authenticated() {
		return metadata.Account{}, auth.ErrUnauthenticated
	}
	if a.Visibility.ReadableBy(p.User != nil) {
		return metadata.Account{}, apiErrorf(http.StatusForbidden, "only members of %s may see its members", a.Name)
	}
	return metadata.Account{}, apiErrorf(http.StatusNotFound, "organization %q does not exist", name)
}

func (s *API) apiGetOrg(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.orgForReading(r, p, r.Param("org"), false)
	if err != nil {
		return err
	}
	return writeAPI(w, r.Request, http.StatusOK, orgObject(a))
}

func (s *API) apiEditOrg(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.accountForManagement(r, p, r.Param("org"), metadata.AccountOrganization, s.manageOrg(r, p))
	if err != nil {
		return err
	}
	var o spec.AccountOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	o.Password, o.Admin = nil, nil
	if err := s.apply(r, o, &a); err != nil {
		return err
	}
	if err := s.auth.Identity().UpdateAccount(r.Context(), a); err != nil {
		return fmt.Errorf("update organization: %w", err)
	}
	return writeAPI(w, r.Request, http.StatusOK, orgObject(a))
}

func (s *API) apiDeleteOrg(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.accountForManagement(r, p, r.Param("org"), metadata.AccountOrganization, s.manageOrg(r, p))
	if err != nil {
		return err
	}
	purge, err := purgeParam(r)
	if err != nil {
		return err
	}
	return s.deleteOwner(w, r, a, "organization", purge)
}

func (s *API) apiListMembers(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.orgForReading(r, p, r.Param("org"), true)
	if err != nil {
		return err
	}
	ms, err := s.auth.Identity().Members(r.Context(), a.Name)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	out := make([]spec.User, 0, len(ms))
	for _, m := range ms {
		u, err := s.auth.Identity().GetAccount(r.Context(), m.User)
		if err != nil {
			continue
		}
		o := userObject(u, p)
		o.Role = string(m.Role)
		out = append(out, o)
	}
	return writeAPI(w, r.Request, http.StatusOK, out)
}

func (s *API) apiIsMember(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.orgForReading(r, p, r.Param("org"), true)
	if err != nil {
		return err
	}
	_, err = s.auth.Identity().GetMember(r.Context(), a.Name, r.Param("user"))
	if errors.Is(err, metadata.ErrNotFound) {
		return apiErrorf(http.StatusNotFound, "%s is not a member of %s", r.Param("user"), a.Name)
	}
	if err != nil {
		return fmt.Errorf("membership lookup: %w", err)
	}
	return noContent(w)
}

func (s *API) apiSetMember(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	a, err := s.accountForManagement(r, p, r.Param("org"), metadata.AccountOrganization, s.manageOrg(r, p))
	if err != nil {
		return err
	}
	var o spec.MemberOptions
	if err := readJSON(r.Request, &o); err != nil {
		return err
	}
	role := metadata.RoleRead // the default when the body names none
	if o.Role != nil {
		switch v := metadata.Role(*o.Role); v {
		case metadata.RoleRead, metadata.RoleWrite, metadata.RoleAdmin:
			role = v
		default:
			return apiErrorf(http.StatusUnprocessableEntity, "role %q is not a role: it must be read, write or admin (lowercase)", core.ClipText(*o.Role, 32))
		}
	}
	if _, err := s.account(r, r.Param("user"), metadata.AccountUser); err != nil {
		return err
	}
	if err := s.auth.Identity().SetMember(r.Context(), a.Name, r.Param("user"), role); err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	s.log.InfoContext(r.Context(), "member set", "org", a.Name, "user", r.Param("user"), "role", role, "by", p.String())
	return noContent(w)
}

func (s *API) apiDeleteMember(w http.ResponseWriter, r bunrouter.Request, p auth.Principal) error {
	user, org := r.Param("user"), r.Param("org")
	self := p.User != nil && p.Method == auth.MethodPassword && metadata.NameKey(p.User.Name) == metadata.NameKey(user)
	check := s.manageOrg(r, p)
	if self {
		check = func(metadata.Account) error { return nil } // a member may leave
	}
	notMember := apiErrorf(http.StatusNotFound, "%s is not a member of %s", user, org)
	a, err := s.accountForManagement(r, p, org, metadata.AccountOrganization, check)
	if isNotFound(err) && self {
		return notMember // as for an organization one is not a member of
	}
	if err != nil {
		return err
	}
	err = s.auth.Identity().DeleteMember(r.Context(), a.Name, user)
	if errors.Is(err, metadata.ErrNotFound) {
		return notMember
	}
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	return noContent(w)
}
