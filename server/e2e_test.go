package server_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestGGCRPushPull pushes a multi-layer image and an index with
// go-containerregistry's remote package (a client regkit did not write)
// and pulls both back, comparing every byte, on every metadata store.
func TestGGCRPushPull(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			base := newServer(t, newMeta(t, kind), bucket)
			host := strings.TrimPrefix(base, "http://")

			img, err := random.Image(300_000, 4)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := name.ParseReference(host+"/team/app:v1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatalf("push image: %v", err)
			}
			got, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("pull image: %v", err)
			}
			compareImages(t, img, got)

			idx, err := random.Index(100_000, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			iref, err := name.ParseReference(host+"/team/multi:latest", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.WriteIndex(iref, idx); err != nil {
				t.Fatalf("push index: %v", err)
			}
			gotIdx, err := remote.Index(iref)
			if err != nil {
				t.Fatalf("pull index: %v", err)
			}
			wantRaw, _ := idx.RawManifest()
			gotRaw, err := gotIdx.RawManifest()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wantRaw, gotRaw) {
				t.Fatalf("index manifest differs:\n%s\n%s", wantRaw, gotRaw)
			}
			im, _ := idx.IndexManifest()
			for _, d := range im.Manifests {
				want, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				got, err := gotIdx.Image(d.Digest)
				if err != nil {
					t.Fatalf("pull child %s: %v", d.Digest, err)
				}
				compareImages(t, want, got)
			}

			// The catalog and tags list see both repositories.
			tags, err := remote.List(ref.Context())
			if err != nil || len(tags) != 1 || tags[0] != "v1" {
				t.Fatalf("tags = %v, %v; want [v1]", tags, err)
			}
			reg, _ := name.NewRegistry(host, name.Insecure)
			repos, err := remote.Catalog(t.Context(), reg)
			if err != nil || strings.Join(repos, ",") != "team/app,team/multi" {
				t.Fatalf("catalog = %v, %v", repos, err)
			}
		})
	}
}

// compareImages compares the raw manifests, configs and every layer's
// compressed bytes of two images.
func compareImages(t *testing.T, want, got v1.Image) {
	t.Helper()
	wm, _ := want.RawManifest()
	gm, err := got.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wm, gm) {
		t.Fatalf("manifest differs")
	}
	wc, _ := want.RawConfigFile()
	gc, err := got.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wc, gc) {
		t.Fatalf("config differs")
	}
	wl, _ := want.Layers()
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(wl) != len(gl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range wl {
		wb := readAll(t, wl[i].Compressed)
		gb := readAll(t, gl[i].Compressed)
		if !bytes.Equal(wb, gb) {
			t.Fatalf("layer %d differs (%d vs %d bytes)", i, len(gb), len(wb))
		}
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
