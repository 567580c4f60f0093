package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// raceDuration is how long TestAcknowledgedSurvivesZeroGrace pushes at
// least: 20 s unless REGKIT_GC_RACE_SECONDS says otherwise. On a loaded
// machine it goes on (up to raceCap times as long) until the race has
// been exercised enough to mean something.
func raceDuration(t *testing.T) time.Duration {
	if v := os.Getenv("REGKIT_GC_RACE_SECONDS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			t.Fatalf("REGKIT_GC_RACE_SECONDS=%q: want a number of seconds", v)
		}
		return time.Duration(n) * time.Second
	}
	return 20 * time.Second
}

// raceCap bounds how much longer than raceDuration the race may run.
const raceCap = 6

// ackedImage is an image whose manifest PUT was answered 201.
type ackedImage struct {
	repo, tag string
	manifest  []byte
	blobs     map[digest.Digest][]byte
}

// ackedFile is a generic package file whose PUT was answered 201.
type ackedFile struct {
	path string
	data []byte
}

// TestAcknowledgedSurvivesZeroGrace: the collector runs back to back with
// a zero grace period (and no other protection) while 8 writers push
// images that share layers and delete many of them again — so shared
// layers keep turning into garbage and being pushed again — and 2 writers
// do the same with generic package files. Every image and file that got
// 201 and was not deleted by its writer must read back byte-exact at the
// end. Blob pushes and manifest PUTs may be refused while their blobs are
// being collected; those are retried, never counted.
func TestAcknowledgedSurvivesZeroGrace(t *testing.T) {
	for _, kind := range []string{"bolt", "redis"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			meta := newMeta(t, kind)
			bucket, _ := fileBucket(t)
			p, _ := meta.(metadata.Packages)
			base := newServer(t, meta, bucket, server.WithPackages(p))
			store, err := storage.Open(ctx, bucket, meta)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			sweeper := gc.New(meta, store, gc.WithGrace(0), gc.WithLogger(quiet()),
				gc.WithReferencers(metadata.PackageReferencer(p)))

			// A pool of layers the writers share; small, so that a run
			// pushes thousands of images.
			pool := make([][]byte, 8)
			for i := range pool {
				pool[i] = randomBytes(uint64(7000+i), 2_000+i*100)
			}

			wctx, stop := context.WithCancel(ctx)
			defer stop()
			var kept atomic.Int64 // acknowledged images not deleted again
			var (
				mu       sync.Mutex
				images   []ackedImage
				files    []ackedFile
				refused  atomic.Int64
				wg       sync.WaitGroup
				failures = make(chan error, 16)
			)
			fail := func(err error) {
				select {
				case failures <- err:
				default:
				}
			}
			for w := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					var mine []ackedImage
					for i := 0; wctx.Err() == nil; i++ {
						img, err := pushImage(wctx, base, fmt.Sprintf("race/w%d", w), fmt.Sprintf("t%d", i), rng, pool)
						if err != nil {
							if wctx.Err() == nil {
								fail(err)
							}
							break
						}
						if img == nil {
							refused.Add(1)
							continue
						}
						mine = append(mine, *img)
						kept.Add(1)
						// Delete about half of them again, so their layers
						// become garbage while other writers push them.
						if rng.IntN(2) == 0 && len(mine) > 0 {
							j := rng.IntN(len(mine))
							err := deleteImage(wctx, base, mine[j])
							mine = append(mine[:j], mine[j+1:]...) // deleted, or in doubt
							kept.Add(-1)
							if err != nil {
								if wctx.Err() == nil {
									fail(err)
								}
								break
							}
						}
					}
					mu.Lock()
					images = append(images, mine...)
					mu.Unlock()
				})
			}
			for w := range 2 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(100+w), 2))
					var mine []ackedFile
				files:
					for i := 0; wctx.Err() == nil; i++ {
						data := pool[rng.IntN(len(pool))]
						path := fmt.Sprintf("%s/api/packages/race%d/generic/pkg/1.%d.0/f.bin", base, w, i)
						code, err := send(wctx, http.MethodPut, path, data)
						switch {
						case err != nil:
							if wctx.Err() == nil {
								fail(err)
							}
							break files
						case code == http.StatusCreated:
							mine = append(mine, ackedFile{path, data})
						case code == http.StatusServiceUnavailable:
							refused.Add(1)
							continue
						default:
							fail(fmt.Errorf("PUT %s: %d", path, code))
							break files
						}
						if rng.IntN(2) == 0 {
							j := rng.IntN(len(mine))
							del := mine[j].path
							mine = append(mine[:j], mine[j+1:]...) // deleted, or in doubt
							if code, err := send(wctx, http.MethodDelete, del, nil); err != nil || code != http.StatusNoContent {
								if wctx.Err() == nil {
									fail(fmt.Errorf("DELETE %s: %d %v", del, code, err))
								}
								break
							}
						}
					}
					mu.Lock()
					files = append(files, mine...)
					mu.Unlock()
				})
			}
			runs, collected := 0, 0
			start, least := time.Now(), raceDuration(t)
			for wctx.Err() == nil {
				enough := runs >= 10 && collected > 0 && kept.Load() >= 100
				if elapsed := time.Since(start); elapsed >= least && enough || elapsed >= raceCap*least {
					stop()
					break
				}
				rep, err := sweeper.RunOnce(wctx)
				if err != nil && wctx.Err() == nil {
					t.Fatalf("gc run: %v", err)
				}
				runs++
				collected += len(rep.Deleted)
			}
			wg.Wait()
			close(failures)
			for err := range failures {
				t.Fatal(err)
			}
			// Once more after the writers stopped: nothing acknowledged
			// may go either.
			if _, err := sweeper.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if runs < 10 || collected == 0 || len(images) < 100 {
				t.Fatalf("the race did not happen: %d gc runs collected %d blobs, %d images kept", runs, collected, len(images))
			}
			for _, img := range images {
				checkImage(t, base, img)
			}
			for _, f := range files {
				resp, got := do(t, http.MethodGet, f.path, nil)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(got, f.data) {
					t.Fatalf("acknowledged file %s: %d, %d bytes (want %d)", f.path, resp.StatusCode, len(got), len(f.data))
				}
			}
			t.Logf("%d gc runs collected %d blobs; %d images and %d files kept and intact; %d pushes refused and retried",
				runs, collected, len(images), len(files), refused.Load())
		})
	}
}

// pushImage pushes an image of two shared layers, one own layer and a
// config into repo:tag the way clients do (HEAD each blob, push the
// missing ones, then PUT the manifest). It returns nil when the registry
// refused the manifest because a blob went away meanwhile.
func pushImage(ctx context.Context, base, repo, tag string, rng *rand.Rand, pool [][]byte) (*ackedImage, error) {
	own := fmt.Appendf(nil, "own layer of %s:%s %d", repo, tag, rng.Uint64())
	config := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"tag":%q}`, repo+":"+tag)
	layers := [][]byte{pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))], own}
	img := &ackedImage{repo: repo, tag: tag, blobs: map[digest.Digest][]byte{}}
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, oci.MediaTypeImageManifest, desc{"application/vnd.oci.image.config.v1+json", digest.FromBytes(config), len(config)}, nil}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", digest.FromBytes(l), len(l)})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	img.manifest = body
	for _, b := range append([][]byte{config}, layers...) {
		d := digest.FromBytes(b)
		img.blobs[d] = b
		code, err := send(ctx, http.MethodHead, base+"/v2/"+repo+"/blobs/"+d.String(), nil)
		if err != nil {
			return nil, err
		}
		if code == http.StatusOK {
			continue
		}
		code, err = send(ctx, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), b)
		if err != nil {
			return nil, err
		}
		if code == http.StatusServiceUnavailable || code == http.StatusConflict {
			return nil, nil
		}
		if code != http.StatusCreated {
			return nil, fmt.Errorf("push blob %s to %s: %d", d, repo, code)
		}
	}
	code, err := send(ctx, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, body, "Content-Type", oci.MediaTypeImageManifest)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusBadRequest:
		return nil, nil // MANIFEST_BLOB_UNKNOWN: a layer was collected after its HEAD
	case code != http.StatusCreated:
		return nil, fmt.Errorf("put manifest %s:%s: %d", repo, tag, code)
	}
	return img, nil
}

// deleteImage deletes the manifest of img by digest.
func deleteImage(ctx context.Context, base string, img ackedImage) error {
	d := digest.FromBytes(img.manifest)
	code, err := send(ctx, http.MethodDelete, base+"/v2/"+img.repo+"/manifests/"+d.String(), nil)
	if err == nil && code != http.StatusAccepted {
		err = fmt.Errorf("delete %s@%s: %d", img.repo, d, code)
	}
	return err
}

// checkImage pulls img by tag and compares manifest and blobs byte for
// byte.
func checkImage(t *testing.T, base string, img ackedImage) {
	t.Helper()
	resp, got := do(t, http.MethodGet, base+"/v2/"+img.repo+"/manifests/"+img.tag, nil, "Accept", oci.MediaTypeImageManifest)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, img.manifest) {
		t.Fatalf("acknowledged image %s:%s: manifest %d", img.repo, img.tag, resp.StatusCode)
	}
	for d, want := range img.blobs {
		resp, got := do(t, http.MethodGet, base+"/v2/"+img.repo+"/blobs/"+d.String(), nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("acknowledged image %s:%s lost blob %s: %d, %d bytes", img.repo, img.tag, d, resp.StatusCode, len(got))
		}
	}
}

// send makes one request and returns its status, reading the body away.
func send(ctx context.Context, method, url string, body []byte, header ...string) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
