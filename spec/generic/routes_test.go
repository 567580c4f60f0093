package generic

import (
	"net/url"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	seen := map[RouteID]bool{}
	for _, r := range Routes() {
		if seen[r.ID] {
			t.Errorf("duplicate route %s", r.ID)
		}
		seen[r.ID] = true
		okPrefix := strings.HasPrefix(string(r.ID), "gen-") && r.Area == AreaGeneric && strings.HasPrefix(r.Path, PackagesPrefix) ||
			strings.HasPrefix(string(r.ID), "pkg-") && r.Area == AreaManagement && strings.HasPrefix(r.Path, ManagementPrefix)
		if !okPrefix || len(r.Methods) == 0 || len(r.Success) == 0 || len(r.Failure) == 0 || r.Summary == "" {
			t.Errorf("incomplete route %+v", r)
		}
		if got, ok := Lookup(r.ID); !ok || got.ID != r.ID {
			t.Errorf("Lookup(%s)", r.ID)
		}
		if strings.Contains(r.Pattern(), "<") {
			t.Errorf("%s: pattern %s", r.ID, r.Pattern())
		}
	}
	if len(seen) != 17 {
		t.Errorf("%d routes", len(seen))
	}
	rs := Routes()
	rs[0].Methods[0] = "X"
	if r, _ := Lookup(rs[0].ID); r.Methods[0] == "X" {
		t.Error("Routes() shares memory with the table")
	}
	if _, ok := Lookup("gen-99"); ok {
		t.Error("Lookup of an unknown ID")
	}
}

// TestRoutesParse checks that every method of every route, applied to a
// concrete path built from its pattern, parses back to that route.
func TestRoutesParse(t *testing.T) {
	for _, r := range Routes() {
		typ := "generic"
		if r.ID == RouteLatest || r.ID == RouteVersions {
			typ = "container"
		}
		p := strings.NewReplacer("<owner>", "Alice", "<type>", typ, "<name>", "tool", "<version>", "1.0.0",
			"<filename>", "tool 1.tar.gz", "<upload>", "abc", "<repo>", "repo").Replace(r.Path)
		p = strings.ReplaceAll(p, " ", "%20")
		for _, m := range r.Methods {
			u, err := url.Parse(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(m, u)
			if err != nil || got.Route != r.ID {
				t.Errorf("%s: Parse(%s %s) = %s, %v", r.ID, m, p, got.Route, err)
			}
			if got.Path() != p {
				t.Errorf("%s: Path() = %s, want %s", r.ID, got.Path(), p)
			}
		}
	}
}
