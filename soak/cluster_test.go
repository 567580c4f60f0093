//go:build soak

package soak

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// replica is one `regkit serve` subprocess that the test kills with
// SIGKILL and starts again on the same port.
type replica struct {
	bin, addr, dir string
	args           []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	if r.log == nil {
		f, err := os.Create(filepath.Join(r.dir, "serve.log"))
		if err != nil {
			t.Fatal(err)
		}
		r.log = f
	}
	cmd := exec.Command(r.bin, append([]string{"serve", "--addr", r.addr, "--data", r.dir}, r.args...)...)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start regkit serve: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("regkit serve on %s exited; see %s", r.addr, r.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("regkit serve on %s not ready: %v", r.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 kills the replica with SIGKILL and waits for its exit.
func (r *replica) kill9() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// stop ends the replica for good (SIGTERM, then SIGKILL).
func (r *replica) stop() {
	r.mu.Lock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		r.cmd = nil
	}
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
	r.mu.Unlock()
}

// buildRegkit builds ./cmd/regkit into dir.
func buildRegkit(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "regkit")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/regkit")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/regkit: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// stats records every request the proxy served.
type stats struct {
	mu        sync.Mutex
	byStatus  map[int]int
	proxy503  int // answered by the proxy: the picked replica was down
	latencies []time.Duration
	fivehund  []string
}

func (s *stats) add(status int, d time.Duration, byProxy bool, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byStatus[status]++
	if byProxy {
		s.proxy503++
	}
	s.latencies = append(s.latencies, d)
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.fivehund = append(s.fivehund, what)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	byProxy bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx (100 Continue) is not the answer
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// newProxy is the round-robin reverse proxy in front of the replicas. A
// replica that is down (refused or cut connection) is answered 503 with
// Retry-After, as a load balancer would.
func newProxy(addrs []string, st *stats) *httptest.Server {
	proxies := make([]*httputil.ReverseProxy, len(addrs))
	for i, a := range addrs {
		target, _ := url.Parse("http://" + a)
		proxies[i] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if sw, ok := w.(*statusWriter); ok {
					sw.byProxy = true
				}
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
		}
	}
	var next atomic.Uint64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		i := next.Add(1) % uint64(len(proxies))
		proxies[i].ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		st.add(sw.status, time.Since(start), sw.byProxy, fmt.Sprintf("%s %s -> replica %d: %d", r.Method, r.URL.RequestURI(), i, sw.status))
	}))
}

// report is what the soak writes as JSON and Markdown.
type report struct {
	Duration        string              `json:"duration"`
	Requests        int                 `json:"requests"`
	ByStatus        map[string]int      `json:"byStatus"`
	Proxy503        int                 `json:"proxy503ReplicaDown"`
	P50ms           float64             `json:"p50ms"`
	P99ms           float64             `json:"p99ms"`
	Images          map[string]int      `json:"imagesAcknowledged"`
	Files           int                 `json:"packageFilesAcknowledged"`
	Verified        int                 `json:"verifiedByteExact"`
	Lost            []string            `json:"lost"`
	ServerErrors    []string            `json:"serverErrors"`
	ReplicaKills    int                 `json:"replicaKills"`
	RedisFailover   string              `json:"redisFailover"`
	FailedOps       map[string]int      `json:"failedClientOps"`
	FailSamples     map[string][]string `json:"failedClientOpSamples"`
	Machine         string              `json:"machine"`
	Storage         string              `json:"storage"`
	ProxiedFirst500 []string            `json:"-"`
}

func (s *stats) summary() (n int, by map[string]int, p50, p99 float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	by = map[string]int{}
	for k, v := range s.byStatus {
		by[strconv.Itoa(k)] = v
		n += v
	}
	l := append([]time.Duration(nil), s.latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	q := func(f float64) float64 {
		if len(l) == 0 {
			return 0
		}
		return float64(l[min(len(l)-1, int(f*float64(len(l))))].Microseconds()) / 1000
	}
	return n, by, q(0.50), q(0.99)
}

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# regkit soak report\n\n%s, %s, blobs on %s\n\n", r.Machine, r.Duration, r.Storage)
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| requests served (through the proxy) | %d |\n", r.Requests)
	fmt.Fprintf(&b, "| latency p50 / p99 | %.2f ms / %.2f ms |\n", r.P50ms, r.P99ms)
	fmt.Fprintf(&b, "| 503 answered by the proxy (replica down) | %d |\n", r.Proxy503)
	fmt.Fprintf(&b, "| replica kill -9 + restart | %d |\n", r.ReplicaKills)
	fmt.Fprintf(&b, "| Redis master killed, replica promoted | %s |\n", r.RedisFailover)
	keys := make([]string, 0, len(r.Images))
	for k := range r.Images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| images acknowledged (201), %s | %d |\n", k, r.Images[k])
	}
	fmt.Fprintf(&b, "| package files acknowledged (201) | %d |\n", r.Files)
	fmt.Fprintf(&b, "| read back byte-exact at the end | %d |\n", r.Verified)
	fmt.Fprintf(&b, "| lost (acknowledged, not read back) | %d |\n", len(r.Lost))
	fmt.Fprintf(&b, "| 5xx other than 503 | %d |\n\n", len(r.ServerErrors))
	fmt.Fprintf(&b, "Responses by status:\n\n| status | count |\n|---|---|\n")
	st := make([]string, 0, len(r.ByStatus))
	for k := range r.ByStatus {
		st = append(st, k)
	}
	sort.Strings(st)
	for _, k := range st {
		fmt.Fprintf(&b, "| %s | %d |\n", k, r.ByStatus[k])
	}
	if len(r.FailedOps) > 0 {
		fmt.Fprintf(&b, "\nClient operations that gave up (not acknowledged, so not checked):\n\n| operation | count |\n|---|---|\n")
		for k, v := range r.FailedOps {
			fmt.Fprintf(&b, "| %s | %d |\n", k, v)
		}
		fmt.Fprintf(&b, "\nFirst reasons:\n\n")
		for k, v := range r.FailSamples {
			for _, s := range v {
				fmt.Fprintf(&b, "- %s: `%s`\n", k, s)
			}
		}
	}
	return b.String()
}

// ctxSleep sleeps d or until ctx ends.
func ctxSleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func runtimeCPUs() int { return runtime.NumCPU() }

// writeTar writes a tar archive holding one file of content b.
func writeTar(w io.Writer, b []byte) {
	tw := tar.NewWriter(w)
	_ = tw.WriteHeader(&tar.Header{Name: "soak.bin", Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)})
	_, _ = tw.Write(b)
	_ = tw.Close()
}
