package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regkit/regkit/server/storage"
)

// TestBufferBudget: stalled uploads hold copy buffers only within the
// budget; an upload that finds none free within the wait fails with
// ErrBuffersBusy, leaving its session unchanged, and succeeds once the
// stalled ones end. The bytes held never exceed the budget.
func TestBufferBudget(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		const mib = 1 << 20
		var inUse, peak atomic.Int64
		var gaveUp atomic.Int32
		obs := storage.BufferObserver{
			InUse: func(n int64) {
				inUse.Store(n)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
			},
			Waited: func(o string) {
				if o == "gave_up" {
					gaveUp.Add(1)
				}
			},
		}
		s := e.replica(t, storage.WithBufferBudget(4*mib, 100*time.Millisecond, obs))
		if s.BufferBudget() != 4*mib {
			t.Fatalf("BufferBudget = %d", s.BufferBudget())
		}
		ctx := context.Background()
		waitInUse := func(want int64) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for inUse.Load() != want {
				if time.Now().After(deadline) {
					t.Fatalf("buffers in use %d, want %d", inUse.Load(), want)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		// Two stalled uploads: each sent 10 bytes and then nothing.
		var wg sync.WaitGroup
		var pws []*io.PipeWriter
		for i, want := range []int64{3 * mib, 4 * mib} {
			u, err := s.StartUpload(ctx, "budget/repo")
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			pws = append(pws, pw)
			wg.Go(func() {
				if _, err := s.AppendUpload(ctx, "budget/repo", u.ID, 0, pr); err != nil {
					t.Errorf("stalled upload %d: %v", i, err)
				}
			})
			if _, err := pw.Write(make([]byte, 10)); err != nil {
				t.Fatal(err)
			}
			waitInUse(want)
		}
		u, err := s.StartUpload(ctx, "budget/repo")
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("x"), 3*mib)
		if _, err := s.AppendUpload(ctx, "budget/repo", u.ID, 0, bytes.NewReader(data)); !errors.Is(err, storage.ErrBuffersBusy) {
			t.Fatalf("upload with the budget exhausted: %v, want ErrBuffersBusy", err)
		}
		if gaveUp.Load() != 1 {
			t.Errorf("gave_up waits = %d, want 1", gaveUp.Load())
		}
		if st, err := s.UploadStatus(ctx, "budget/repo", u.ID); err != nil || st.Offset != 0 {
			t.Fatalf("session after ErrBuffersBusy: %+v %v, want offset 0", st, err)
		}
		for _, pw := range pws {
			pw.Close()
		}
		wg.Wait()
		waitInUse(0)
		got, err := s.AppendUpload(ctx, "budget/repo", u.ID, 0, bytes.NewReader(data))
		if err != nil || got.Offset != int64(len(data)) {
			t.Fatalf("retry after the stalled uploads ended: %+v %v", got, err)
		}
		if p := peak.Load(); p > 4*mib {
			t.Errorf("peak buffer memory %d > budget %d", p, 4*mib)
		}
		waitInUse(0)
	})
}
