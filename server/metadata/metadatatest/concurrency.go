package metadatatest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/regkit/regkit/server/metadata"
)

func testConcurrency(t *testing.T, open opener) {
	t.Run("AcquireRace", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		noErr(t, s.CreateUpload(ctx, newUpload("u1", at(1))), "CreateUpload")
		const n = 16
		var (
			wg        sync.WaitGroup
			won, lost atomic.Int32
			start     = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, err := s.AcquireUpload(ctx, "u1", 0, fmt.Sprintf("token-%d", i), leaseTTL)
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, metadata.ErrConflict):
					lost.Add(1)
				default:
					t.Errorf("AcquireUpload: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if won.Load() != 1 || lost.Load() != n-1 {
			t.Fatalf("%d writers won and %d lost, want 1 and %d", won.Load(), lost.Load(), n-1)
		}
	})
	t.Run("LeaseCycles", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		noErr(t, s.CreateUpload(ctx, newUpload("u1", at(1))), "CreateUpload")
		const writers, cycles = 4, 40
		var (
			wg        sync.WaitGroup
			successes atomic.Int64
		)
		for w := range writers {
			wg.Go(func() {
				token := fmt.Sprintf("writer-%d", w)
				for range cycles {
					u, err := s.AcquireUpload(ctx, "u1", -1, token, leaseTTL)
					if errors.Is(err, metadata.ErrConflict) {
						continue
					}
					if err != nil {
						t.Errorf("AcquireUpload: %v", err)
						return
					}
					u.Offset++
					u.State = fmt.Appendf(nil, "%s:%d", token, u.Offset)
					if err := s.ReleaseUpload(ctx, u, token); err != nil {
						t.Errorf("ReleaseUpload: %v", err)
						return
					}
					successes.Add(1)
				}
			})
		}
		wg.Wait()
		u, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		if u.Offset != successes.Load() || successes.Load() == 0 {
			t.Fatalf("offset %d after %d successful cycles", u.Offset, successes.Load())
		}
	})
	t.Run("FencedCycles", func(t *testing.T) {
		// Writers that know an offset, as PATCH handlers do: each acquires
		// at the offset it last saw and advances it by one.
		s, ctx := open(t), ctxT(t)
		noErr(t, s.CreateUpload(ctx, newUpload("u1", at(1))), "CreateUpload")
		const writers, cycles = 4, 40
		var (
			wg        sync.WaitGroup
			successes atomic.Int64
		)
		for w := range writers {
			wg.Go(func() {
				token := fmt.Sprintf("writer-%d", w)
				seen := int64(0)
				for range cycles {
					u, err := s.AcquireUpload(ctx, "u1", seen, token, leaseTTL)
					if errors.Is(err, metadata.ErrConflict) {
						seen = u.Offset
						continue
					}
					if err != nil {
						t.Errorf("AcquireUpload: %v", err)
						return
					}
					u.Offset++
					if err := s.ReleaseUpload(ctx, u, token); err != nil {
						t.Errorf("ReleaseUpload: %v", err)
						return
					}
					seen = u.Offset
					successes.Add(1)
				}
			})
		}
		wg.Wait()
		u, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		if u.Offset != successes.Load() || successes.Load() == 0 {
			t.Fatalf("offset %d after %d successful cycles", u.Offset, successes.Load())
		}
	})
	t.Run("PutManifestTags", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		const n = 32
		var wg sync.WaitGroup
		want := make([]string, n)
		for i := range n {
			want[i] = fmt.Sprintf("tag-%02d", i)
			wg.Go(func() {
				m := newManifest(fmt.Sprintf("m%d", i%4))
				if err := s.PutManifest(ctx, "r", m, want[i]); err != nil {
					t.Errorf("PutManifest: %v", err)
				}
			})
		}
		wg.Wait()
		tags, more, err := s.Tags(ctx, "r", "", -1)
		noErr(t, err, "Tags")
		checkStrings(t, "Tags", tags, more, want, false)
		for i, tag := range want {
			got, err := s.GetManifest(ctx, "r", tag)
			noErr(t, err, "GetManifest")
			checkManifest(t, "GetManifest "+tag, got, newManifest(fmt.Sprintf("m%d", i%4)))
		}
		repos, more, err := s.Repositories(ctx, "", -1)
		noErr(t, err, "Repositories")
		checkStrings(t, "Repositories", repos, more, []string{"r"}, false)
	})
	t.Run("PutBlobRace", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		const n = 16
		var wg sync.WaitGroup
		got := make([]metadata.Blob, n)
		for i := range n {
			wg.Go(func() {
				b, err := s.PutBlob(ctx, newBlob("contended", fmt.Sprintf("key-%d", i), at(i)))
				if err != nil {
					t.Errorf("PutBlob: %v", err)
				}
				got[i] = b
			})
		}
		wg.Wait()
		stored, err := s.GetBlob(ctx, newBlob("contended", "", at(0)).Digest)
		noErr(t, err, "GetBlob")
		for i, b := range got {
			checkBlob(t, fmt.Sprintf("PutBlob %d", i), b, stored)
		}
	})
}
