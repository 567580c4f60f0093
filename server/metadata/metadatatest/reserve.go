package metadatatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/regkit/regkit/server/metadata"
)

// testReservations covers metadata.Reservations.
func testReservations(t *testing.T, open opener) {
	limitErr := func(t *testing.T, err error, holders bool, what string) *metadata.LimitError {
		t.Helper()
		var le *metadata.LimitError
		if !errors.As(err, &le) || le.Holders != holders {
			t.Fatalf("%s: %v, want a *LimitError (holders %v)", what, err, holders)
		}
		return le
	}
	t.Run("Reserve", func(t *testing.T) {
		r, ctx := open(t), ctxT(t)
		hs, err := r.Holders(ctx, "team")
		noErr(t, err, "Holders of a new namespace")
		if hs == nil || len(hs) != 0 {
			t.Fatalf("Holders of a new namespace = %v, want an empty map", hs)
		}
		noErr(t, r.Reserve(ctx, "team", "a", 0, 0, 100, 2), "Reserve a 0")
		noErr(t, r.Reserve(ctx, "team", "a", 60, 10, 100, 2), "Reserve a 60")
		noErr(t, r.Reserve(ctx, "team", "a", 30, 10, 100, 2), "Reserve a 30 (never lowers)")
		le := limitErr(t, r.Reserve(ctx, "team", "b", 31, 10, 100, 2), false, "Reserve b 31 over the limit")
		if le.Reserved != 60 || le.Count != 1 {
			t.Fatalf("LimitError = %+v, want 60 bytes reserved by 1 holder", le)
		}
		hs, err = r.Holders(ctx, "team")
		noErr(t, err, "Holders")
		if len(hs) != 1 || hs["a"] != 60 {
			t.Fatalf("Holders after a refused reserve = %v, want a:60 only", hs)
		}
		noErr(t, r.Reserve(ctx, "team", "b", 30, 10, 100, 2), "Reserve b 30")
		limitErr(t, r.Reserve(ctx, "team", "c", 0, 10, 100, 2), true, "a third holder over the cap")
		noErr(t, r.Reserve(ctx, "other", "c", 1000, 0, 0, 2), "Reserve in another namespace without a limit")
		noErr(t, r.Release(ctx, "team", "a"), "Release a")
		noErr(t, r.Release(ctx, "team", "a"), "Release a twice")
		noErr(t, r.Reserve(ctx, "team", "c", 60, 10, 100, 2), "Reserve c after a was released")
		hs, err = r.Holders(ctx, "team")
		noErr(t, err, "Holders")
		if len(hs) != 2 || hs["b"] != 30 || hs["c"] != 60 {
			t.Fatalf("Holders = %v, want b:30 c:60", hs)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// 20 holders race for 10 bytes each under a limit of 55: exactly 5
		// win, and the sum never goes over.
		r, ctx := open(t), ctxT(t)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for i := range 20 {
			wg.Go(func() {
				err := r.Reserve(ctx, "race", fmt.Sprint(i), 10, 5, 55, 0)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else if le := new(metadata.LimitError); !errors.As(err, &le) {
					t.Errorf("Reserve: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 5 {
			t.Fatalf("%d holders got 10 bytes of a limit of 55 with 5 used, want 5", wins)
		}
	})
}
