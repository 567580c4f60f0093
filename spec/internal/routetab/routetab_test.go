package routetab

import "testing"

func TestPattern(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/users/<name>/tokens/<id>": "/api/v1/users/:name/tokens/:id",
		"/api/packages/<owner>/generic":    "/api/packages/:owner/generic",
		"/plain":                           "/plain",
		"/open/<unclosed":                  "/open/<unclosed",
	} {
		if got := Pattern(in); got != want {
			t.Errorf("Pattern(%q) = %q, want %q", in, got, want)
		}
	}
}

type route struct {
	id   int
	tags []string
}

func cloneRoute(r route) route { r.tags = append([]string(nil), r.tags...); return r }

func TestCopyAndFind(t *testing.T) {
	table := []route{{1, []string{"a"}}, {2, []string{"b"}}}
	c := Copy(table, cloneRoute)
	c[0].tags[0] = "changed"
	if table[0].tags[0] != "a" {
		t.Fatal("Copy shares the table's slices")
	}
	r, ok := Find(table, 2, func(r route) int { return r.id }, cloneRoute)
	if !ok || r.tags[0] != "b" {
		t.Fatalf("Find(2) = %v, %v", r, ok)
	}
	r.tags[0] = "changed"
	if table[1].tags[0] != "b" {
		t.Fatal("Find shares the table's slices")
	}
	if _, ok := Find(table, 3, func(r route) int { return r.id }, cloneRoute); ok {
		t.Fatal("Find(3) found a route")
	}
}
