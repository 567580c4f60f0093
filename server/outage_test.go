package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/spec/oci"
)

// outageOp is one kind of request of the outage traffic.
type outageOp struct {
	name string
	// do sends the request(s) and returns the responses; ok says whether
	// each has its success status.
	do func(c *outageClient, i int) []outageResult
}

// outageResult is one response of the outage traffic.
type outageResult struct {
	op, method, path string
	status           int
	header           http.Header
	body             []byte
	ok               bool // the success status of the request
}

// outageClient sends the traffic, with credentials when auth is on.
type outageClient struct {
	t                *testing.T
	base             string
	ociAuth, apiAuth string // Authorization headers ("" none)
	http             *http.Client
}

func (c *outageClient) send(op, method, path string, body []byte, want int, header ...string) outageResult {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Error(err)
		return outageResult{op: op}
	}
	authz := c.apiAuth
	if strings.HasPrefix(path, "/v2/") {
		authz = c.ociAuth
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	p, _, _ := strings.Cut(path, "?")
	resp, err := c.http.Do(req)
	if err != nil {
		// A hang (the client's timeout) or a dropped connection: never
		// acceptable.
		c.t.Errorf("%s %s %s: no response: %v", op, method, p, err)
		return outageResult{op: op, method: method, path: p}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return outageResult{op: op, method: method, path: p, status: resp.StatusCode, header: resp.Header, body: b, ok: resp.StatusCode == want}
}

// outageTraffic is every kind of request the test sends: manifest GET and
// PUT, blob HEAD and GET, upload POST and PATCH, generic GET and PUT and
// the management API's listing.
func outageTraffic(manifest []byte, config digest.Digest) []outageOp {
	mt := oci.MediaTypeImageManifest
	return []outageOp{
		{"manifest GET", func(c *outageClient, _ int) []outageResult {
			return []outageResult{c.send("manifest GET", "GET", "/v2/alice/app/manifests/v1", nil, 200)}
		}},
		{"manifest PUT", func(c *outageClient, i int) []outageResult {
			return []outageResult{c.send("manifest PUT", "PUT", fmt.Sprintf("/v2/alice/app/manifests/t%d", i), manifest, 201, "Content-Type", mt)}
		}},
		{"blob HEAD", func(c *outageClient, _ int) []outageResult {
			return []outageResult{c.send("blob HEAD", "HEAD", "/v2/alice/app/blobs/"+config.String(), nil, 200)}
		}},
		{"blob GET", func(c *outageClient, _ int) []outageResult {
			return []outageResult{c.send("blob GET", "GET", "/v2/alice/app/blobs/"+config.String(), nil, 200)}
		}},
		{"upload POST+PATCH", func(c *outageClient, _ int) []outageResult {
			start := c.send("upload POST", "POST", "/v2/alice/app/blobs/uploads/", nil, 202)
			out := []outageResult{start}
			if loc := start.header.Get("Location"); start.ok && loc != "" {
				out = append(out, c.send("upload PATCH", "PATCH", loc, []byte("chunk"), 202))
			}
			return out
		}},
		{"generic GET", func(c *outageClient, _ int) []outageResult {
			return []outageResult{c.send("generic GET", "GET", "/api/packages/alice/generic/tool/1/a.bin", nil, 200)}
		}},
		{"generic PUT", func(c *outageClient, i int) []outageResult {
			return []outageResult{c.send("generic PUT", "PUT", fmt.Sprintf("/api/packages/alice/generic/tool/1/f%d.bin", i), []byte("file"), 201)}
		}},
		{"management list", func(c *outageClient, _ int) []outageResult {
			return []outageResult{c.send("management list", "GET", "/api/v1/packages/alice?type=generic", nil, 200)}
		}},
	}
}

// checkUnavailable checks that r is a 503 with Retry-After in the format
// of its protocol.
func checkUnavailable(t *testing.T, r outageResult) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("%s %s %s during the outage: %d %q, want 503", r.op, r.method, r.path, r.status, r.body)
		return
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("%s %s: 503 without Retry-After", r.op, r.path)
	}
	resp := &http.Response{StatusCode: r.status, Header: r.header}
	expectFormat(t, r.method, r.path, resp, r.body, http.StatusServiceUnavailable, string(oci.CodeUnavailable))
}

// TestRedisOutage kills the real redis-server under a running registry
// in the middle of traffic of every kind, with and without auth: during
// the outage every request is answered at once with 503 and Retry-After
// in its protocol's format (never a 500, never a hang), and after Redis
// is restarted traffic succeeds again without restarting the registry.
func TestRedisOutage(t *testing.T) {
	for _, withAuth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", withAuth), func(t *testing.T) {
			runOutage(t, withAuth)
		})
	}
}

func runOutage(t *testing.T, withAuth bool) {
	p := redistest.StartProcess(t)
	meta, err := redismeta.Open(t.Context(), "redis://"+p.Addr+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	bucket, _ := fileBucket(t)
	var logs logBuffer
	c := &outageClient{t: t, http: &http.Client{Timeout: 30 * time.Second}}
	if withAuth {
		e := newAuthServer(t, meta, bucket, logs.logger(), nil)
		e.user("alice", "alice-password-1", metadata.VisibilityPrivate, false)
		secret, _ := e.token(metadata.TokenPersonal, "alice", "ci", "write:packages")
		c.base, c.ociAuth, c.apiAuth = e.base, basic("alice", secret), "token "+secret
	} else {
		c.base = newServer(t, meta, bucket, server.WithLogger(logs.logger()))
	}

	// Contents: a config blob, an image manifest tagged v1, a generic file.
	config := []byte("{}")
	cd := digest.FromBytes(config)
	if r := c.send("seed", "POST", "/v2/alice/app/blobs/uploads/?digest="+cd.String(), config, 201); !r.ok {
		t.Fatalf("push config: %d %s", r.status, r.body)
	}
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`,
		oci.MediaTypeImageManifest, cd))
	if r := c.send("seed", "PUT", "/v2/alice/app/manifests/v1", manifest, 201, "Content-Type", oci.MediaTypeImageManifest); !r.ok {
		t.Fatalf("push manifest: %d %s", r.status, r.body)
	}
	if r := c.send("seed", "PUT", "/api/packages/alice/generic/tool/1/a.bin", []byte("a"), 201); !r.ok {
		t.Fatalf("upload generic file: %d %s", r.status, r.body)
	}
	ops := outageTraffic(manifest, cd)
	var seq atomic.Int64
	round := func() (all []outageResult) {
		for _, op := range ops {
			all = append(all, op.do(c, int(seq.Add(1)))...)
		}
		return all
	}
	for _, r := range round() {
		if !r.ok {
			t.Fatalf("%s with Redis up: %d %s", r.op, r.status, r.body)
		}
	}

	// Background traffic through the kill and the restart: every answer
	// is a success or a 503 with Retry-After.
	var (
		mu      sync.Mutex
		results []outageResult
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	var stopOnce sync.Once
	stopTraffic := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopTraffic()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rs := round()
				mu.Lock()
				results = append(results, rs...)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)

	p.Kill()
	// Every kind of request, several times over (the later rounds meet
	// go-redis's dial circuit breaker): 503 each time.
	for range 3 {
		for _, r := range round() {
			checkUnavailable(t, r)
		}
	}

	p.Restart()
	awaitRecovery(t, round, 30*time.Second)
	stopTraffic()

	outage := 0
	for _, r := range results {
		if r.ok {
			continue
		}
		outage++
		checkUnavailable(t, r)
	}
	t.Logf("background traffic: %d responses, %d of them 503", len(results), outage)
	if errs := logs.errors(); len(errs) > 0 {
		t.Errorf("the outage logged errors (500s or panics):\n%s", strings.Join(errs, "\n"))
	}
	// What was pushed before the outage is still there.
	if r := c.send("after", "GET", "/v2/alice/app/manifests/v1", nil, 200); !r.ok || !bytes.Equal(r.body, manifest) {
		t.Fatalf("manifest after the outage: %d", r.status)
	}
}
