package gc_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// TestConcurrentUse runs sweeps back to back with a zero grace period
// while writers keep using blobs the way the server does — LinkBlob, then
// a manifest that references them, then a TouchBlob that takes the
// manifest back when it fails — and mostly drop them again (delete the
// manifest), so that blobs keep turning into garbage and back while the
// sweeper works. No kept manifest may ever end up pointing at deleted
// bytes.
func TestConcurrentUse(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const (
			blobs   = 30
			writers = 4
			grace   = 0
		)
		var all []metadata.Blob
		for i := range blobs {
			all = append(all, e.blob("src", fmt.Sprintf("blob-%d", i)))
		}
		content := func(b metadata.Blob) string {
			for i := range blobs {
				if c := fmt.Sprintf("blob-%d", i); digest.FromString(c) == b.Digest {
					return c
				}
			}
			return ""
		}

		ctx, stop := context.WithTimeout(e.ctx, 1500*time.Millisecond)
		defer stop()
		type use struct {
			repo string
			blob metadata.Blob
		}
		var (
			mu   sync.Mutex
			kept []use
			wg   sync.WaitGroup
		)
		for w := range writers {
			wg.Go(func() {
				repo := fmt.Sprintf("dst/%d", w)
				for i := 0; ctx.Err() == nil; i++ {
					b := all[rand.IntN(len(all))]
					if err := e.meta.LinkBlob(ctx, repo, b); err != nil {
						if !errors.Is(err, metadata.ErrNotFound) && !errors.Is(err, metadata.ErrConflict) && ctx.Err() == nil {
							t.Errorf("LinkBlob: %v", err)
						}
						// Collected: upload it again, as a client would.
						c := content(b)
						if _, err := e.st.PutBlob(ctx, b.Digest, strings.NewReader(c), int64(len(c))); err != nil &&
							!errors.Is(err, storage.ErrCollected) && ctx.Err() == nil {
							t.Errorf("PutBlob again: %v", err)
						}
						continue
					}
					body := fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i)
					m := metadata.Manifest{Digest: digest.FromBytes(body), Body: body, References: []digest.Digest{b.Digest}}
					if err := e.meta.PutManifest(ctx, repo, m); err != nil {
						if ctx.Err() == nil {
							t.Errorf("PutManifest: %v", err)
						}
						return
					}
					if _, err := e.meta.TouchBlob(ctx, b.Digest); err != nil {
						// Being collected: take the manifest back, as the
						// server does.
						if !errors.Is(err, metadata.ErrNotFound) && !errors.Is(err, metadata.ErrConflict) && ctx.Err() == nil {
							t.Errorf("TouchBlob: %v", err)
						}
						if err := e.meta.DeleteManifest(ctx, repo, m.Digest); err != nil && ctx.Err() == nil {
							t.Errorf("DeleteManifest: %v", err)
						}
						continue
					}
					if i%8 == 0 {
						mu.Lock()
						kept = append(kept, use{repo, b})
						mu.Unlock()
						continue
					}
					time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
					if err := e.meta.DeleteManifest(ctx, repo, m.Digest); err != nil && ctx.Err() == nil {
						t.Errorf("DeleteManifest: %v", err)
					}
				}
			})
		}
		s := e.sweeper(gc.WithGrace(grace))
		runs, collected, reused := 0, 0, 0
		for ctx.Err() == nil {
			rep, err := s.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				t.Fatalf("RunOnce: %v", err)
			}
			runs++
			collected += len(rep.Deleted)
			reused += rep.Reused
		}
		wg.Wait()
		// One more sweep after the writers stopped must not hurt either.
		if _, err := s.RunOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		if len(kept) == 0 {
			t.Fatal("no writer got to use a blob")
		}
		for _, u := range kept {
			e.kept(u.blob, u.repo)
		}
		t.Logf("%d runs collected %d blobs (%d found in use again) while %d manifests were kept",
			runs, collected, reused, len(kept))
	})
}
