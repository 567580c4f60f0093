package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/spec/oci"
)

// pushAll pushes every blob and manifest of m into repo (the top manifest
// by digest) through the HTTP API.
func pushAll(t *testing.T, base, repo string, m fixtures.Manifest) {
	t.Helper()
	for _, b := range m.Blobs() {
		resp, body := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+b.Digest().String(), bytes.NewReader(b.Data))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("push blob: %d %s", resp.StatusCode, body)
		}
	}
	for _, c := range m.Manifests() {
		resp, body := do(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+c.Digest().String(), bytes.NewReader(c.Data), "Content-Type", c.MediaType())
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("push manifest: %d %s", resp.StatusCode, body)
		}
	}
}

// TestReferrersPagination: with a page size of 2, five referrers come in
// three pages linked by Link, in digest order, and filtering by
// artifactType applies to every page.
func TestReferrersPagination(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://", server.WithReferrersPageSize(2))
	repo := "refs/paged"
	subject := fixtures.Image(fixtures.ImageOptions{Seed: 1})
	pushAll(t, base, repo, subject)
	desc := subject.Descriptor
	var all, signatures []digest.Digest
	for i := range 5 {
		typ := "application/vnd.regkit.sbom"
		if i%2 == 0 {
			typ = "application/vnd.regkit.signature"
		}
		a := fixtures.Artifact(fixtures.ArtifactOptions{Seed: uint64(100 + i), Blobs: 1, ArtifactType: typ, Subject: &desc, Annotations: map[string]string{"n": strconv.Itoa(i)}})
		pushAll(t, base, repo, a)
		all = append(all, a.Digest())
		if i%2 == 0 {
			signatures = append(signatures, a.Digest())
		}
	}
	follow := func(path string) (got []digest.Digest, pages int) {
		for path != "" {
			resp, body := do(t, http.MethodGet, base+path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
			}
			var idx v1.Index
			if err := json.Unmarshal(body, &idx); err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) > 2 {
				t.Fatalf("page of %d descriptors, want at most 2", len(idx.Manifests))
			}
			for _, d := range idx.Manifests {
				got = append(got, d.Digest)
			}
			pages++
			next, ok := oci.ParseNextLink(resp.Header.Get("Link"))
			if !ok {
				break
			}
			path = next
		}
		return got, pages
	}
	slices.Sort(all)
	slices.Sort(signatures)
	got, pages := follow("/v2/" + repo + "/referrers/" + desc.Digest.String())
	if pages != 3 || !slices.Equal(got, all) {
		t.Fatalf("%d pages with %v, want 3 pages with %v", pages, got, all)
	}
	got, pages = follow("/v2/" + repo + "/referrers/" + desc.Digest.String() + "?artifactType=application/vnd.regkit.signature")
	if pages != 2 || !slices.Equal(got, signatures) {
		t.Fatalf("filtered: %d pages with %v, want 2 pages with %v", pages, got, signatures)
	}
}
