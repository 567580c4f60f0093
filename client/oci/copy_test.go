package oci

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// signedIndex is a two-platform index with a signature referrer of the
// index and an SBOM referrer of its first platform.
type signedIndex struct {
	index, sig, sbom fixtures.Manifest
}

func newSignedIndex(layerSize int) signedIndex {
	a := fixtures.Image(fixtures.ImageOptions{Seed: 1, Layers: 3, LayerSize: layerSize})
	b := fixtures.Image(fixtures.ImageOptions{Seed: 2, Layers: 2, LayerSize: layerSize})
	idx := fixtures.Index(a, b)
	subj := idx.Descriptor
	sig := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 3, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Blobs: 1, Subject: &subj})
	child := a.Descriptor
	sbom := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 4, ArtifactType: "application/spdx+json", Blobs: 1, Subject: &child})
	return signedIndex{idx, sig, sbom}
}

func (s signedIndex) push(t *testing.T, c *Client, repo, tag string) {
	t.Helper()
	pushImage(t, c, repo, s.index, tag)
	pushImage(t, c, repo, s.sig, "")
	pushImage(t, c, repo, s.sbom, "")
}

// digests returns every digest reachable from root in s, referrers
// included, in a stable order.
func reachable(t *testing.T, ctx context.Context, s Store, root v1.Descriptor) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	var walk func(d v1.Descriptor)
	walk = func(d v1.Descriptor) {
		if seen[d.Digest] {
			return
		}
		seen[d.Digest] = true
		out = append(out, d.Digest)
		if !isManifest(mediaTypeOf(d.MediaType, nil)) && d.MediaType != "" {
			ok, err := s.HasBlob(ctx, d)
			if err != nil || !ok {
				t.Errorf("blob %s missing: %v", d.Digest, err)
			}
			return
		}
		body, err := s.Manifest(ctx, d)
		if err != nil {
			t.Fatalf("manifest %s: %v", d.Digest, err)
		}
		var refs manifestRefs
		if err := jsonUnmarshal(body, &refs); err != nil {
			t.Fatal(err)
		}
		for _, m := range refs.Manifests {
			walk(m)
		}
		if refs.Config != nil {
			walk(*refs.Config)
		}
		for _, l := range refs.Layers {
			walk(l)
		}
		rs, err := s.Referrers(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			walk(v1.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size})
		}
	}
	walk(root)
	slices.Sort(out)
	return out
}

func TestCopyPreservesDigests(t *testing.T) {
	ctx := context.Background()
	src, _ := newTestClient(t)
	dst, rec := newTestClient(t)
	s := newSignedIndex(64 << 10)
	s.push(t, src, "team/app", "v1")
	srcRepo := NewRepository(src, "team/app")
	root, err := srcRepo.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	want := reachable(t, ctx, srcRepo, root)
	// The index, 2 images, 2 configs, 5 layers, 2 artifacts, their empty
	// config and their 2 blobs.
	if len(want) != 15 {
		t.Fatalf("the fixture reaches %d digests, want 15: %v", len(want), want)
	}

	tmp := t.TempDir()
	layout, err := OpenLayout(filepath.Join(tmp, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	archive, err := OpenArchive(filepath.Join(tmp, "img.tar"), tmp)
	if err != nil {
		t.Fatal(err)
	}
	hops := []struct {
		name     string
		from, to Store
		tag      string
	}{
		{"registry to registry", srcRepo, NewRepository(dst, "copy/one"), "v1"},
		{"registry to layout", srcRepo, layout, "v1"},
		{"layout to archive", layout, archive, "v1"},
		{"archive to registry", nil, NewRepository(dst, "copy/two"), "v2"},
	}
	for _, h := range hops {
		from := h.from
		if from == nil {
			if err := archive.Close(); err != nil {
				t.Fatal(err)
			}
			from, err = OpenArchive(filepath.Join(tmp, "img.tar"), tmp)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = from.Close() })
		}
		res, err := Copy(ctx, from, "v1", h.to, h.tag, &CopyOptions{Referrers: true})
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		if res.Digest != root.Digest || res.Referrers != 2 || res.Manifests != 5 {
			t.Errorf("%s: result %+v, want digest %s, 5 manifests, 2 referrers", h.name, res, root.Digest)
		}
		got, err := h.to.Resolve(ctx, h.tag)
		if err != nil {
			t.Fatalf("%s: resolve: %v", h.name, err)
		}
		if got.Digest != root.Digest {
			t.Errorf("%s: tag points at %s, want %s", h.name, got.Digest, root.Digest)
		}
		if have := reachable(t, ctx, h.to, got); !slices.Equal(have, want) {
			t.Errorf("%s: digests differ:\n got %v\nwant %v", h.name, have, want)
		}
	}

	// A second copy into the same repository transfers no blob.
	before := rec.seen()
	res, err := Copy(ctx, srcRepo, "v1", NewRepository(dst, "copy/one"), "v1", &CopyOptions{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	after := rec.seen()
	if res.Copied != 0 || res.Existing != res.Blobs || after[ocispec.RouteUploadMonolithic] != before[ocispec.RouteUploadMonolithic] {
		t.Errorf("second copy: %+v, uploads %d → %d", res, before[ocispec.RouteUploadMonolithic], after[ocispec.RouteUploadMonolithic])
	}

	// Within one registry blobs are mounted, not transferred.
	res, err = Copy(ctx, NewRepository(dst, "copy/one"), "v1", NewRepository(dst, "copy/three"), "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mounted != res.Blobs || res.Copied != 0 || res.Blobs == 0 {
		t.Errorf("same-registry copy: %+v, want every blob mounted", res)
	}
}
