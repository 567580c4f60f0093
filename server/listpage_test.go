package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// TestDefaultListPage: a tag list or catalog without ?n= answers one
// page of server.DefaultListPageSize with a Link to the next, and
// following the links yields every entry.
func TestDefaultListPage(t *testing.T) {
	ctx := t.Context()
	meta := newMeta(t, "mem")
	base := newServer(t, meta, "mem://")
	total := server.DefaultListPageSize + 5
	body := []byte(`{"schemaVersion":2}`)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
	tags := make([]string, total)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%05d", i)
	}
	if err := meta.PutManifest(ctx, "lib/app", m, tags...); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		if err := meta.PutManifest(ctx, fmt.Sprintf("r/%05d", i), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path, field string
		want        int
	}{
		{"/v2/lib/app/tags/list", "tags", total},
		{"/v2/_catalog", "repositories", total + 1},
	} {
		url, seen, pages := base+c.path, 0, 0
		for url != "" {
			resp, b := do(t, http.MethodGet, url, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
			}
			var page map[string]json.RawMessage
			var entries []string
			if err := json.Unmarshal(b, &page); err != nil || json.Unmarshal(page[c.field], &entries) != nil {
				t.Fatalf("%s: body %.200s", url, b)
			}
			if len(entries) > server.DefaultListPageSize {
				t.Fatalf("%s: %d entries, want at most %d", url, len(entries), server.DefaultListPageSize)
			}
			seen += len(entries)
			pages++
			url = ""
			if next, ok := oci.ParseNextLink(resp.Header.Get(oci.Link)); ok {
				url = base + next
			}
		}
		if seen != c.want || pages != 2 {
			t.Errorf("%s: %d entries in %d pages, want %d in 2", c.path, seen, pages, c.want)
		}
	}
}
