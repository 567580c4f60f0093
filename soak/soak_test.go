//go:build soak

// Package soak holds the soak test of `make soak`: three `regkit serve`
// replicas behind a round-robin reverse proxy, metadata on a Redis
// Cluster of three masters with one replica each, blobs on shared file
// storage, concurrent pushes and pulls (raw HTTP, regkit's Go client,
// crane when installed, generic packages), GC every two seconds with no
// grace, a replica killed with SIGKILL and restarted every few seconds
// and one Redis master killed so that its replica takes over.
package soak

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/client/generic"
	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage/emulators"
)

var (
	duration  = flag.Duration("duration", 90*time.Second, "how long the load runs")
	reportDir = flag.String("report", "", "directory for report.json and report.md (default: a temporary one)")
	storageK  = flag.String("storage", "s3", "where the replicas keep blobs: s3 (one bucket on versitygw, started by the test), gcs, azure, or file (one shared directory)")
)

// image is an acknowledged push: the manifest PUT was answered 201.
type image struct {
	repo, tag string
	manifest  []byte        // nil for crane pushes: dgst is known
	dgst      digest.Digest // the manifest's digest
}

type file struct {
	ref  generic.FileRef
	data []byte
}

type acks struct {
	mu     sync.Mutex
	images []image
	files  []file
	kinds  map[string]int
	failed map[string]int
	// samples are the first reasons per failed operation.
	samples map[string][]string
}

func (a *acks) image(kind string, im image) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.images = append(a.images, im)
	a.kinds[kind]++
}

func (a *acks) fail(op string, why any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failed[op]++
	if len(a.samples[op]) < 3 {
		a.samples[op] = append(a.samples[op], fmt.Sprint(why))
	}
}

func (a *acks) pick() (image, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.images) == 0 {
		return image{}, false
	}
	return a.images[mrand.IntN(len(a.images))], true
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// retrying sends a request until it gets an answer other than 503/502/429
// or a network error (a replica was down), at most 30 times.
func retrying(ctx context.Context, method, u, ctype string, body []byte) (*http.Response, []byte, error) {
	var last error
	for range 30 {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode != 503 && resp.StatusCode != 502 && resp.StatusCode != 429 {
				return resp, b, nil
			}
			last = fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, b)
		} else {
			last = err
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		time.Sleep(time.Duration(200+mrand.IntN(500)) * time.Millisecond)
	}
	return nil, nil, last
}

const (
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar"
)

func manifestOf(config, layer []byte) []byte {
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtManifest,
		"config":        map[string]any{"mediaType": mtConfig, "digest": digest.FromBytes(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": mtLayer, "digest": digest.FromBytes(layer), "size": len(layer)}},
	}
	b, _ := json.Marshal(m)
	return b
}

func configOf() []byte {
	return []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"nonce":%q}`, rand.Text()))
}

// rawPush pushes one image with monolithic POST ?digest= uploads.
func rawPush(ctx context.Context, base, repo, tag string, a *acks) {
	cfg, layer := configOf(), randBytes(32<<10+mrand.IntN(256<<10))
	for _, b := range [][]byte{cfg, layer} {
		resp, body, err := retrying(ctx, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), "application/octet-stream", b)
		if err != nil || resp.StatusCode != http.StatusCreated {
			a.fail("raw blob upload", why(resp, body, err))
			return
		}
	}
	m := manifestOf(cfg, layer)
	resp, body, err := retrying(ctx, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, mtManifest, m)
	if err != nil || resp.StatusCode != http.StatusCreated {
		a.fail("raw manifest put", why(resp, body, err))
		return
	}
	a.image("raw HTTP", image{repo: repo, tag: tag, manifest: m, dgst: digest.FromBytes(m)})
}

// clientPush pushes one image with regkit's Go client: chunked uploads.
func clientPush(ctx context.Context, c *oci.Client, repo, tag string, a *acks) {
	cfg, layer := configOf(), randBytes(256<<10+mrand.IntN(512<<10))
	for _, b := range [][]byte{cfg, layer} {
		if _, err := c.BlobPutChunked(ctx, repo, bytes.NewReader(b), 64<<10); err != nil {
			a.fail("client chunked upload", err)
			return
		}
	}
	m := manifestOf(cfg, layer)
	if _, err := c.ManifestPut(ctx, repo, tag, mtManifest, m); err != nil {
		a.fail("client manifest put", err)
		return
	}
	a.image("regkit Go client", image{repo: repo, tag: tag, manifest: m, dgst: digest.FromBytes(m)})
}

// cranePush pushes one image with `crane append` of a random layer.
func cranePush(ctx context.Context, crane, host, dir, repo, tag string, a *acks) {
	layer := filepath.Join(dir, tag+".tar")
	var tarball bytes.Buffer
	writeTar(&tarball, randBytes(64<<10+mrand.IntN(128<<10)))
	if err := os.WriteFile(layer, tarball.Bytes(), 0o644); err != nil {
		a.fail("crane append", err)
		return
	}
	defer os.Remove(layer)
	cmd := exec.CommandContext(ctx, crane, "append", "--insecure", "-f", layer, "-t", host+"/"+repo+":"+tag)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		a.fail("crane append", fmt.Sprintf("%v: %s", err, lastLine(stderr.String())))
		return
	}
	ref := strings.TrimSpace(string(out))
	_, d, ok := strings.Cut(ref, "@")
	if !ok {
		a.fail("crane append", "no digest in "+ref)
		return
	}
	a.image("crane", image{repo: repo, tag: tag, dgst: digest.Digest(d)})
}

// pull reads an acknowledged image back and checks its bytes.
func pull(ctx context.Context, base string, im image) error {
	resp, m, err := retrying(ctx, http.MethodGet, base+"/v2/"+im.repo+"/manifests/"+im.tag, "", nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || digest.FromBytes(m) != im.dgst || (im.manifest != nil && !bytes.Equal(m, im.manifest)) {
		return fmt.Errorf("manifest %s:%s: %d, digest %s, want %s", im.repo, im.tag, resp.StatusCode, digest.FromBytes(m), im.dgst)
	}
	var parsed struct {
		Config struct{ Digest digest.Digest } `json:"config"`
		Layers []struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(m, &parsed); err != nil {
		return err
	}
	blobs := []digest.Digest{parsed.Config.Digest}
	for _, l := range parsed.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, d := range blobs {
		resp, b, err := retrying(ctx, http.MethodGet, base+"/v2/"+im.repo+"/blobs/"+d.String(), "", nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || digest.FromBytes(b) != d {
			return fmt.Errorf("blob %s of %s:%s: %d, %d bytes digest %s", d, im.repo, im.tag, resp.StatusCode, len(b), digest.FromBytes(b))
		}
	}
	return nil
}

func pullFile(ctx context.Context, base string, f file) error {
	u := fmt.Sprintf("%s/api/packages/%s/generic/%s/%s/%s", base, f.ref.Owner, f.ref.Name, f.ref.Version, f.ref.Filename)
	resp, b, err := retrying(ctx, http.MethodGet, u, "", nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, f.data) {
		return fmt.Errorf("%s: %d, %d bytes (want %d), equal %v", u, resp.StatusCode, len(b), len(f.data), bytes.Equal(b, f.data))
	}
	return nil
}

func TestSoak(t *testing.T) {
	dir := t.TempDir()
	bin := buildRegkit(t, dir)
	cluster := redistest.StartClusterWithReplicas(t, 3, time.Second)
	bucketURL := "file://" + filepath.Join(dir, "blobs")
	if *storageK == "file" {
		if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		// One bucket on the emulator; the replicas (subprocesses) inherit
		// the credentials Start puts in the environment.
		bucketURL = emulators.Start(t, emulators.Kind(*storageK)).NewBucket(t)
	}
	args := []string{
		"--storage", bucketURL,
		"--redis", "redis+cluster://" + strings.Join(cluster.Addrs(), ",") + "?dial_timeout=1s",
		"--gc-interval", "2s", "--gc-start-delay", "1s", "--gc-grace", "0s",
		"--upload-lease-ttl", "2s", "--log-level", "warn", "--drain-delay", "0s",
	}
	reps := make([]*replica, 3)
	addrs := make([]string, 3)
	for i := range reps {
		rd := filepath.Join(dir, fmt.Sprintf("replica%d", i))
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		reps[i] = &replica{bin: bin, addr: freeAddr(t), dir: rd, args: args}
		addrs[i] = reps[i].addr
		reps[i].start(t)
		t.Cleanup(reps[i].stop)
	}
	st := &stats{byStatus: map[int]int{}}
	proxy := newProxy(addrs, st)
	defer proxy.Close()
	base := proxy.URL
	host := strings.TrimPrefix(base, "http://")
	a := &acks{kinds: map[string]int{}, failed: map[string]int{}, samples: map[string][]string{}}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	worker := func(name string, f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				f(i)
			}
		}()
	}
	for w := range 2 {
		worker("raw", func(i int) { rawPush(ctx, base, fmt.Sprintf("soak/raw%d", i%5), fmt.Sprintf("w%d-%d", w, i), a) })
	}
	oc := oci.NewClient(base)
	worker("client", func(i int) { clientPush(ctx, oc, fmt.Sprintf("soak/client%d", i%3), fmt.Sprintf("t%d", i), a) })
	if crane, err := exec.LookPath("crane"); err == nil {
		craneDir := filepath.Join(dir, "crane")
		_ = os.MkdirAll(craneDir, 0o755)
		worker("crane", func(i int) { cranePush(ctx, crane, host, craneDir, "soak/crane", fmt.Sprintf("c%d", i), a) })
	} else {
		t.Log("crane is not installed: no crane pushes")
	}
	gc := generic.NewClient(base)
	worker("generic", func(i int) {
		size := 16<<10 + mrand.IntN(64<<10)
		opts := &generic.UploadOptions{ResumableFrom: -1}
		if i%3 == 0 { // every third through a resumable upload session
			size, opts = 300<<10+mrand.IntN(300<<10), &generic.UploadOptions{ResumableFrom: 1, ChunkSize: 128 << 10}
		}
		f := file{ref: generic.FileRef{Owner: "soak", Name: fmt.Sprintf("pkg%d", i%4), Version: fmt.Sprintf("1.0.%d", i), Filename: "f.bin"}, data: randBytes(size)}
		if err := gc.Upload(ctx, f.ref, bytes.NewReader(f.data), int64(size), opts); err != nil {
			a.fail("generic upload", err)
			return
		}
		a.mu.Lock()
		a.files = append(a.files, f)
		a.mu.Unlock()
	})
	var pullErrs []string
	var pullMu sync.Mutex
	for range 2 {
		worker("pull", func(int) {
			im, ok := a.pick()
			if !ok {
				ctxSleep(ctx, 100*time.Millisecond)
				return
			}
			if err := pull(ctx, base, im); err != nil && ctx.Err() == nil {
				pullMu.Lock()
				pullErrs = append(pullErrs, err.Error())
				pullMu.Unlock()
			}
		})
	}
	kills := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctxSleep(ctx, 4*time.Second); i++ {
			r := reps[i%len(reps)]
			r.kill9()
			kills++
			ctxSleep(ctx, time.Second)
			r.start(t)
		}
	}()
	ctxSleep(ctx, *duration/3)
	failover := "not done"
	if ctx.Err() == nil {
		took := cluster.KillMaster(t, 0)
		failover = fmt.Sprintf("master %s killed at %v, replica %s promoted in %v", cluster.Masters[0], *duration/3, cluster.Replicas[0], took.Round(time.Millisecond))
		t.Log(failover)
	}
	<-ctx.Done()
	wg.Wait()
	for _, r := range reps {
		r.start(t)
	}

	// Every acknowledged image and file reads back byte-exact.
	vctx, vcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer vcancel()
	var lost []string
	verified := 0
	for _, im := range a.images {
		if err := pull(vctx, base, im); err != nil {
			lost = append(lost, err.Error())
		} else {
			verified++
		}
	}
	for _, f := range a.files {
		if err := pullFile(vctx, base, f); err != nil {
			lost = append(lost, err.Error())
		} else {
			verified++
		}
	}
	n, by, p50, p99 := st.summary()
	st.mu.Lock()
	rep := report{
		Duration: duration.String(), Requests: n, ByStatus: by, Proxy503: st.proxy503, P50ms: p50, P99ms: p99,
		Images: a.kinds, Files: len(a.files), Verified: verified, Lost: lost, ServerErrors: st.fivehund,
		ReplicaKills: kills, RedisFailover: failover, FailedOps: a.failed, FailSamples: a.samples,
		Machine: fmt.Sprintf("%d CPUs, shared with other jobs (loaded)", runtimeCPUs()), Storage: *storageK,
	}
	st.mu.Unlock()
	out := *reportDir
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	_ = os.WriteFile(filepath.Join(out, "report.json"), js, 0o644)
	_ = os.WriteFile(filepath.Join(out, "report.md"), []byte(rep.markdown()), 0o644)
	for i, r := range reps {
		r.stop()
		if b, err := os.ReadFile(filepath.Join(r.dir, "serve.log")); err == nil {
			_ = os.WriteFile(filepath.Join(out, fmt.Sprintf("replica%d.log", i)), b, 0o644)
		}
	}
	t.Logf("report in %s:\n%s", out, rep.markdown())
	if len(a.images) == 0 || len(a.files) == 0 {
		t.Errorf("nothing acknowledged: %d images, %d files", len(a.images), len(a.files))
	}
	for _, e := range lost {
		t.Errorf("lost: %s", e)
	}
	for i, e := range st.fivehund {
		if i == 20 {
			t.Errorf("... %d more", len(st.fivehund)-20)
			break
		}
		t.Errorf("server error: %s", e)
	}
	for i, e := range pullErrs {
		if i == 20 {
			break
		}
		t.Errorf("pull during the soak: %s", e)
	}
}

// why describes a failed raw request.
func why(resp *http.Response, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, lastLine(string(body)))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
