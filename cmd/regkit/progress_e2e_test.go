//go:build e2e

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/fixtures"
)

// slowProxy forwards to target, writing blob GET bodies at about rate
// bytes per second, so that a transfer lasts long enough to be watched.
func slowProxy(t *testing.T, target string, rate int) string {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			w = &slowWriter{ResponseWriter: w, rate: rate}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

type slowWriter struct {
	http.ResponseWriter
	rate int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), w.rate/20)
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		time.Sleep(50 * time.Millisecond)
	}
	return written, nil
}

func tmux(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// TestE2EProgressInTmux runs regkit cp in a real terminal (a tmux pane) and
// reads the screen: while it runs there is a bar per blob and a total
// bar; at the end every blob says how it was handled, the total is
// complete, the result line follows, and the command exits 0.
func TestE2EProgressInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed: apt-get install -y tmux")
	}
	base := testRegistry(t)
	c := oci.NewClient(base)
	img := fixtures.Image(fixtures.ImageOptions{Seed: 21, Layers: 3, LayerSize: 3 << 20})
	ctx := context.Background()
	for _, b := range img.Blobs() {
		if err := c.BlobPut(ctx, "team/app", b.Digest(), strings.NewReader(string(b.Data)), int64(len(b.Data))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ManifestPut(ctx, "team/app", "v1", img.MediaType(), img.Data); err != nil {
		t.Fatal(err)
	}
	src := strings.TrimPrefix(slowProxy(t, base, 2<<20), "http://") + "/team/app:v1"
	dir := t.TempDir()
	session := "regkit-progress-" + filepath.Base(dir)
	script := filepath.Join(dir, "run.sh")
	cmdline := "env " + asRegkitEnv + "=1 " + os.Args[0] + " cp --jobs 2 " + src + " oci:" + filepath.Join(dir, "out") + "\necho EXIT=$?\n"
	if err := os.WriteFile(script, []byte(cmdline), 0o755); err != nil {
		t.Fatal(err)
	}
	tmux(t, "new-session", "-d", "-s", session, "-x", "160", "-y", "30", "sh -c 'sh "+script+"; sleep 60'")
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", session).Run() })

	// Mid-transfer: per-blob bars and the total bar.
	var mid string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mid = tmux(t, "capture-pane", "-p", "-t", session)
		if strings.Contains(mid, "total") && strings.Contains(mid, "MiB") && !strings.Contains(mid, "EXIT=") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	layer := img.Layers[0].Digest().Encoded()[:12]
	if !strings.Contains(mid, "total") || !strings.Contains(mid, layer) && !strings.Contains(mid, img.Layers[1].Digest().Encoded()[:12]) || strings.Contains(mid, "EXIT=") {
		t.Fatalf("no progress while copying; the screen:\n%s", mid)
	}
	t.Logf("mid-transfer screen:\n%s", strings.TrimRight(mid, "\n "))

	var end string
	for time.Now().Before(deadline.Add(30 * time.Second)) {
		end = tmux(t, "capture-pane", "-p", "-t", session)
		if strings.Contains(end, "EXIT=") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("final screen:\n%s", strings.TrimRight(end, "\n "))
	if !strings.Contains(end, "EXIT=0") {
		t.Fatalf("cp did not exit 0; the screen:\n%s", end)
	}
	for _, b := range img.Blobs() {
		short := b.Digest().Encoded()[:12]
		line := lineWith(end, short)
		if line == "" || !strings.Contains(line, "copied") {
			t.Errorf("blob %s: line %q, want a finished bar saying copied", short, line)
		}
	}
	total := lineWith(end, "total")
	if !strings.Contains(total, "9.0 MiB / 9.0 MiB") {
		t.Errorf("total line %q, want 9.0 MiB / 9.0 MiB", total)
	}
	if !strings.Contains(end, img.Digest().String()) {
		t.Errorf("the result line with the digest is missing:\n%s", end)
	}
}

func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
