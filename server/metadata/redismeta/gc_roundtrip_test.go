package redismeta_test

import (
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// TestGCMarkRoundTrips: the mark phase reads the manifests of a page of
// 1,000 repositories in one pipeline, not one round trip per repository,
// and still sees every reference (also of a repository with more
// manifests than a page).
func TestGCMarkRoundTrips(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	db := redismeta.New(c)
	const repos = 1500
	want := map[digest.Digest]bool{}
	put := func(repo string, i int) {
		layer := digest.FromString(fmt.Sprintf("layer %s %d", repo, i))
		body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%q}`, layer)
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body, References: []digest.Digest{layer}}
		if err := db.PutManifest(ctx, repo, m); err != nil {
			t.Fatal(err)
		}
		want[layer] = true
	}
	for i := range repos {
		put(fmt.Sprintf("lib/r%05d", i), 0)
	}
	for i := 1; i < 250; i++ { // more than one page of manifests
		put("lib/r00007", i)
	}
	n := redistest.CountRoundTrips(c)
	got := map[digest.Digest]bool{}
	if err := gc.ManifestReferencer(db).References(ctx, func(d digest.Digest) { got[d] = true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("mark saw %d references, want %d", len(got), len(want))
	}
	for d := range want {
		if !got[d] {
			t.Fatalf("mark missed %s", d)
		}
	}
	// 2 pages of repositories, 2 pipelines, the further pages of one
	// repository, a script load and its retry: a handful, not one per
	// repository (1,500 before).
	if rt := n.Load(); rt > 10 {
		t.Errorf("mark over %d repositories: %d round trips, want at most 10", repos, rt)
	}
	t.Logf("mark over %d repositories: %d round trips", repos, n.Load())
}

// TestGCMarkCluster: the pipelined mark on a 3-node Redis Cluster (the
// pipeline spans slots and nodes, and the range script is loaded on
// every node) sees every reference.
func TestGCMarkCluster(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	db := redismeta.New(c)
	want := map[digest.Digest]bool{}
	for i := range 300 {
		layer := digest.FromString(fmt.Sprintf("layer %d", i))
		body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%q}`, layer)
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body, References: []digest.Digest{layer}}
		if err := db.PutManifest(ctx, fmt.Sprintf("lib/r%03d", i), m); err != nil {
			t.Fatal(err)
		}
		want[layer] = true
	}
	got := map[digest.Digest]bool{}
	if err := gc.ManifestReferencer(db).References(ctx, func(d digest.Digest) { got[d] = true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("mark saw %d references, want %d", len(got), len(want))
	}
}
