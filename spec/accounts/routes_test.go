package accounts

import (
	"strings"
	"testing"
)

// TestTable checks that IDs are unique and stable-looking, paths sit
// under the prefix, and no two rows share a method and pattern.
func TestTable(t *testing.T) {
	ids := map[RouteID]bool{}
	keys := map[string]RouteID{}
	for _, r := range Routes() {
		if !strings.HasPrefix(string(r.ID), "acc-") {
			t.Errorf("route ID %q does not start with acc-", r.ID)
		}
		if ids[r.ID] {
			t.Errorf("route ID %s appears twice", r.ID)
		}
		ids[r.ID] = true
		if !strings.HasPrefix(r.Path, Prefix) {
			t.Errorf("%s: path %q is not under %s", r.ID, r.Path, Prefix)
		}
		k := r.Method + " " + r.Pattern()
		if prev, ok := keys[k]; ok {
			t.Errorf("%s and %s both route %s", prev, r.ID, k)
		}
		keys[k] = r.ID
		if got, ok := Lookup(r.ID); !ok || got.Path != r.Path {
			t.Errorf("Lookup(%s) = %v, %v", r.ID, got, ok)
		}
	}
	if _, ok := Lookup("acc-none"); ok {
		t.Error("Lookup found a route that is not in the table")
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/user", "/api/v1/user"},
		{"/api/v1/orgs/<org>/members/<user>", "/api/v1/orgs/:org/members/:user"},
		{"/api/v1/users/<name>/tokens/<id>", "/api/v1/users/:name/tokens/:id"},
	} {
		if got := (Route{Path: tc.path}).Pattern(); got != tc.want {
			t.Errorf("Pattern(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestPath(t *testing.T) {
	p, err := Path(RouteDeleteMember, "my org", "a/b")
	if err != nil || p != "/api/v1/orgs/my%20org/members/a%2Fb" {
		t.Errorf("Path = %q, %v", p, err)
	}
	if p, err := Path(RouteCurrentUser); err != nil || p != "/api/v1/user" {
		t.Errorf("Path(current user) = %q, %v", p, err)
	}
	for _, bad := range [][]string{nil, {"x", "y"}, {""}} {
		if _, err := Path(RouteGetUser, bad...); err == nil {
			t.Errorf("Path(get user, %q) succeeded", bad)
		}
	}
	if _, err := Path("acc-nope"); err == nil {
		t.Error("Path of an unknown route succeeded")
	}
}
