package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// metricsAddrOf starts serve with cfg (and a -metrics-addr) and returns
// the registry's and the metrics listener's addresses.
func startServeMetrics(t *testing.T, cfg serveConfig) (addr, maddr string, stop func()) {
	t.Helper()
	cfg.MetricsAddr = "127.0.0.1:0"
	got := make(chan string, 1)
	readyMetrics = func(a string) { got <- a }
	t.Cleanup(func() { readyMetrics = nil })
	addr, stop = startServe(t, cfg)
	select {
	case maddr = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("metrics listener did not start")
	}
	return addr, maddr, stop
}

// scrape reads and parses /metrics with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// labelSum sums the counter values of fam whose labels include want.
func labelSum(fam *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	if fam == nil {
		return 0
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		}
	}
	return sum
}

// TestMetricsPushPull pushes and pulls an image with a real client and
// checks, through Prometheus's text parser, the route-ID labelled
// request counters of both, the byte counters, and the metadata and
// storage operation histograms; pprof is served on the metrics listener
// only when asked.
func TestMetricsPushPull(t *testing.T) {
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Pprof = true
	addr, maddr, stop := startServeMetrics(t, cfg)
	defer stop()

	img, err := random.Image(300_000, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/metrics/img:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var pulledBytes int64
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		pulledBytes += n
	}

	// A request is counted when its handler has returned, which may be
	// just after the client read the last byte: scrape until the pull
	// is in (bounded), then check everything.
	fams := scrape(t, "http://"+maddr+"/metrics")
	for range 100 {
		if labelSum(fams["regkit_http_response_bytes_total"], map[string]string{"route": "end-2"}) >= float64(pulledBytes) {
			break
		}
		time.Sleep(100 * time.Millisecond)
		fams = scrape(t, "http://"+maddr+"/metrics")
	}
	reqs := fams["regkit_http_requests_total"]
	for _, c := range []struct {
		route, method, status string
	}{
		{"end-4a", "POST", "202"}, // push: upload start
		{"end-7a", "PUT", "201"},  // push: manifest by tag
		{"end-3", "GET", "200"},   // pull: manifest
		{"end-2", "GET", "200"},   // pull: blobs
	} {
		if n := labelSum(reqs, map[string]string{"route": c.route, "method": c.method, "status": c.status}); n < 1 {
			t.Errorf("regkit_http_requests_total{route=%q,method=%q,status=%q} = %v, want >= 1", c.route, c.method, c.status, n)
		}
	}
	if n := labelSum(reqs, map[string]string{"route": "end-6"}) + labelSum(reqs, map[string]string{"route": "end-4b"}); n < 2 {
		t.Errorf("blob uploads finished (end-6 or end-4b) counted %v times, want >= 2 (two layers and a config)", n)
	}
	if n := labelSum(fams["regkit_http_request_duration_seconds"], map[string]string{"route": "end-3", "method": "GET"}); n < 1 {
		t.Errorf("no latency observed for end-3 GET")
	}
	if out := labelSum(fams["regkit_http_response_bytes_total"], map[string]string{"route": "end-2"}); out < float64(pulledBytes) {
		t.Errorf("response bytes of end-2 = %v, want >= %d pulled", out, pulledBytes)
	}
	if in := labelSum(fams["regkit_http_request_bytes_total"], nil); in < float64(pulledBytes) {
		t.Errorf("request bytes = %v, want >= %d pushed", in, pulledBytes)
	}
	for _, op := range []string{"GetManifest", "PutManifest", "PutBlob"} {
		if n := labelSum(fams["regkit_metadata_operation_duration_seconds"], map[string]string{"op": op}); n < 1 {
			t.Errorf("metadata op %s not observed", op)
		}
	}
	for _, op := range []string{"read_blob", "start_upload"} {
		if n := labelSum(fams["regkit_storage_operation_duration_seconds"], map[string]string{"op": op}); n < 1 {
			t.Errorf("storage op %s not observed", op)
		}
	}
	for _, name := range []string{"regkit_gc_runs_total", "regkit_upload_sessions_open", "regkit_upload_buffer_budget_bytes", "regkit_build_info", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if b := labelSum(fams["regkit_upload_buffer_budget_bytes"], nil); b != float64(cfg.UploadBufferMemory) {
		t.Errorf("buffer budget gauge = %v, want %d", b, cfg.UploadBufferMemory)
	}

	// Every metric the Grafana dashboard queries exists (counters of
	// errors and waits appear with their first occurrence only, Redis's
	// with a Redis store: TestReadyzRedisOutage).
	dash, err := os.ReadFile("../../docs/ops/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range regexp.MustCompile(`regkit_[a-z_]+`).FindAllString(string(dash), -1) {
		n = strings.TrimSuffix(n, "_bucket")
		if fams[n] == nil && !strings.HasSuffix(n, "_errors_total") && !strings.HasSuffix(n, "_waits_total") && !strings.HasPrefix(n, "regkit_redis_") {
			t.Errorf("the dashboard queries %s, which /metrics does not have", n)
		}
	}

	resp, err := http.Get("http://" + maddr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pprof on the metrics listener: %s", resp.Status)
	}
	for _, p := range []string{"/debug/pprof/cmdline", "/metrics"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the registry's listener: %s, want 404", p, resp.Status)
		}
	}
}

// TestReadyzRedisOutage: /readyz answers 200, then 503 naming the
// metadata store (with Retry-After) while a real redis-server is killed,
// and 200 again after it restarts; /healthz stays 200 throughout.
func TestReadyzRedisOutage(t *testing.T) {
	p := redistest.StartProcess(t)
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Redis = "redis://" + p.Addr + "/0"
	cfg.GCInterval = 0
	addr, maddr, stop := startServeMetrics(t, cfg)
	defer stop()

	probe := func(path string) (int, Readiness, http.Header) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r Readiness
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r, resp.Header
	}
	if code, r, _ := probe("/readyz"); code != http.StatusOK || r.Status != "ready" {
		t.Fatalf("/readyz before the outage: %d %+v", code, r)
	}
	p.Kill()
	code, r, h := probe("/readyz")
	if code != http.StatusServiceUnavailable || len(r.Down) != 1 || r.Down[0] != "metadata" || h.Get("Retry-After") == "" {
		t.Fatalf("/readyz with redis down: %d %+v Retry-After=%q; want 503 naming metadata", code, r, h.Get("Retry-After"))
	}
	if code, _, _ := probe("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with redis down: %d", code)
	}
	p.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, r, _ := probe("/readyz")
		if code == http.StatusOK && r.Status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after redis restarted: %d %+v", code, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The Redis client's round trips are measured, the failed ones of the
	// outage counted.
	fams := scrape(t, "http://"+maddr+"/metrics")
	if n := labelSum(fams["regkit_redis_command_duration_seconds"], map[string]string{"command": "time"}); n < 2 {
		t.Errorf("redis TIME round trips observed: %v, want >= 2", n)
	}
	if n := labelSum(fams["regkit_redis_command_errors_total"], nil); n < 1 {
		t.Errorf("redis errors during the outage: %v, want >= 1", n)
	}
	if n := labelSum(fams["regkit_metadata_operation_errors_total"], map[string]string{"op": "Now"}); n < 1 {
		t.Errorf("metadata Now errors during the outage: %v, want >= 1", n)
	}
}

// Readiness mirrors server.Readiness for decoding.
type Readiness struct {
	Status string   `json:"status"`
	Down   []string `json:"down"`
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 with
// the given common name to certFile and keyFile.
func writeCert(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: nil, DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, then certificate: a reader between the two writes sees a
	// mismatched pair, which the reloader must survive.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReload serves HTTPS with HTTP/2, replaces the certificate files
// while the server runs, and sees new connections get the new
// certificate without a restart.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, certFile, keyFile, "first")
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	addr, stop := startServe(t, cfg)
	defer stop()

	get := func() (cn, proto string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/ over TLS: %s", resp.Status)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName, resp.Proto
	}
	if cn, proto := get(); cn != "first" || proto != "HTTP/2.0" {
		t.Fatalf("first connection: certificate %q over %s, want \"first\" over HTTP/2.0", cn, proto)
	}
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	writeCert(t, certFile, keyFile, "second")
	deadline := time.Now().Add(10 * time.Second)
	for {
		cn, _ := get()
		if cn == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate still %q after the files changed", cn)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// syncBuf is a bytes.Buffer safe for a logger and a test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestID: every response carries X-Request-Id; a sane incoming
// one is kept, an insane one replaced; the access log line (slog, JSON)
// of a request carries its ID and route.
func TestRequestID(t *testing.T) {
	var logs syncBuf
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()

	send := func(id string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/", nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	if got := send("build-42.step:7"); got != "build-42.step:7" {
		t.Errorf("sane incoming ID: got %q back", got)
	}
	fresh := send("")
	if len(fresh) != 32 {
		t.Errorf("generated ID %q, want 32 hex digits", fresh)
	}
	for _, bad := range []string{strings.Repeat("x", 65), "has space", "quote\"d"} {
		if got := send(bad); got == bad || len(got) != 32 {
			t.Errorf("insane incoming ID %q: got %q back, want a fresh one", bad, got)
		}
	}
	found := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !(found["build-42.step:7"] && found[fresh]) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
				continue
			}
			if id, _ := rec["request_id"].(string); id != "" && rec["route"] == "end-1" && rec["level"] == "INFO" {
				found[id] = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !found["build-42.step:7"] || !found[fresh] {
		t.Errorf("access log lines with request_id and route end-1 missing; found %v in:\n%s", found, logs.String())
	}
}

// TestDrain: on shutdown (SIGTERM cancels serve's context) /readyz
// answers 503 "draining" for -drain-delay while requests are still
// served, and only then does the listener close.
func TestDrain(t *testing.T) {
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.DrainDelay = 1500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	addr := <-ready
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d", code)
	}
	start := time.Now()
	cancel()
	deadline := time.Now().Add(time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while draining: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/v2/"); code != http.StatusOK {
		t.Fatalf("GET /v2/ while draining: %d, want 200 (requests are still served)", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < cfg.DrainDelay {
		t.Fatalf("serve returned after %v, before the drain delay %v", d, cfg.DrainDelay)
	}
	if _, err := http.Get("http://" + addr + "/v2/"); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}

// TestMetricsEndpointAuth: with -metrics-endpoint, GET /metrics on the
// registry's listener needs a site admin's password login: 401 without
// credentials, 403 for another user, the metrics for the admin.
func TestMetricsEndpointAuth(t *testing.T) {
	const adminPW = "bootstrap-password-1"
	cfg := tokensServeConfig(t, adminPW)
	cfg.MetricsEndpoint = true
	addr, stop := startServe(t, cfg)
	defer stop()
	t.Setenv("REGKIT_URL", "http://"+addr)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"admin", "users", "create", "dev", "-new-password", "dev-password-123"}, &out, &errOut); code != 0 {
		t.Fatalf("create user: %d %s %s", code, out.String(), errOut.String())
	}
	get := func(user, pw string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /metrics: %d, want 401", code)
	}
	if code, _ := get("dev", "dev-password-123"); code != http.StatusForbidden {
		t.Errorf("GET /metrics as a plain user: %d, want 403", code)
	}
	code, body := get("admin", adminPW)
	if code != http.StatusOK || !strings.Contains(body, "regkit_http_requests_total") {
		t.Errorf("GET /metrics as the site admin: %d\n%.300s", code, body)
	}
}
