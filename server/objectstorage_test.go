package server_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage/emulators"
)

// patchChunk sends one chunk of an upload at Location loc (relative or
// absolute) to base and returns the next Location.
func patchChunk(t *testing.T, base, loc string, off int, chunk []byte, want int) string {
	t.Helper()
	resp, body := do(t, http.MethodPatch, abs(base, loc), bytes.NewReader(chunk),
		"Content-Type", "application/octet-stream",
		"Content-Range", rangeOf(off, len(chunk)))
	if resp.StatusCode != want {
		t.Fatalf("PATCH at %d on %s: %d %s, want %d", off, base, resp.StatusCode, body, want)
	}
	if l := resp.Header.Get("Location"); l != "" {
		return l
	}
	return loc
}

// pathOf returns the path and query of Location loc.
func pathOf(loc string) string {
	if strings.HasPrefix(loc, "http") {
		rest := loc[len("http://"):]
		return rest[strings.Index(rest, "/"):]
	}
	return loc
}

func abs(base, loc string) string {
	return base + pathOf(loc)
}

func rangeOf(off, n int) string {
	return strconv.Itoa(off) + "-" + strconv.Itoa(off+n-1)
}

// TestObjectStorageReplicas: two registries share one Redis (each with
// its own client, as replicas would) and one bucket on each emulator;
// the PATCHes of one upload alternate
// between them (1 MiB chunks, so S3 merges them into 5 MiB parts), the
// final PUT lands on the other, and the blob reads back byte-exact from
// both.
func TestObjectStorageReplicas(t *testing.T) {
	for _, k := range emulators.Kinds {
		t.Run(string(k), func(t *testing.T) {
			e := emulators.Start(t, k)
			url := e.NewBucket(t)
			addr := redistest.Start(t)
			replica := func() string {
				m := redismeta.New(redis.NewClient(&redis.Options{Addr: addr}))
				t.Cleanup(func() { _ = m.Close() })
				return newServer(t, m, url)
			}
			a, b := replica(), replica()
			data := fixtures.Blob(7, 11<<20+777)
			d := digest.FromBytes(data)
			resp, body := do(t, http.MethodPost, a+"/v2/rep/blob/blobs/uploads/", nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST: %d %s", resp.StatusCode, body)
			}
			wantMin := ""
			if k == emulators.S3 {
				wantMin = "5242880"
			}
			if got := resp.Header.Get("OCI-Chunk-Min-Length"); got != wantMin {
				t.Errorf("POST: OCI-Chunk-Min-Length %q, want %q", got, wantMin)
			}
			loc := resp.Header.Get("Location")
			const chunk = 1 << 20
			off := 0
			for i := 0; off+chunk < len(data); i++ {
				srv := a
				if i%2 == 1 {
					srv = b
				}
				loc = patchChunk(t, srv, loc, off, data[off:off+chunk], http.StatusAccepted)
				off += chunk
			}
			sep := "?"
			if strings.Contains(loc, "?") {
				sep = "&"
			}
			resp, body = do(t, http.MethodPut, abs(b, loc)+sep+"digest="+d.String(), bytes.NewReader(data[off:]),
				"Content-Type", "application/octet-stream")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("final PUT: %d %s", resp.StatusCode, body)
			}
			for _, srv := range []string{a, b} {
				resp, got := do(t, http.MethodGet, srv+"/v2/rep/blob/blobs/"+d.String(), nil)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
					t.Fatalf("GET from %s: %d, %d bytes, want %d byte-exact", srv, resp.StatusCode, len(got), len(data))
				}
				resp, got = do(t, http.MethodGet, srv+"/v2/rep/blob/blobs/"+d.String(), nil, "Range", "bytes=5242000-5242999")
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[5242000:5243000]) {
					t.Fatalf("ranged GET from %s: %d, %d bytes", srv, resp.StatusCode, len(got))
				}
			}
		})
	}
}

// TestBucketOutage stops the S3, GCS and Azure emulators under a running
// registry, in the middle of background traffic (chunked uploads, blob
// GETs, generic PUTs, manifest GETs) and between two PATCHes of an
// upload: while they are down, blob reads, PATCHes and generic uploads
// answer 503 with Retry-After in their protocol's format (never 500, no
// error logged), manifest GETs by tag still answer 200 (they never touch
// the bucket); after a restart (same port, same data) traffic recovers
// and the upload begun before the outage finishes and reads back
// byte-exact. On Azure the client's bounded retry policy (azure.go) is
// what makes the 503s come in about a second instead of ~30 s.
func TestBucketOutage(t *testing.T) {
	for _, k := range emulators.Kinds {
		t.Run(string(k), func(t *testing.T) {
			e := emulators.Start(t, k)
			var logs logBuffer
			base := newServer(t, newMeta(t, "mem"), e.NewBucket(t), server.WithLogger(logs.logger()))
			img := fixtures.Image(fixtures.ImageOptions{Seed: 3})
			pushAll(t, base, "out/app", img)
			resp, body := do(t, http.MethodPut, base+"/v2/out/app/manifests/v1", bytes.NewReader(img.Data), "Content-Type", img.MediaType())
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("tag: %d %s", resp.StatusCode, body)
			}
			layer := img.Blobs()[len(img.Blobs())-1]
			data := fixtures.Blob(9, 6<<20+5)
			resp, body = do(t, http.MethodPost, base+"/v2/out/app/blobs/uploads/", nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST: %d %s", resp.StatusCode, body)
			}
			loc := patchChunk(t, base, resp.Header.Get("Location"), 0, data[:3<<20], http.StatusAccepted)

			c := &outageClient{t: t, base: base, http: &http.Client{Timeout: time.Minute}}
			load := startBucketTraffic(c, "out/app", "v1", layer.Digest(), 3)
			defer load.stop()
			time.Sleep(300 * time.Millisecond)
			stopped := time.Now()
			e.Stop()
			t.Logf("%s stopped in %v", k, time.Since(stopped).Round(time.Millisecond))
			var results []outageResult
			results = append(results,
				c.send("blob GET", "GET", "/v2/out/app/blobs/"+layer.Digest().String(), nil, 200),
				c.send("upload PATCH", "PATCH", pathOf(loc), data[3<<20:], 202,
					"Content-Type", "application/octet-stream", "Content-Range", rangeOf(3<<20, len(data)-3<<20)),
				c.send("generic PUT", "PUT", "/api/packages/out/generic/tool/1/f.bin", []byte("file"), 201),
			)
			for _, r := range results {
				checkUnavailable(t, r)
			}
			if r := c.send("manifest GET", "GET", "/v2/out/app/manifests/v1", nil, 200); !r.ok {
				t.Errorf("manifest GET by tag during the bucket outage: %d %s, want 200", r.status, r.body)
			}

			time.Sleep(300 * time.Millisecond) // the background traffic meets the outage too
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			load.recover(t)
			checkTraffic(t, load.stop())
			if errs := logs.errors(); len(errs) > 0 {
				t.Errorf("the outage logged errors (500s or panics):\n%s", strings.Join(errs, "\n"))
			}
			loc = patchChunk(t, base, loc, 3<<20, data[3<<20:], http.StatusAccepted)
			sep := "?"
			if strings.Contains(loc, "?") {
				sep = "&"
			}
			resp, body = do(t, http.MethodPut, abs(base, loc)+sep+"digest="+digest.FromBytes(data).String(), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("final PUT after the outage: %d %s", resp.StatusCode, body)
			}
			resp, got := do(t, http.MethodGet, base+"/v2/out/app/blobs/"+digest.FromBytes(data).String(), nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
				t.Fatalf("GET after the outage: %d, %d bytes, want %d", resp.StatusCode, len(got), len(data))
			}
		})
	}
}

// TestRedirect: with WithRedirect, a blob GET on S3 and Azure answers 307
// to a signed URL that serves the bytes to a client without credentials;
// without it (and on file storage) the registry streams them.
func TestRedirect(t *testing.T) {
	for _, k := range []emulators.Kind{emulators.S3, emulators.Azure} {
		t.Run(string(k), func(t *testing.T) {
			e := emulators.Start(t, k)
			url := e.NewBucket(t)
			meta := newMeta(t, "mem")
			red := newServer(t, meta, url, server.WithRedirect(time.Minute))
			plain := newServer(t, meta, url)
			data := fixtures.Blob(11, 300_000)
			d := digest.FromBytes(data)
			resp, body := do(t, http.MethodPost, plain+"/v2/red/x/blobs/uploads/?digest="+d.String(), bytes.NewReader(data))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("push: %d %s", resp.StatusCode, body)
			}
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Get(red + "/v2/red/x/blobs/" + d.String())
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusTemporaryRedirect || loc == "" {
				t.Fatalf("GET with redirects on: %d, Location %q; want 307 to a signed URL", resp.StatusCode, loc)
			}
			resp, got := do(t, http.MethodGet, loc, nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
				t.Fatalf("GET of the signed URL: %d, %d bytes; want %d byte-exact", resp.StatusCode, len(got), len(data))
			}
			resp, err = noFollow.Get(plain + "/v2/red/x/blobs/" + d.String())
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET with redirects off: %d, want 200", resp.StatusCode)
			}
		})
	}
	t.Run("file streams", func(t *testing.T) {
		u, _ := fileBucket(t)
		base := newServer(t, newMeta(t, "mem"), u, server.WithRedirect(time.Minute))
		data := fixtures.Blob(12, 1000)
		d := digest.FromBytes(data)
		if resp, body := do(t, http.MethodPost, base+"/v2/red/x/blobs/uploads/?digest="+d.String(), bytes.NewReader(data)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("push: %d %s", resp.StatusCode, body)
		}
		resp, got := do(t, http.MethodGet, base+"/v2/red/x/blobs/"+d.String(), nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Fatalf("GET on file storage with redirects on: %d, %d bytes", resp.StatusCode, len(got))
		}
	})
}
