package accounts

import (
	"net/http"
	"slices"

	"github.com/regkit/regkit/spec/internal/routetab"
)

// RouteID identifies one endpoint of the account and token API.
type RouteID string

// The routes of the account and token API.
const (
	// RouteCurrentUser: GET /api/v1/user.
	RouteCurrentUser RouteID = "acc-current-user"
	// RouteGetUser: GET /api/v1/users/<name>.
	RouteGetUser RouteID = "acc-get-user"
	// RouteCreateToken: POST /api/v1/users/<name>/tokens.
	RouteCreateToken RouteID = "acc-create-token"
	// RouteListTokens: GET /api/v1/users/<name>/tokens.
	RouteListTokens RouteID = "acc-list-tokens"
	// RouteDeleteToken: DELETE /api/v1/users/<name>/tokens/<id>.
	RouteDeleteToken RouteID = "acc-delete-token"
	// RouteAdminListUsers: GET /api/v1/admin/users.
	RouteAdminListUsers RouteID = "acc-admin-list-users"
	// RouteAdminCreateUser: POST /api/v1/admin/users.
	RouteAdminCreateUser RouteID = "acc-admin-create-user"
	// RouteAdminEditUser: PATCH /api/v1/admin/users/<name>.
	RouteAdminEditUser RouteID = "acc-admin-edit-user"
	// RouteAdminDeleteUser: DELETE /api/v1/admin/users/<name>.
	RouteAdminDeleteUser RouteID = "acc-admin-delete-user"
	// RouteAdminListOrgs: GET /api/v1/admin/orgs.
	RouteAdminListOrgs RouteID = "acc-admin-list-orgs"
	// RouteCreateOrg: POST /api/v1/orgs.
	RouteCreateOrg RouteID = "acc-create-org"
	// RouteGetOrg: GET /api/v1/orgs/<org>.
	RouteGetOrg RouteID = "acc-get-org"
	// RouteEditOrg: PATCH /api/v1/orgs/<org>.
	RouteEditOrg RouteID = "acc-edit-org"
	// RouteDeleteOrg: DELETE /api/v1/orgs/<org>.
	RouteDeleteOrg RouteID = "acc-delete-org"
	// RouteListMembers: GET /api/v1/orgs/<org>/members.
	RouteListMembers RouteID = "acc-list-members"
	// RouteIsMember: GET /api/v1/orgs/<org>/members/<user>.
	RouteIsMember RouteID = "acc-is-member"
	// RouteSetMember: PUT /api/v1/orgs/<org>/members/<user>.
	RouteSetMember RouteID = "acc-set-member"
	// RouteDeleteMember: DELETE /api/v1/orgs/<org>/members/<user>.
	RouteDeleteMember RouteID = "acc-delete-member"
	// RouteListDeployTokens: GET /api/v1/owners/<owner>/deploy_tokens.
	RouteListDeployTokens RouteID = "acc-list-deploy-tokens"
	// RouteCreateDeployToken: POST /api/v1/owners/<owner>/deploy_tokens.
	RouteCreateDeployToken RouteID = "acc-create-deploy-token"
	// RouteDeleteDeployToken: DELETE /api/v1/owners/<owner>/deploy_tokens/<id>.
	RouteDeleteDeployToken RouteID = "acc-delete-deploy-token"
)

// Prefix starts every path of the API.
const Prefix = "/api/v1/"

// Route is one row of the route table.
type Route struct {
	// ID is the stable route ID.
	ID RouteID
	// Method is the HTTP method.
	Method string
	// Path is the pattern, with <name>, <org>, <user>, <owner> and <id>
	// placeholders (<id> is a token's ID or name).
	Path string
	// Query lists the query parameters the route reads.
	Query []string
	// Success is the success status.
	Success int
	// Extension marks routes Gitea does not have (regkit extensions).
	Extension bool
	// Summary is one human-readable line.
	Summary string
}

// Pattern returns r's path as a bunrouter pattern: each <placeholder>
// becomes a :placeholder parameter.
func (r Route) Pattern() string { return routetab.Pattern(r.Path) }

const (
	users  = "/api/v1/users/<name>"
	admin  = "/api/v1/admin"
	orgs   = "/api/v1/orgs"
	org    = orgs + "/<org>"
	member = org + "/members/<user>"
	deploy = "/api/v1/owners/<owner>/deploy_tokens"
)

var routes = []Route{
	{RouteCurrentUser, http.MethodGet, "/api/v1/user", nil, 200, false, "The caller's user"},
	{RouteGetUser, http.MethodGet, users, nil, 200, false, "A user (public users, the user, site admins)"},
	{RouteCreateToken, http.MethodPost, users + "/tokens", nil, 201, false, "Create a personal token (password login)"},
	{RouteListTokens, http.MethodGet, users + "/tokens", nil, 200, false, "List a user's personal tokens, without secrets"},
	{RouteDeleteToken, http.MethodDelete, users + "/tokens/<id>", nil, 204, false, "Delete a personal token by ID or name"},
	{RouteAdminListUsers, http.MethodGet, admin + "/users", nil, 200, false, "Site admins: list users"},
	{RouteAdminCreateUser, http.MethodPost, admin + "/users", nil, 201, false, "Site admins: create a user"},
	{RouteAdminEditUser, http.MethodPatch, admin + "/users/<name>", nil, 200, false, "Site admins: edit a user (password, visibility, admin, ...)"},
	{RouteAdminDeleteUser, http.MethodDelete, admin + "/users/<name>", []string{"purge"}, 204, false, "Site admins: delete a user, with purge everything it owns"},
	{RouteAdminListOrgs, http.MethodGet, admin + "/orgs", nil, 200, false, "Site admins: list organizations"},
	{RouteCreateOrg, http.MethodPost, orgs, nil, 201, false, "Create an organization; the creator becomes its admin"},
	{RouteGetOrg, http.MethodGet, org, nil, 200, false, "An organization (public ones, members, site admins)"},
	{RouteEditOrg, http.MethodPatch, org, nil, 200, false, "Edit an organization (org admins, site admins)"},
	{RouteDeleteOrg, http.MethodDelete, org, []string{"purge"}, 204, false, "Delete an organization (org admins, site admins)"},
	{RouteListMembers, http.MethodGet, org + "/members", nil, 200, false, "List an organization's members"},
	{RouteIsMember, http.MethodGet, member, nil, 204, false, "204 when the user is a member, else 404"},
	{RouteSetMember, http.MethodPut, member, nil, 204, true, "Add a member or set its role (body {\"role\"})"},
	{RouteDeleteMember, http.MethodDelete, member, nil, 204, false, "Remove a member (org admins, site admins, the member)"},
	{RouteListDeployTokens, http.MethodGet, deploy, nil, 200, true, "List an owner's deploy tokens"},
	{RouteCreateDeployToken, http.MethodPost, deploy, nil, 201, true, "Create a deploy token (body {\"name\",\"scopes\",\"package_types\",\"expires_at\"})"},
	{RouteDeleteDeployToken, http.MethodDelete, deploy + "/<id>", nil, 204, true, "Delete a deploy token"},
}

func cloneRoute(r Route) Route {
	r.Query = slices.Clone(r.Query)
	return r
}

// Routes returns the full route table (a copy).
func Routes() []Route { return routetab.Copy(routes, cloneRoute) }

// Lookup returns the route with id.
func Lookup(id RouteID) (Route, bool) {
	return routetab.Find(routes, id, func(r Route) RouteID { return r.ID }, cloneRoute)
}
