package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/quota"
)

// TestQuotaHoldsUnderParallelUploads: 12 clients upload 500 KB each into
// a namespace with a 1 MB quota at once, in 100 KB chunks — half of the
// chunks with a Content-Range, half streamed without any length. The
// bytes stored may exceed the quota by at most one chunk per upload
// (usage is read just before each atomic reservation; the old code
// stored 6 MB here); refused chunks store nothing; every blob that got
// 201 is intact; and once the refused uploads are cancelled, their
// reservations are gone and an upload that fits succeeds.
func TestQuotaHoldsUnderParallelUploads(t *testing.T) {
	const (
		limit   = 1_000_000
		uploads = 12
		size    = 500_000
		chunk   = 100_000
	)
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			meta := newMeta(t, kind)
			q := quota.New(meta, quota.WithLimit("tight", limit), quota.WithLiveness(quota.SessionAlive(meta)))
			bucket, _ := fileBucket(t)
			base := newServer(t, meta, bucket, server.WithQuota(q))
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				done    = map[string][]byte{} // repo → blob
				refused []string              // upload locations
			)
			for i := range uploads {
				wg.Go(func() {
					data := randomBytes(uint64(500+i), size)
					repo := fmt.Sprintf("tight/r%d", i)
					loc := startUpload(t, base, repo)
					for off := 0; off < size; off += chunk {
						var resp *http.Response
						if (off/chunk)%2 == 0 {
							resp, _ = do(t, http.MethodPatch, base+loc, bytes.NewReader(data[off:off+chunk]),
								"Content-Range", fmt.Sprintf("%d-%d", off, off+chunk-1))
						} else {
							resp = patchStreamed(t, base+loc, data[off:off+chunk])
						}
						if resp.StatusCode == http.StatusForbidden {
							mu.Lock()
							refused = append(refused, loc)
							mu.Unlock()
							return // refused: this upload stops here
						}
						if resp.StatusCode != http.StatusAccepted {
							t.Errorf("%s chunk at %d: %d", repo, off, resp.StatusCode)
							return
						}
					}
					d := digest.FromBytes(data)
					resp, body := do(t, http.MethodPut, base+loc+"?digest="+d.String(), nil)
					if resp.StatusCode != http.StatusCreated {
						t.Errorf("%s finish: %d %s", repo, resp.StatusCode, body)
						return
					}
					mu.Lock()
					done[repo] = data
					mu.Unlock()
				})
			}
			wg.Wait()
			used, err := q.Usage(t.Context(), "tight")
			if err != nil {
				t.Fatal(err)
			}
			if used > limit+uploads*chunk {
				t.Fatalf("%d bytes stored in a quota of %d: more than one %d-byte chunk per upload over it", used, limit, chunk)
			}
			if len(refused) == 0 {
				t.Fatal("no upload was refused: the quota did not bite")
			}
			if int64(len(done))*size != used {
				t.Fatalf("usage %d, but %d uploads of %d bytes finished: refused chunks were counted", used, len(done), size)
			}
			for repo, data := range done {
				resp, got := do(t, http.MethodGet, base+"/v2/"+repo+"/blobs/"+digest.FromBytes(data).String(), nil)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
					t.Fatalf("%s: finished blob %d, %d bytes", repo, resp.StatusCode, len(got))
				}
			}
			for _, loc := range refused {
				if resp, _ := do(t, http.MethodDelete, base+loc, nil); resp.StatusCode != http.StatusNoContent {
					t.Fatalf("cancel a refused upload: %d", resp.StatusCode)
				}
			}
			if used+200_000 <= limit {
				fits := randomBytes(999, 200_000)
				resp, body := do(t, http.MethodPost, base+"/v2/tight/last/blobs/uploads/?digest="+digest.FromBytes(fits).String(), bytes.NewReader(fits))
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("an upload that fits after the refused ones were cancelled: %d %s", resp.StatusCode, body)
				}
			}
			t.Logf("%d of %d uploads fit, %d refused; %d bytes used of a %d-byte quota", len(done), uploads, len(refused), used, limit)
		})
	}
}

// patchStreamed sends chunk as a PATCH without Content-Range or
// Content-Length (chunked transfer encoding).
func patchStreamed(t *testing.T, url string, chunk []byte) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(chunk); _ = pw.Close() }()
	req, err := http.NewRequest(http.MethodPatch, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// TestDeadReservationsAreReleased: a session that died holding a
// reservation (its record is gone: swept, or its process crashed between
// the finish and the release) does not keep the quota: the next upload
// that would exceed it finds the dead holder and releases it.
func TestDeadReservationsAreReleased(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			meta := newMeta(t, kind)
			q := quota.New(meta, quota.WithLimit("ns", 100_000), quota.WithLiveness(quota.SessionAlive(meta)))
			base := newServer(t, meta, "mem://", server.WithQuota(q))
			loc := startUpload(t, base, "ns/a")
			if r := patch(t, base, loc, 0, randomBytes(1, 90_000)); r.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH: %d", r.StatusCode)
			}
			// The session disappears without releasing (as the sweeper
			// deletes expired sessions).
			id := loc[strings.LastIndex(loc, "/")+1:]
			if err := meta.DeleteUpload(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			data := randomBytes(2, 80_000)
			resp, body := do(t, http.MethodPost, base+"/v2/ns/b/blobs/uploads/?digest="+digest.FromBytes(data).String(), bytes.NewReader(data))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload after the dead session: %d %s, want 201", resp.StatusCode, body)
			}
		})
	}
}

// TestOpenUploadsCap: past --max-open-uploads per namespace a new upload
// session is refused with 429 and Retry-After; finishing or cancelling
// one makes room, and so does a session that died.
func TestOpenUploadsCap(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			meta := newMeta(t, kind)
			q := quota.New(meta, quota.WithMaxUploads(3), quota.WithLiveness(quota.SessionAlive(meta)))
			base := newServer(t, meta, "mem://", server.WithQuota(q))
			var locs []string
			for range 3 {
				locs = append(locs, startUpload(t, base, "cap/app"))
			}
			resp, body := do(t, http.MethodPost, base+"/v2/cap/other/blobs/uploads/", nil)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "TOOMANYREQUESTS") {
				t.Fatalf("fourth upload: %d %v %s, want 429 TOOMANYREQUESTS with Retry-After", resp.StatusCode, resp.Header, body)
			}
			resp, body = do(t, http.MethodPost, base+"/api/packages/cap/generic/f/1/f.bin/uploads", nil)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("a generic upload of the same owner: %d %s, want 429", resp.StatusCode, body)
			}
			startUpload(t, base, "other/app") // another namespace is not affected
			if resp, _ := do(t, http.MethodDelete, base+locs[0], nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("cancel: %d", resp.StatusCode)
			}
			locs[0] = startUpload(t, base, "cap/app")
			id := locs[1][strings.LastIndex(locs[1], "/")+1:]
			if err := meta.DeleteUpload(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			startUpload(t, base, "cap/app") // the dead session's place is taken
		})
	}
}
