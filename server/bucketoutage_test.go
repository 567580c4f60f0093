package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
)

// bucketTraffic sends requests that touch the bucket (and manifest GETs,
// which must not) from a few goroutines until stop: a full chunked upload
// (POST, PATCH, PUT), a blob GET, a generic file PUT and a manifest GET by
// tag. It is the load a bucket outage happens under.
type bucketTraffic struct {
	c         *outageClient
	repo, tag string
	blob      digest.Digest
	seq       atomic.Int64
	stopCh    chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex
	results   []outageResult
}

func startBucketTraffic(c *outageClient, repo, tag string, blob digest.Digest, workers int) *bucketTraffic {
	b := &bucketTraffic{c: c, repo: repo, tag: tag, blob: blob, stopCh: make(chan struct{})}
	for range workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-b.stopCh:
					return
				default:
				}
				rs := b.round()
				b.mu.Lock()
				b.results = append(b.results, rs...)
				b.mu.Unlock()
			}
		}()
	}
	return b
}

// round sends one request of every kind (the upload's PATCH and PUT only
// when its POST succeeded) and returns the responses.
func (b *bucketTraffic) round() []outageResult {
	i := b.seq.Add(1)
	c, v2 := b.c, "/v2/"+b.repo
	out := []outageResult{
		c.send("manifest GET", "GET", v2+"/manifests/"+b.tag, nil, 200),
		c.send("blob GET", "GET", v2+"/blobs/"+b.blob.String(), nil, 200),
		c.send("generic PUT", "PUT", fmt.Sprintf("/api/packages/out/generic/load/1/f%d.bin", i), []byte("file"), 201),
	}
	data := fixtures.Blob(uint64(1000+i), 64<<10+int(i))
	start := c.send("upload POST", "POST", v2+"/blobs/uploads/", nil, 202)
	out = append(out, start)
	if !start.ok {
		return out
	}
	patch := c.send("upload PATCH", "PATCH", pathOf(start.header.Get("Location")), data, 202,
		"Content-Type", "application/octet-stream", "Content-Range", rangeOf(0, len(data)))
	out = append(out, patch)
	if !patch.ok {
		return out
	}
	out = append(out, c.send("upload PUT", "PUT", pathOf(patch.header.Get("Location"))+sepOf(patch.header.Get("Location"))+"digest="+digest.FromBytes(data).String(), nil, 201))
	return out
}

func sepOf(loc string) string {
	if strings.Contains(loc, "?") {
		return "&"
	}
	return "?"
}

// stop ends the traffic and returns every response it got.
func (b *bucketTraffic) stop() []outageResult {
	b.stopOnce.Do(func() { close(b.stopCh) })
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.results
}

// recover sends rounds until one succeeds whole, within 60 s; every
// failure meanwhile must be a 503 (the registry reconnecting).
func (b *bucketTraffic) recover(t *testing.T) {
	t.Helper()
	awaitRecovery(t, b.round, time.Minute)
}

// awaitRecovery calls round until one round succeeds whole, within
// within; every failure meanwhile must be a 503 (the registry
// reconnecting).
func awaitRecovery(t *testing.T, round func() []outageResult, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		good := true
		for _, r := range round() {
			if !r.ok {
				good = false
				if r.status != http.StatusServiceUnavailable {
					t.Errorf("%s %s after the restart: %d %q, want success (or 503 while reconnecting)", r.op, r.path, r.status, r.body)
				}
			}
		}
		if good {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("traffic did not recover within %v of the restart", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkTraffic checks the responses of traffic through an outage: every
// one a success or a 503 with Retry-After in its protocol's format, the
// manifest GETs all successes, and some 503s (the outage was met).
func checkTraffic(t *testing.T, results []outageResult) {
	t.Helper()
	unavailable := map[string]int{}
	for _, r := range results {
		if r.ok {
			continue
		}
		if r.op == "manifest GET" {
			t.Errorf("manifest GET by tag during the bucket outage: %d %q, want 200 (manifests never touch the bucket)", r.status, r.body)
			continue
		}
		checkUnavailable(t, r)
		unavailable[r.op]++
	}
	t.Logf("background traffic: %d responses; 503s by request: %v", len(results), unavailable)
	if len(unavailable) == 0 {
		t.Error("the background traffic met no 503: the outage did not happen under load")
	}
}
