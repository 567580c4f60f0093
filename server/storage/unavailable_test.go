package storage_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/server/storage/emulators"
)

// TestUnavailable: bucket calls through a proxy in front of the S3 and
// Azure emulators that drops every connection before an answer (as a
// service dying in the middle of a request does) fail with errors that
// IsUnavailable recognises — the server answers 503 to them, not 500 —
// and so do calls while the emulator is stopped behind the proxy (which
// answers 502).
func TestUnavailable(t *testing.T) {
	for _, k := range []emulators.Kind{emulators.S3, emulators.Azure} {
		t.Run(string(k), func(t *testing.T) {
			e := sharedStopped(t, k)
			p := e.Proxy(t)
			ctx := context.Background()
			st, err := storage.Open(ctx, p.NewBucket(t), memmeta.New())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			data := []byte("bytes")
			rec, err := st.PutBlob(ctx, digest.FromBytes(data), bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			more := []byte("more bytes")
			calls := map[string]func() error{
				"attributes": func() error { _, err := st.Bucket().Attributes(ctx, rec.Key); return err },
				"ReadBlob": func() error {
					r, err := st.ReadBlob(ctx, rec, 1, 2)
					if err == nil {
						_ = r.Close()
					}
					return err
				},
				"PutBlob": func() error {
					_, err := st.PutBlob(ctx, digest.FromBytes(more), bytes.NewReader(more), int64(len(more)))
					return err
				},
			}
			for _, fault := range []string{"dropped connections", "emulator stopped"} {
				if fault == "dropped connections" {
					p.Drop(true)
				} else {
					p.Drop(false)
					e.Stop()
				}
				for name, call := range calls {
					err := call()
					if !storage.IsUnavailable(err) {
						t.Errorf("%s with %s: IsUnavailable(%v) = false, want true", name, fault, err)
					}
				}
			}
		})
	}
}

// TestAzureRetryPolicy counts the tries of one call to a stopped Azurite
// behind a proxy (which answers 502, a status the SDK retries): regkit's
// default is 1 + 3 retries, retry_max=N makes it 1 + N, retry_max=0 one
// try; malformed retry parameters fail Open.
func TestAzureRetryPolicy(t *testing.T) {
	e := sharedStopped(t, emulators.Azure)
	p := e.Proxy(t)
	url := p.NewBucket(t)
	e.Stop()
	ctx := context.Background()
	for _, c := range []struct {
		query string
		tries int
	}{
		{"", 4},
		{"&retry_max=1&retry_delay=10ms", 2},
		{"&retry_max=0", 1},
		{"&retry_max=5&retry_delay=1ms&retry_max_delay=5ms&try_timeout=10s", 6},
	} {
		st, err := storage.Open(ctx, url+c.query, memmeta.New())
		if err != nil {
			t.Fatalf("Open %q: %v", c.query, err)
		}
		p.Take()
		start := time.Now()
		_, err = st.Bucket().Attributes(ctx, "k")
		took := time.Since(start)
		if !storage.IsUnavailable(err) {
			t.Errorf("%q: IsUnavailable(%v) = false", c.query, err)
		}
		if got := len(p.Take()); got != c.tries {
			t.Errorf("%q: %d tries, want %d", c.query, got, c.tries)
		}
		t.Logf("%q: failed after %v", c.query, took.Round(time.Millisecond))
		_ = st.Close()
	}
	for _, q := range []string{"&retry_max=-1", "&retry_max=x", "&retry_delay=5", "&try_timeout=-1s", "&retry_max_delay=soon"} {
		if st, err := storage.Open(ctx, url+q, memmeta.New()); err == nil {
			_ = st.Close()
			t.Errorf("Open with %q: no error", q)
		} else if name, _, _ := strings.Cut(strings.TrimPrefix(q, "&"), "="); !strings.Contains(err.Error(), name) {
			t.Errorf("Open with %q: %v, want the parameter named", q, err)
		}
	}
}

// sharedStopped returns the shared emulator of kind k (the other tests of
// the package use it: an emulator of a kind keeps its port), for a test
// that stops it; it is running again when the test ends.
func sharedStopped(t *testing.T, k emulators.Kind) *emulators.Emulator {
	t.Helper()
	e, err := emulators.Shared(k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Start(); err != nil {
			t.Errorf("restart the %s emulator: %v", k, err)
		}
	})
	return e
}
