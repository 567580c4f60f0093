package boltmeta_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/driver"
)

// TestGroupCommit runs many concurrent updates of one counter, some of
// which write and then fail and one of which panics: every update that
// returned nil is counted exactly once, no write of a failed one is kept,
// each caller gets its own function's outcome, and the panic reaches the
// goroutine whose function panicked.
func TestGroupCommit(t *testing.T) {
	d, err := boltmeta.OpenDriver(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := t.Context()
	errOdd := errors.New("refused")
	const writers = 64
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok       int
		panicked int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					if p != "boom" {
						t.Errorf("writer %d: panic %v, want boom", i, p)
					}
					mu.Lock()
					panicked++
					mu.Unlock()
				}
			}()
			err := d.Update(ctx, "counter", func(tx driver.Tx) error {
				v, _, err := tx.Get(blobs, "n")
				if err != nil {
					return err
				}
				n, _ := strconv.Atoi(string(v))
				if err := tx.Put(blobs, "n", []byte(strconv.Itoa(n+1))); err != nil {
					return err
				}
				if err := tx.Put(blobs, fmt.Sprint("w", i), []byte("x")); err != nil {
					return err
				}
				switch {
				case i == 7:
					panic("boom")
				case i%3 == 0:
					return errOdd // after writing: the writes must go
				}
				return nil
			})
			switch {
			case i%3 == 0 && !errors.Is(err, errOdd):
				t.Errorf("writer %d: err %v, want its own error", i, err)
			case i%3 != 0 && err != nil:
				t.Errorf("writer %d: %v", i, err)
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if panicked != 1 {
		t.Fatalf("%d writers saw the panic, want 1", panicked)
	}
	err = d.View(ctx, "counter", func(r driver.Reader) error {
		v, _, err := r.Get(blobs, "n")
		if err != nil {
			return err
		}
		if got, _ := strconv.Atoi(string(v)); got != ok {
			t.Errorf("counter = %d, want %d (the updates that returned nil)", got, ok)
		}
		for i := range writers {
			_, found, err := r.Get(blobs, fmt.Sprint("w", i))
			if err != nil {
				return err
			}
			if want := i%3 != 0 && i != 7; found != want {
				t.Errorf("writer %d's record present = %v, want %v", i, found, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
