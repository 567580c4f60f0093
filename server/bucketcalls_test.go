package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server/storage/emulators"
)

// TestBucketCalls counts the requests the registry sends to the bucket,
// at a reverse proxy in front of the emulator (real traffic through the
// real drivers), on S3 (versitygw) and Azure (Azurite): after an image,
// an index and a referrer are pushed over HTTP,
//   - manifest GETs and HEADs by tag and by digest, tag lists and
//     referrers lists make no bucket request at all;
//   - every blob GET with a Range costs exactly one bucket request, a GET
//     of that byte range; a full blob GET costs exactly one GET.
//
// (GCS is not counted: its driver takes the endpoint from the process
// environment, which cannot point at a per-test proxy.)
func TestBucketCalls(t *testing.T) {
	for _, k := range []emulators.Kind{emulators.S3, emulators.Azure} {
		t.Run(string(k), func(t *testing.T) {
			p := emulators.Start(t, k).Proxy(t)
			base := newServer(t, newMeta(t, "mem"), p.NewBucket(t))
			const repo = "calls/app"
			img := fixtures.Image(fixtures.ImageOptions{Seed: 21})
			other := fixtures.Image(fixtures.ImageOptions{Seed: 22})
			idx := fixtures.Index(img, other)
			desc := img.Descriptor
			ref := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 23, Blobs: 1, ArtifactType: "application/vnd.regkit.sbom", Subject: &desc})
			pushAll(t, base, repo, idx)
			pushAll(t, base, repo, ref)
			for tag, m := range map[string]fixtures.Manifest{"v1": img, "multi": idx} {
				resp, body := do(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m.Data), "Content-Type", m.MediaType())
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("tag %s: %d %s", tag, resp.StatusCode, body)
				}
			}
			layer := fixtures.Blob(24, 1<<20+13)
			ld := digest.FromBytes(layer)
			if resp, body := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+ld.String(), bytes.NewReader(layer)); resp.StatusCode != http.StatusCreated {
				t.Fatalf("push layer: %d %s", resp.StatusCode, body)
			}
			pushed := p.Take()
			if len(pushed) == 0 {
				t.Fatal("the pushes made no bucket request: the bucket is not behind the proxy")
			}
			t.Logf("the pushes made %d bucket requests", len(pushed))

			// Manifests, tags and referrers: zero bucket requests.
			const n = 10
			reads := 0
			for range n {
				for name, m := range map[string]fixtures.Manifest{
					"v1": img, "multi": idx, img.Digest().String(): img, idx.Digest().String(): idx,
					other.Digest().String(): other, ref.Digest().String(): ref,
				} {
					for _, method := range []string{http.MethodGet, http.MethodHead} {
						resp, body := do(t, method, base+"/v2/"+repo+"/manifests/"+name, nil, "Accept", m.MediaType())
						if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != m.Digest().String() ||
							(method == http.MethodGet && !bytes.Equal(body, m.Data)) {
							t.Fatalf("%s manifest %s: %d, digest %s", method, name, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
						}
						reads++
					}
				}
				for _, path := range []string{"/tags/list", "/tags/list?n=1", "/tags/list?n=1&last=multi",
					"/referrers/" + img.Digest().String(), "/referrers/" + img.Digest().String() + "?artifactType=application/vnd.regkit.sbom"} {
					resp, body := do(t, http.MethodGet, base+"/v2/"+repo+path, nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
					}
					if strings.HasPrefix(path, "/referrers/") && !bytes.Contains(body, []byte(ref.Digest().String())) {
						t.Fatalf("GET %s does not list the referrer: %s", path, body)
					}
					reads++
				}
			}
			if got := p.Take(); len(got) != 0 {
				t.Errorf("%d manifest, tag and referrers requests made %d bucket requests, want 0:\n%s", reads, len(got), listRequests(got))
			}

			// Blob Range GETs: one ranged bucket read each, of that range.
			ranges := [][2]int{{0, 0}, {0, 99}, {4096, 70000}, {1 << 19, 1<<20 + 12}, {1<<20 + 12, 1<<20 + 12}}
			for i := range n {
				rg := ranges[i%len(ranges)]
				resp, body := do(t, http.MethodGet, base+"/v2/"+repo+"/blobs/"+ld.String(), nil, "Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, layer[rg[0]:rg[1]+1]) {
					t.Fatalf("Range GET %v: %d, %d bytes", rg, resp.StatusCode, len(body))
				}
				got := p.Take()
				want := fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])
				if len(got) != 1 || !got[0].Ranged() || got[0].Range != want {
					t.Errorf("Range GET %s made %d bucket requests, want 1 GET of %s:\n%s", want, len(got), want, listRequests(got))
				}
			}
			resp, body := do(t, http.MethodGet, base+"/v2/"+repo+"/blobs/"+ld.String(), nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, layer) {
				t.Fatalf("full GET: %d, %d bytes", resp.StatusCode, len(body))
			}
			if got := p.Take(); len(got) != 1 || got[0].Method != http.MethodGet {
				t.Errorf("full blob GET made %d bucket requests, want 1 GET:\n%s", len(got), listRequests(got))
			}
		})
	}
}

func listRequests(rs []emulators.Request) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}
