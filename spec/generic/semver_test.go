package generic

import (
	"slices"
	"testing"
)

func TestSemVer(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "v1.2.3", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "99999999999999999999.0.0"}
	invalid := []string{"", "1", "1.2", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+", "vv1.2.3", "V1.2.3", "1.2.3.4", " 1.2.3", "latest", "1.2.3-a..b"}
	for _, s := range valid {
		if !IsSemVer(s) {
			t.Errorf("IsSemVer(%q) = false", s)
		}
	}
	for _, s := range invalid {
		if IsSemVer(s) {
			t.Errorf("IsSemVer(%q) = true", s)
		}
	}
	// semver.org's precedence example, in ascending order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0"}
	for i := range order {
		for j := range order {
			r, ok := CompareVersions(order[i], order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if !ok || r != want {
				t.Errorf("CompareVersions(%s, %s) = %d, %v; want %d", order[i], order[j], r, ok, want)
			}
		}
	}
	if _, ok := CompareVersions("1.0.0", "latest"); ok {
		t.Error("CompareVersions with a non-SemVer")
	}
}

func TestLatestSemVerOf(t *testing.T) {
	tests := []struct {
		versions []string
		want     string
	}{
		{[]string{"1.0.0", "2.0.0-rc.1", "1.5.0"}, "1.5.0"},
		{[]string{"2.0.0-rc.1", "2.0.0-beta"}, "2.0.0-rc.1"},
		{[]string{"v1.10.0", "1.9.0"}, "v1.10.0"},
		{[]string{"1.0.0", "latest"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		i, ok := LatestSemVerOf(tt.versions)
		got := ""
		if ok {
			got = tt.versions[i]
		}
		if got != tt.want {
			t.Errorf("LatestSemVerOf(%v) = %q, want %q", tt.versions, got, tt.want)
		}
	}
	vs := []string{"0.1.0", "0.10.0", "0.9.0"}
	slices.Reverse(vs)
	if i, _ := LatestSemVerOf(vs); vs[i] != "0.10.0" {
		t.Error("order independence")
	}
}

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
