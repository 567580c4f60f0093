package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/regkit/regkit/spec/generic"
)

// TestPackageListMixed: GET /api/v1/packages/{owner} over generic
// versions and the tags of several container repositories, pushed over
// HTTP, lists them newest first (tags of one manifest by tag name), with
// the type and q filters, X-Total-Count and Link, page after page.
func TestPackageListMixed(t *testing.T) {
	for _, kind := range []string{"mem", "bolt"} {
		t.Run(kind, func(t *testing.T) {
			base := newServer(t, newMeta(t, kind), "mem://")
			type entry struct{ typ, name, version string }
			var order [][]entry // groups, oldest first; a group shares one Created
			putFile := func(name, version string) {
				t.Helper()
				resp, b := do(t, http.MethodPut, fmt.Sprintf("%s/api/packages/alice/generic/%s/%s/f.txt", base, name, version), strings.NewReader(name+version))
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("PUT file: %d %s", resp.StatusCode, b)
				}
				order = append(order, []entry{{"generic", name, version}})
			}
			putTags := func(repo string, n int, tags ...string) {
				t.Helper()
				body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"n":"%s-%d"}}`, repo, n)
				var g []entry
				for _, tag := range tags {
					resp, b := do(t, http.MethodPut, base+"/v2/alice/"+repo+"/manifests/"+tag, strings.NewReader(body), "Content-Type", "application/vnd.oci.image.index.v1+json")
					if resp.StatusCode != http.StatusCreated {
						t.Fatalf("PUT manifest: %d %s", resp.StatusCode, b)
					}
					g = append(g, entry{"container", repo, tag})
				}
				slices.SortFunc(g, func(a, b entry) int { return strings.Compare(a.version, b.version) })
				order = append(order, g)
			}
			for i := range 9 {
				putFile("tool", fmt.Sprintf("1.%d.0", i))
				putTags("app", i, fmt.Sprintf("v%d", i))
				putTags("web/ui", i, fmt.Sprintf("z%d", i), fmt.Sprintf("a%d", i)) // one manifest, two tags
				putTags("db", i, fmt.Sprintf("r%d", i))
				if i%3 == 0 {
					putFile("other", fmt.Sprintf("%d", i))
				}
			}
			resp, _ := do(t, http.MethodPut, base+"/v2/alicex/app/manifests/t", strings.NewReader(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), "Content-Type", "application/vnd.oci.image.index.v1+json")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT manifest of alicex: %d", resp.StatusCode)
			}
			model := func(keep func(entry) bool) []string {
				out := []string{}
				for i := len(order) - 1; i >= 0; i-- {
					for _, e := range order[i] {
						if keep(e) {
							out = append(out, e.typ+":"+e.name+":"+e.version)
						}
					}
				}
				return out
			}
			for _, c := range []struct {
				query string
				keep  func(entry) bool
			}{
				{"", func(entry) bool { return true }},
				{"type=container", func(e entry) bool { return e.typ == "container" }},
				{"type=generic", func(e entry) bool { return e.typ == "generic" }},
				{"q=O", func(e entry) bool { return strings.Contains(e.name, "o") }},
				{"type=container&q=ui", func(e entry) bool { return e.typ == "container" && strings.Contains(e.name, "ui") }},
				{"type=npm", func(entry) bool { return false }},
			} {
				want := model(c.keep)
				var got []string
				url := base + "/api/v1/packages/alice?limit=7&" + c.query
				for pages := 0; url != ""; pages++ {
					if pages > len(want) {
						t.Fatalf("%s: more pages than entries", c.query)
					}
					resp, b := do(t, http.MethodGet, url, nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
					}
					if n, _ := strconv.Atoi(resp.Header.Get(generic.TotalCount)); n != len(want) {
						t.Fatalf("%s: X-Total-Count %d, want %d", url, n, len(want))
					}
					var page []struct {
						Type, Name, Version string
						CreatedAt           string `json:"created_at"`
					}
					if err := json.Unmarshal(b, &page); err != nil {
						t.Fatal(err)
					}
					for _, p := range page {
						got = append(got, p.Type+":"+p.Name+":"+p.Version)
					}
					url = ""
					if next, ok := generic.ParseLinks(resp.Header.Get(generic.Link))["next"]; ok {
						url = base + next
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", c.query, got, want)
				}
			}
		})
	}
}
