package oci

import (
	"net/url"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	want := []RouteID{RouteBase, RouteBlob, RouteManifest, RouteUploadStart, RouteUploadMonolithic, RouteUploadAlgorithm,
		RouteUploadChunk, RouteUploadFinish, RouteManifestPut, RouteManifestPutTags, RouteTags, RouteTagsPaged,
		RouteManifestDelete, RouteBlobDelete, RouteBlobMount, RouteReferrers, RouteReferrersFiltered,
		RouteUploadStatus, RouteUploadCancel, RouteCatalog, RouteToken}
	rs := Routes()
	if len(rs) != len(want) {
		t.Fatalf("%d routes, want %d", len(rs), len(want))
	}
	areas := map[string]bool{AreaPull: true, AreaPush: true, AreaDiscovery: true, AreaManagement: true}
	for i, r := range rs {
		if r.ID != want[i] {
			t.Errorf("route %d is %s, want %s", i, r.ID, want[i])
		}
		if len(r.Methods) == 0 || !strings.HasPrefix(r.Path, "/v2/") || !areas[r.Area] ||
			len(r.Success) == 0 || len(r.Failure) == 0 || r.Summary == "" {
			t.Errorf("incomplete route %+v", r)
		}
		got, ok := Lookup(r.ID)
		if !ok || got.ID != r.ID {
			t.Errorf("Lookup(%s)", r.ID)
		}
	}
	// Copies: changing the result does not change the table.
	rs[0].Methods[0] = "X"
	if r, _ := Lookup(RouteBase); r.Methods[0] != "GET" {
		t.Error("Routes() shares memory with the table")
	}
	if _, ok := Lookup("end-99"); ok {
		t.Error("Lookup of an unknown ID")
	}
}

// TestRoutesParse checks that every method of every route, applied to a
// concrete path built from its pattern and query, parses back to that route.
func TestRoutesParse(t *testing.T) {
	values := map[string]string{
		"digest": string(d256), "mount": string(d256), "from": "other",
		"n": "3", "last": "x", "artifactType": "application/x",
		"digest-algorithm": "sha512", "tag": "v1",
	}
	for _, r := range Routes() {
		p := strings.NewReplacer("<name>", "a/b", "<digest>", string(d256), "<reference>", "ref").Replace(r.Path)
		var q []string
		for _, k := range r.Query {
			q = append(q, k+"="+url.QueryEscape(values[k]))
		}
		if len(q) > 0 {
			p += "?" + strings.Join(q, "&")
		}
		for _, m := range r.Methods {
			u, _ := url.Parse(p)
			got, err := Parse(m, u)
			if err != nil || got.Route != r.ID {
				t.Errorf("%s: Parse(%s %s) = %s, %v", r.ID, m, p, got.Route, err)
			}
		}
	}
}
