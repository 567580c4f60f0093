package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/fixtures"
)

// pushSigned pushes a two-platform index tagged tag with a signature
// referrer to repo of the registry at base, and returns the index's digest
// and the signature's.
func pushSigned(t *testing.T, base, repo, tag string, layerSize int) (string, string) {
	t.Helper()
	ctx := context.Background()
	c := oci.NewClient(base)
	a := fixtures.Image(fixtures.ImageOptions{Seed: 11, Layers: 2, LayerSize: layerSize})
	b := fixtures.Image(fixtures.ImageOptions{Seed: 12, Layers: 2, LayerSize: layerSize})
	idx := fixtures.Index(a, b)
	subj := idx.Descriptor
	sig := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 13, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Blobs: 1, Subject: &subj})
	for _, m := range []fixtures.Manifest{idx, sig} {
		for _, bl := range m.Blobs() {
			if err := c.BlobPut(ctx, repo, bl.Digest(), bytes.NewReader(bl.Data), int64(len(bl.Data))); err != nil {
				t.Fatal(err)
			}
		}
		for _, mm := range m.Manifests() {
			ref := mm.Digest().String()
			if mm.Digest() == idx.Digest() {
				ref = tag
			}
			if _, err := c.ManifestPut(ctx, repo, ref, mm.MediaType(), mm.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	return idx.Digest().String(), sig.Digest().String()
}

func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// inspectJSON runs inspect --json --referrers on ref.
func inspectJSON(t *testing.T, ref string) inspected {
	t.Helper()
	code, out, errOut := regkit(t, nil, "inspect", "--json", "--referrers", ref)
	if code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", ref, code, errOut)
	}
	var in inspected
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect %s: %v\n%s", ref, err, out)
	}
	return in
}

func TestCpRoundTrip(t *testing.T) {
	src, dst := hostOf(testRegistry(t)), hostOf(testRegistry(t))
	idx, sig := pushSigned(t, "http://"+src, "team/app", "v1", 32<<10)
	dir := t.TempDir()
	layout := "oci:" + filepath.Join(dir, "layout") + ":v1"
	archive := "oci-archive:" + filepath.Join(dir, "app.tar") + ":v1"
	hops := [][2]string{
		{src + "/team/app:v1", dst + "/mirror/app:v1"},
		{dst + "/mirror/app:v1", layout},
		{layout, archive},
		{archive, dst + "/back/app:v2"},
	}
	for _, h := range hops {
		code, out, errOut := regkit(t, nil, "cp", "--referrers", "--json", h[0], h[1])
		if code != 0 {
			t.Fatalf("cp %s %s: exit %d: %s", h[0], h[1], code, errOut)
		}
		if errOut != "" {
			t.Errorf("cp with stderr not a terminal printed on stderr: %q", errOut)
		}
		var res struct {
			Digest    string `json:"digest"`
			Referrers int    `json:"referrers"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Digest != idx || res.Referrers != 1 {
			t.Errorf("cp %s %s: %s (err %v), want digest %s and 1 referrer", h[0], h[1], out, err, idx)
		}
		in := inspectJSON(t, h[1])
		if in.Digest != idx || len(in.Platforms) != 2 || len(in.Referrers) != 1 || in.Referrers[0].Digest.String() != sig {
			t.Errorf("%s: digest %s, platforms %v, referrers %v; want %s with 2 platforms and referrer %s", h[1], in.Digest, in.Platforms, in.Referrers, idx, sig)
		}
		// Every platform's manifest is there, byte for byte.
		for _, p := range in.Platforms {
			ref := h[1]
			if i := strings.LastIndex(ref, ":v"); i > 0 {
				ref = ref[:i]
			}
			child := inspectJSON(t, ref+"@"+p.Digest)
			if child.Digest != p.Digest || len(child.Layers) != 2 {
				t.Errorf("%s@%s: %+v", ref, p.Digest, child)
			}
		}
	}

	// Plain text, ls, tags, referrers, rm and exit codes.
	code, out, _ := regkit(t, nil, "ls", dst)
	if code != 0 || out != "back/app\nmirror/app\n" {
		t.Errorf("ls: exit %d, %q", code, out)
	}
	code, out, _ = regkit(t, nil, "tags", dst+"/back/app")
	if code != 0 || out != "v2\n" {
		t.Errorf("tags: exit %d, %q", code, out)
	}
	code, out, _ = regkit(t, nil, "tags", layout)
	if code != 0 || out != "v1\n" {
		t.Errorf("tags of a layout: exit %d, %q", code, out)
	}
	code, out, _ = regkit(t, nil, "referrers", dst+"/back/app:v2")
	if code != 0 || !strings.HasPrefix(out, sig+"\tapplication/vnd.dev.cosign.artifact.sig.v1+json\t") {
		t.Errorf("referrers: exit %d, %q", code, out)
	}
	code, out, _ = regkit(t, nil, "cp", dst+"/back/app:v2", dst+"/same/app:v3")
	if code != 0 || !strings.Contains(out, "mounted") || !strings.Contains(out, "0 copied, 0 existing, 6 mounted") {
		t.Errorf("cp within a registry: exit %d, %q", code, out)
	}
	if code, _, errOut := regkit(t, nil, "inspect", dst+"/back/app:nope"); code != exitNotFound {
		t.Errorf("inspect of a missing tag: exit %d (%s), want %d", code, errOut, exitNotFound)
	}
	if code, _, _ := regkit(t, nil, "cp", dst+"/nothing/here:v1", filepath.Join(dir, "x")); code != exitNotFound {
		t.Errorf("cp of a missing image: exit %d, want %d", code, exitNotFound)
	}
	if code, _, _ := regkit(t, nil, "cp", "just-one-arg"); code != exitUsage {
		t.Errorf("cp with one argument: exit %d, want %d", code, exitUsage)
	}
	if code, out, errOut := regkit(t, nil, "rm", dst+"/back/app@"+idx); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("rm: exit %d, %q %q", code, out, errOut)
	}
	if code, _, _ := regkit(t, nil, "inspect", dst+"/back/app:v2"); code != exitNotFound {
		t.Errorf("inspect after rm: exit %d, want %d", code, exitNotFound)
	}
	// The archive is a tar that holds an OCI layout.
	if fi, err := os.Stat(filepath.Join(dir, "app.tar")); err != nil || fi.Size() == 0 {
		t.Errorf("archive: %v", err)
	}
	// The old wire verbs still work, under wire and at the top.
	if code, out, errOut := regkit(t, nil, "wire", "tags", "--url", "http://"+dst, "mirror/app"); code != 0 || out != "v1\n" {
		t.Errorf("wire tags: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := regkit(t, nil, "tags", "--url", "http://"+dst, "mirror/app"); code != 0 || out != "v1\n" {
		t.Errorf("tags --url: exit %d, %q", code, out)
	}
}
