package generic

import "testing"

func TestPageLinks(t *testing.T) {
	r := Request{Route: RouteVersions, Method: "GET", Owner: "o", Type: "generic", Name: "n", Page: 2, Limit: 10}
	links := ParseLinks(PageLinks(r, 35))
	want := map[string]string{
		"next":  "/api/v1/packages/o/generic/n?page=3&limit=10",
		"last":  "/api/v1/packages/o/generic/n?page=4&limit=10",
		"first": "/api/v1/packages/o/generic/n?page=1&limit=10",
		"prev":  "/api/v1/packages/o/generic/n?page=1&limit=10",
	}
	for k, v := range want {
		if links[k] != v {
			t.Errorf("%s = %q, want %q", k, links[k], v)
		}
	}
	if d := Disposition(`a "b";c.txt`); d != `attachment; filename="a \"b\";c.txt"; filename*=UTF-8''a%20%22b%22%3Bc.txt` {
		t.Errorf("Disposition = %s", d)
	}
}
