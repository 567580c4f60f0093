package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/client/oci"
)

// serveProc is `regkit serve` running as a child process (this test
// binary acting as regkit), so that it can be killed with SIGKILL.
type serveProc struct {
	t    *testing.T
	addr string
	data string
	cmd  *exec.Cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func startServeProc(t *testing.T, addr, data string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, addr: addr, data: data}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *serveProc) start() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--addr", p.addr, "--data", p.data, "--upload-lease-ttl", "2s", "--log-level", "error")
	cmd.Env = append(os.Environ(), asRegkitEnv+"=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + p.addr + "/v2/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("regkit serve on %s did not come up", p.addr)
}

// kill ends the server with SIGKILL: no graceful shutdown.
func (p *serveProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// countingProxy forwards to a server and counts the blob bytes the client
// sends (upload request bodies) and receives (blob GET response bodies).
// When either count crosses killAt, onKill runs once.
type countingProxy struct {
	up, down atomic.Int64
	killAt   int64
	once     sync.Once
	onKill   func(up, down int64)
}

type countingBody struct {
	r  io.ReadCloser
	n  *atomic.Int64
	cp *countingProxy
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.cp.add(b.n, n)
	return n, err
}
func (b *countingBody) Close() error { return b.r.Close() }

type countingWriter struct {
	http.ResponseWriter
	cp *countingProxy
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.cp.add(&w.cp.down, n)
	return n, err
}

func (w countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (cp *countingProxy) add(c *atomic.Int64, n int) {
	if v := c.Add(int64(n)); cp.killAt > 0 && v >= cp.killAt {
		cp.once.Do(func() { go cp.onKill(cp.up.Load(), cp.down.Load()) })
	}
}

func (cp *countingProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		blob := strings.Contains(r.URL.Path, "/blobs/")
		if blob && r.Body != nil && (r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodPost) {
			r.Body = &countingBody{r: r.Body, n: &cp.up, cp: cp}
		}
		if blob && r.Method == http.MethodGet && !strings.Contains(r.URL.Path, "/uploads/") {
			w = countingWriter{w, cp}
		}
		rp.ServeHTTP(w, r)
	})
}

// writeBigLayout writes an OCI layout with one image whose only layer is
// size pseudo-random bytes, tagged v1.
func writeBigLayout(t *testing.T, dir string, size int64) digest.Digest {
	t.Helper()
	l, err := oci.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "layer.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	h := digest.SHA256.Digester()
	rng := rand.NewChaCha8([32]byte{13})
	if _, err := io.CopyN(io.MultiWriter(f, h.Hash()), rng, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layer := v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: h.Digest(), Size: size}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	cfgBytes := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfg := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBytes), Size: int64(len(cfgBytes))}
	ctx := context.Background()
	if err := l.PushManifest(ctx, cfg, cfgBytes, "", false); err != nil { // a blob like any other
		t.Fatal(err)
	}
	m, _ := json.Marshal(v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{layer}})
	md := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
	if err := l.PushManifest(ctx, md, m, "v1", true); err != nil {
		t.Fatal(err)
	}
	return layer.Digest
}

// TestResumeAfterServerKill kills `regkit serve` (SIGKILL) in the middle
// of a 256 MiB upload and again in the middle of a 256 MiB download,
// restarts it on the same port and data, and checks that the one `regkit
// cp` command running across each kill finishes, and that the bytes that
// reached the server before the kill were not sent again: only the chunk
// cut by the kill is repeated on upload, nothing on download.
func TestResumeAfterServerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	const size = 256 << 20
	const chunk = 8 << 20
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache")) // upload state of regkit cp
	layer := writeBigLayout(t, filepath.Join(dir, "src"), size)
	srv := startServeProc(t, freeAddr(t), filepath.Join(dir, "data"))

	for _, tc := range []struct {
		name     string
		args     func(proxy string) []string
		sent     func(cp *countingProxy) int64
		maxExtra int64
	}{
		{"upload", func(proxy string) []string {
			return []string{"cp", "--chunk", "8MiB", "oci:" + filepath.Join(dir, "src") + ":v1", proxy + "/big/app:v1"}
		}, func(cp *countingProxy) int64 { return cp.up.Load() }, chunk + 64<<10}, // the chunk cut by the kill, plus the config blob and the manifest, which are counted too
		{"download", func(proxy string) []string {
			return []string{"cp", "--parallel", "4", "--part-size", "16MiB", proxy + "/big/app:v1", "oci:" + filepath.Join(dir, "dst") + ":v1"}
		}, func(cp *countingProxy) int64 { return cp.down.Load() }, 8 << 20}, // what was in the kernel between proxy and client when the connections broke
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := &countingProxy{killAt: 100 << 20} // in the middle of a chunk and of a range
			var atKill atomic.Int64
			restarted := make(chan struct{})
			cp.onKill = func(up, down int64) {
				srv.kill()
				atKill.Store(max(up, down))
				time.Sleep(500 * time.Millisecond) // the client's requests fail meanwhile
				srv.start()
				close(restarted)
			}
			ps := httptest.NewServer(cp.handler("http://" + srv.addr))
			defer ps.Close()
			proxy := strings.TrimPrefix(ps.URL, "http://")
			code, out, errOut := regkit(t, nil, tc.args(proxy)...)
			select {
			case <-restarted:
			case <-time.After(time.Minute):
				t.Fatal("the server was never killed")
			}
			if code != 0 {
				t.Fatalf("cp: exit %d: %s%s", code, out, errOut)
			}
			sent := tc.sent(cp)
			t.Logf("%s: %d MiB had passed when the server was killed; %d bytes in all for a %d-byte layer (%d repeated)",
				tc.name, atKill.Load()>>20, sent, size, sent-size)
			if k := atKill.Load(); k < 64<<20 || k >= size {
				t.Fatalf("the kill came at %d bytes, not in the middle of the transfer", k)
			}
			if sent < size || sent > size+tc.maxExtra {
				t.Errorf("%d bytes went over the wire for %d; at most %d may be repeated", sent, size, tc.maxExtra)
			}
		})
	}
	// The layer arrived whole: the registry verified it on upload, the
	// layout's copy is checked here.
	got, err := digest.SHA256.FromReader(mustOpen(t, filepath.Join(dir, "dst", "blobs", "sha256", layer.Encoded())))
	if err != nil || got != layer {
		t.Errorf("downloaded layer: %s (%v), want %s", got, err, layer)
	}
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestResumeAfterClientKill kills the regkit cp process itself (SIGKILL)
// in the middle of a 256 MiB upload and runs the same command again: the
// second run finds the upload session it saved, asks the registry's
// offset and sends only the rest.
func TestResumeAfterClientKill(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	const size = 256 << 20
	const chunk = 8 << 20
	dir := t.TempDir()
	writeBigLayout(t, filepath.Join(dir, "src"), size)
	srv := startServeProc(t, freeAddr(t), filepath.Join(dir, "data"))
	cp := &countingProxy{killAt: 100 << 20}
	var client *exec.Cmd
	var mu sync.Mutex
	killed := make(chan int64, 1)
	cp.onKill = func(up, _ int64) {
		mu.Lock()
		defer mu.Unlock()
		_ = client.Process.Signal(syscall.SIGKILL)
		killed <- up
	}
	ps := httptest.NewServer(cp.handler("http://" + srv.addr))
	defer ps.Close()
	cache := filepath.Join(dir, "cache")
	args := []string{"cp", "--chunk", "8MiB", "oci:" + filepath.Join(dir, "src") + ":v1", strings.TrimPrefix(ps.URL, "http://") + "/big/app:v1"}
	runClient := func() error {
		mu.Lock()
		client = exec.Command(os.Args[0], args...)
		client.Env = append(os.Environ(), asRegkitEnv+"=1", "XDG_CACHE_HOME="+cache)
		client.Stdout, client.Stderr = io.Discard, io.Discard
		err := client.Start()
		mu.Unlock()
		if err != nil {
			return err
		}
		return client.Wait()
	}
	if err := runClient(); err == nil {
		t.Fatal("the first run was not killed")
	}
	atKill := <-killed
	if err := runClient(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	sent := cp.up.Load()
	t.Logf("client killed after %d MiB; %d bytes in all over both runs for a %d-byte layer (%d repeated)", atKill>>20, sent, size, sent-size)
	if sent < size || sent > size+chunk {
		t.Errorf("%d bytes went over the wire for %d; at most one chunk (%d) may be repeated", sent, size, chunk)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "regkit", "uploads", "*")); len(left) != 0 {
		t.Errorf("upload state left behind: %v", left)
	}
	c := oci.NewClient("http://" + srv.addr)
	if _, _, _, err := c.ManifestGet(context.Background(), "big/app", "v1"); err != nil {
		t.Errorf("the image is not there after the second run: %v", err)
	}
}
