package accounts

import (
	"context"
	"errors"

	spec "github.com/regkit/regkit/spec/accounts"
)

// routeMethods maps every route of spec/accounts to the method that sends
// it; TestEveryRouteHasAMethod checks it against the table and the method
// set of *Client.
var routeMethods = map[spec.RouteID]string{
	spec.RouteCurrentUser:       "CurrentUser",
	spec.RouteGetUser:           "User",
	spec.RouteCreateToken:       "CreateToken",
	spec.RouteListTokens:        "Tokens",
	spec.RouteDeleteToken:       "DeleteToken",
	spec.RouteAdminListUsers:    "Users",
	spec.RouteAdminCreateUser:   "CreateUser",
	spec.RouteAdminEditUser:     "EditUser",
	spec.RouteAdminDeleteUser:   "DeleteUser",
	spec.RouteAdminListOrgs:     "Orgs",
	spec.RouteCreateOrg:         "CreateOrg",
	spec.RouteGetOrg:            "Org",
	spec.RouteEditOrg:           "EditOrg",
	spec.RouteDeleteOrg:         "DeleteOrg",
	spec.RouteListMembers:       "Members",
	spec.RouteIsMember:          "IsMember",
	spec.RouteSetMember:         "SetMember",
	spec.RouteDeleteMember:      "RemoveMember",
	spec.RouteListDeployTokens:  "DeployTokens",
	spec.RouteCreateDeployToken: "CreateDeployToken",
	spec.RouteDeleteDeployToken: "DeleteDeployToken",
}

// CurrentUser returns the caller's own account.
func (c *Client) CurrentUser(ctx context.Context) (User, error) {
	var u User
	return u, c.do(ctx, call{route: spec.RouteCurrentUser}, &u)
}

// User returns the user name (public users, the user itself, site admins).
func (c *Client) User(ctx context.Context, name string) (User, error) {
	var u User
	return u, c.do(ctx, call{route: spec.RouteGetUser, args: []string{name}}, &u)
}

// CreateToken creates a personal token of user (with a password login);
// the answer's SHA1 is the secret, shown only here.
func (c *Client) CreateToken(ctx context.Context, user string, o TokenOptions) (Token, error) {
	var t Token
	return t, c.do(ctx, call{route: spec.RouteCreateToken, args: []string{user}, body: o}, &t)
}

// Tokens lists the personal tokens of user, without their secrets.
func (c *Client) Tokens(ctx context.Context, user string) ([]Token, error) {
	var ts []Token
	return ts, c.do(ctx, call{route: spec.RouteListTokens, args: []string{user}}, &ts)
}

// DeleteToken deletes a personal token of user by ID (see ID) or name.
func (c *Client) DeleteToken(ctx context.Context, user, idOrName string) error {
	return c.do(ctx, call{route: spec.RouteDeleteToken, args: []string{user, idOrName}}, nil)
}

// Users lists every user (site admins).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var us []User
	return us, c.do(ctx, call{route: spec.RouteAdminListUsers}, &us)
}

// CreateUser creates a user (site admins); o needs Username and Password.
func (c *Client) CreateUser(ctx context.Context, o AccountOptions) (User, error) {
	var u User
	return u, c.do(ctx, call{route: spec.RouteAdminCreateUser, body: o}, &u)
}

// EditUser changes the fields o sets of user name (site admins).
func (c *Client) EditUser(ctx context.Context, name string, o AccountOptions) (User, error) {
	var u User
	return u, c.do(ctx, call{route: spec.RouteAdminEditUser, args: []string{name}, body: o}, &u)
}

// DeleteUser deletes user name (site admins); a user that still owns
// repositories or packages is deleted only with purge, which deletes them
// too.
func (c *Client) DeleteUser(ctx context.Context, name string, withContent bool) error {
	return c.do(ctx, call{route: spec.RouteAdminDeleteUser, args: []string{name}, query: purge(withContent)}, nil)
}

// Orgs lists every organization (site admins).
func (c *Client) Orgs(ctx context.Context) ([]Org, error) {
	var os []Org
	return os, c.do(ctx, call{route: spec.RouteAdminListOrgs}, &os)
}

// CreateOrg creates an organization whose admin the caller becomes; o
// needs Username.
func (c *Client) CreateOrg(ctx context.Context, o AccountOptions) (Org, error) {
	var org Org
	return org, c.do(ctx, call{route: spec.RouteCreateOrg, body: o}, &org)
}

// Org returns organization name (public ones, members, site admins).
func (c *Client) Org(ctx context.Context, name string) (Org, error) {
	var org Org
	return org, c.do(ctx, call{route: spec.RouteGetOrg, args: []string{name}}, &org)
}

// EditOrg changes the fields o sets of organization name (org admins,
// site admins).
func (c *Client) EditOrg(ctx context.Context, name string, o AccountOptions) (Org, error) {
	var org Org
	return org, c.do(ctx, call{route: spec.RouteEditOrg, args: []string{name}, body: o}, &org)
}

// DeleteOrg deletes organization name, with purge also what it owns.
func (c *Client) DeleteOrg(ctx context.Context, name string, withContent bool) error {
	return c.do(ctx, call{route: spec.RouteDeleteOrg, args: []string{name}, query: purge(withContent)}, nil)
}

// Members lists the members of org with their roles.
func (c *Client) Members(ctx context.Context, org string) ([]User, error) {
	var us []User
	return us, c.do(ctx, call{route: spec.RouteListMembers, args: []string{org}}, &us)
}

// IsMember reports whether user is a member of org.
func (c *Client) IsMember(ctx context.Context, org, user string) (bool, error) {
	err := c.do(ctx, call{route: spec.RouteIsMember, args: []string{org, user}}, nil)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// SetMember adds user to org or changes its role: read, write or admin.
func (c *Client) SetMember(ctx context.Context, org, user, role string) error {
	return c.do(ctx, call{route: spec.RouteSetMember, args: []string{org, user}, body: spec.MemberOptions{Role: &role}}, nil)
}

// RemoveMember removes user from org.
func (c *Client) RemoveMember(ctx context.Context, org, user string) error {
	return c.do(ctx, call{route: spec.RouteDeleteMember, args: []string{org, user}}, nil)
}

// DeployTokens lists the deploy tokens of owner, without their secrets.
func (c *Client) DeployTokens(ctx context.Context, owner string) ([]Token, error) {
	var ts []Token
	return ts, c.do(ctx, call{route: spec.RouteListDeployTokens, args: []string{owner}}, &ts)
}

// CreateDeployToken creates a deploy token of owner (a user or an
// organization), limited to o.PackageTypes when set; SHA1 is the secret.
func (c *Client) CreateDeployToken(ctx context.Context, owner string, o TokenOptions) (Token, error) {
	var t Token
	return t, c.do(ctx, call{route: spec.RouteCreateDeployToken, args: []string{owner}, body: o}, &t)
}

// DeleteDeployToken deletes a deploy token of owner by ID (see ID) or
// name.
func (c *Client) DeleteDeployToken(ctx context.Context, owner, idOrName string) error {
	return c.do(ctx, call{route: spec.RouteDeleteDeployToken, args: []string{owner, idOrName}}, nil)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
