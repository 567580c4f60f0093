package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

func TestManifest(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	img := fixtures.Image(fixtures.ImageOptions{Seed: 1, Layers: 2})
	d := pushImage(t, c, "app", img, "v1")

	tests := []struct {
		name string
		ref  string
	}{
		{"by tag", "v1"},
		{"by digest", d.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, mt, gd, err := c.ManifestGet(ctx, "app", tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, img.Data) || mt != img.MediaType() || gd != d {
				t.Fatalf("ManifestGet = %d bytes, %q, %s; want %d bytes, %q, %s", len(body), mt, gd, len(img.Data), img.MediaType(), d)
			}
			mt, hd, size, err := c.ManifestHead(ctx, "app", tt.ref)
			if err != nil || mt != img.MediaType() || hd != d || size != int64(len(img.Data)) {
				t.Fatalf("ManifestHead = %q, %s, %d, %v", mt, hd, size, err)
			}
		})
	}

	// By digest with extra tags (?tag=).
	if _, err := c.ManifestPut(ctx, "app", d.String(), img.MediaType(), img.Data, "v2", "latest"); err != nil {
		t.Fatal(err)
	}
	tags, err := c.TagList(ctx, "app", nil)
	if err != nil || !slices.Equal(tags, []string{"latest", "v1", "v2"}) {
		t.Fatalf("TagList = %v, %v", tags, err)
	}

	// Deleting a tag keeps the manifest; deleting the digest removes it.
	if err := c.ManifestDelete(ctx, "app", "v2"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ManifestGet(ctx, "app", "v2"); !errors.Is(err, ocispec.ErrManifestUnknown) {
		t.Fatalf("deleted tag: %v", err)
	}
	if err := c.ManifestDelete(ctx, "app", d.String()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ManifestHead(ctx, "app", d.String()); !errors.Is(err, ocispec.ErrManifestUnknown) {
		t.Fatalf("deleted manifest: %v", err)
	}
}

func TestManifestErrors(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	img := fixtures.Image(fixtures.ImageOptions{Seed: 2})
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"get unknown tag", func() error { _, _, _, err := c.ManifestGet(ctx, "app", "nope"); return err }, ocispec.ErrManifestUnknown},
		{"head unknown tag", func() error { _, _, _, err := c.ManifestHead(ctx, "app", "nope"); return err }, ocispec.ErrManifestUnknown},
		{"put with missing blobs", func() error {
			_, err := c.ManifestPut(ctx, "app", "v1", img.MediaType(), img.Data)
			return err
		}, ocispec.ErrManifestBlobUnknown},
		{"put invalid JSON", func() error {
			_, err := c.ManifestPut(ctx, "app", "v1", ocispec.MediaTypeImageManifest, []byte("{"))
			return err
		}, ocispec.ErrManifestInvalid},
		{"put under the wrong digest", func() error {
			_, err := c.ManifestPut(ctx, "app", digest.FromString("x").String(), img.MediaType(), img.Data)
			return err
		}, ocispec.ErrDigestInvalid},
		{"delete unknown", func() error { return c.ManifestDelete(ctx, "app", digest.FromString("x").String()) }, ocispec.ErrManifestUnknown},
		{"tags of unknown repository", func() error { _, err := c.TagList(ctx, "nowhere", nil); return err }, ocispec.ErrNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestListPagination(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	img := fixtures.Image(fixtures.ImageOptions{Seed: 3})
	d := pushImage(t, c, "paged", img, "")
	var all []string
	for i := range 7 {
		all = append(all, fmt.Sprintf("t%d", i))
	}
	if _, err := c.ManifestPut(ctx, "paged", d.String(), img.MediaType(), img.Data, all...); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"b/one", "a/two", "c"} {
		pushImage(t, c, repo, img, "x")
	}
	tests := []struct {
		name string
		opts *ListOptions
		want []string
	}{
		{"all", nil, all},
		{"pages of 2", &ListOptions{N: 2}, all},
		{"pages of 3 after t1", &ListOptions{N: 3, Last: "t1"}, all[2:]},
		{"at most 3", &ListOptions{N: 2, Max: 3}, all[:3]},
		{"one page", &ListOptions{N: 2, Max: 2}, all[:2]},
		{"after the last", &ListOptions{Last: "t6"}, []string{}},
	}
	for _, tt := range tests {
		t.Run("tags/"+tt.name, func(t *testing.T) {
			got, err := c.TagList(ctx, "paged", tt.opts)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("TagList = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	repos := []string{"a/two", "b/one", "c", "paged"}
	for _, o := range []*ListOptions{nil, {N: 1}, {N: 3}} {
		t.Run(fmt.Sprintf("catalog/%+v", o), func(t *testing.T) {
			got, err := c.Catalog(ctx, o)
			if err != nil || !slices.Equal(got, repos) {
				t.Fatalf("Catalog = %v, %v; want %v", got, err, repos)
			}
		})
	}
}

func TestReferrers(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	img := fixtures.Image(fixtures.ImageOptions{Seed: 4})
	pushImage(t, c, "ref", img, "v1")
	subject := img.Descriptor
	sig := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 1, ArtifactType: "application/vnd.example.sig", Subject: &subject})
	sbom := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 2, ArtifactType: "application/vnd.example.sbom", Blobs: 1, Subject: &subject})
	pushImage(t, c, "ref", sig, "")
	pushImage(t, c, "ref", sbom, "")

	tests := []struct {
		name         string
		artifactType string
		want         []digest.Digest
	}{
		{"all", "", []digest.Digest{sig.Digest(), sbom.Digest()}},
		{"signatures", "application/vnd.example.sig", []digest.Digest{sig.Digest()}},
		{"none", "application/vnd.example.other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			descs, err := c.Referrers(ctx, "ref", img.Digest(), tt.artifactType)
			if err != nil {
				t.Fatal(err)
			}
			var got []digest.Digest
			for _, d := range descs {
				got = append(got, d.Digest)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("Referrers = %v, want %v", got, want)
			}
		})
	}
}
