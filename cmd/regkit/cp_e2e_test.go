//go:build e2e

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/conformance/peers/peerreg"
)

// TestE2ECpDistribution copies a two-platform index with a signature
// referrer from regkit to CNCF Distribution v3.1.2 and back with regkit
// cp --referrers, checks every digest on both sides, and has crane and
// skopeo read the results. Distribution has no referrers API, so the
// signature travels through the referrers tag schema (<alg>-<hex> tag).
func TestE2ECpDistribution(t *testing.T) {
	crane := e2eTool(t, "crane")
	skopeo := e2eTool(t, "skopeo")
	env := e2eEnv(t)
	ctx := context.Background()
	bin, err := peerreg.Distribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	distURL, stopDist, err := peerreg.StartDistribution(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopDist)
	rk := e2eServe(t)
	dist := strings.TrimPrefix(distURL, "http://")

	idx, sig := pushSigned(t, "http://"+rk, "team/app", "v1", 256<<10)
	want := inspectJSON(t, rk+"/team/app:v1")
	orig, _, _, err := oci.NewClient("http://"+rk).ManifestGet(ctx, "team/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()

	check := func(ref string) {
		t.Helper()
		got := inspectJSON(t, ref)
		if got.Digest != idx || string(got.Manifest) != string(want.Manifest) || len(got.Platforms) != 2 {
			t.Fatalf("%s: digest %s, %d platforms; want %s with 2", ref, got.Digest, len(got.Platforms), idx)
		}
		if len(got.Referrers) != 1 || got.Referrers[0].Digest.String() != sig {
			t.Errorf("%s: referrers %v, want %s", ref, got.Referrers, sig)
		}
		base := ref[:strings.LastIndex(ref, ":")]
		for i, p := range got.Platforms {
			if p != want.Platforms[i] {
				t.Errorf("%s: platform %d is %+v, want %+v", ref, i, p, want.Platforms[i])
			}
			child := inspectJSON(t, base+"@"+p.Digest)
			w := inspectJSON(t, rk+"/team/app@"+p.Digest)
			if string(child.Manifest) != string(w.Manifest) {
				t.Errorf("%s@%s differs", base, p.Digest)
			}
		}
		// crane and skopeo read it.
		if out := e2eRun(t, env, work, crane, "--insecure", "digest", ref).stdout; strings.TrimSpace(out) != idx {
			t.Errorf("crane digest %s: %q, want %s", ref, out, idx)
		}
		if out := e2eRun(t, env, work, crane, "--insecure", "manifest", ref).stdout; out != string(orig) {
			t.Errorf("crane manifest %s differs from the original", ref)
		}
		if out := e2eRun(t, env, work, crane, "--insecure", "manifest", base+"@"+sig).stdout; out == "" {
			t.Errorf("crane manifest of the signature: empty")
		}
		if out := e2eRun(t, env, work, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+ref).stdout; out != string(orig) {
			t.Errorf("skopeo inspect --raw %s differs from the original", ref)
		}
		dir := filepath.Join(work, strings.NewReplacer("/", "_", ":", "_").Replace(ref))
		e2eRun(t, env, work, skopeo, "copy", "--all", "--preserve-digests", "--src-tls-verify=false", "docker://"+ref, "oci:"+dir+":v1")
		l, err := oci.OpenLayout(dir)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := l.Resolve(ctx, "v1"); err != nil || d.Digest.String() != idx {
			t.Errorf("skopeo copy --all of %s: %v %v, want %s", ref, d.Digest, err, idx)
		}
		_ = os.RemoveAll(dir)
	}

	for _, h := range [][2]string{
		{rk + "/team/app:v1", dist + "/team/app:v1"},
		{dist + "/team/app:v1", rk + "/back/app:v1"},
	} {
		code, out, errOut := regkit(t, nil, "cp", "--referrers", h[0], h[1])
		if code != 0 {
			t.Fatalf("cp %s %s: exit %d: %s%s", h[0], h[1], code, out, errOut)
		}
		t.Logf("$ regkit cp --referrers %s %s\n%s", h[0], h[1], out)
		check(h[1])
	}
}
