package oci

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// flaky answers the first fail requests with status (and Retry-After when
// after is not ""), then passes requests to the registry.
func flaky(t *testing.T, fail int32, status int, after string) (*Client, *atomic.Int32) {
	t.Helper()
	reg := newRegistry(t)
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fail {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			w.WriteHeader(status)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return NewClient(ts.URL, WithRetry(RetryPolicy{Attempts: 4, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxRetryAfter: 5 * time.Second})), &n
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	blob := []byte("retry me")
	d := digest.FromBytes(blob)

	t.Run("429 honours Retry-After", func(t *testing.T) {
		c, n := flaky(t, 2, http.StatusTooManyRequests, "1")
		start := time.Now()
		if err := c.BlobPut(ctx, "r/a", d, bytes.NewReader(blob), int64(len(blob))); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 2*time.Second {
			t.Errorf("two 429s with Retry-After: 1 took %v, want at least 2s", el)
		}
		if n.Load() != 3 {
			t.Errorf("%d requests, want 3", n.Load())
		}
	})
	t.Run("503 with backoff, body sent again", func(t *testing.T) {
		c, n := flaky(t, 3, http.StatusServiceUnavailable, "")
		if err := c.BlobPut(ctx, "r/a", d, bytes.NewReader(blob), int64(len(blob))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.BlobHead(ctx, "r/a", d); err != nil || n.Load() != 5 {
			t.Errorf("blob after retries: %v, %d requests", err, n.Load())
		}
	})
	t.Run("gives up after the attempts", func(t *testing.T) {
		c, n := flaky(t, 100, http.StatusBadGateway, "")
		_, err := c.BlobHead(ctx, "r/a", d)
		var oe *ocispec.Error
		if !errors.As(err, &oe) || oe.HTTPStatus() != http.StatusBadGateway || n.Load() != 5 {
			t.Errorf("err %v after %d requests, want 502 after 5", err, n.Load())
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		c, n := flaky(t, 1, http.StatusForbidden, "")
		if _, err := c.BlobHead(ctx, "r/a", d); err == nil || n.Load() != 1 {
			t.Errorf("err %v after %d requests, want a failure after 1", err, n.Load())
		}
	})
	t.Run("network errors", func(t *testing.T) {
		// A server that closes the first connections without answering.
		reg := newRegistry(t)
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				conn, _, _ := w.(http.Hijacker).Hijack()
				_ = conn.Close()
				return
			}
			reg.ServeHTTP(w, r)
		}))
		t.Cleanup(ts.Close)
		c := NewClient(ts.URL, WithRetry(RetryPolicy{Attempts: 4, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
		if err := c.BlobPut(ctx, "r/a", d, bytes.NewReader(blob), int64(len(blob))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wait", func(t *testing.T) {
		p := RetryPolicy{Base: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 3 * time.Second}
		for attempt := range 8 {
			if w := p.Wait(attempt, nil); w < 0 || w >= min(time.Second, 100*time.Millisecond<<attempt) {
				t.Errorf("attempt %d: wait %v out of [0, %v)", attempt, w, min(time.Second, 100*time.Millisecond<<attempt))
			}
		}
		resp := &http.Response{Header: http.Header{"Retry-After": {"120"}}}
		if w := p.Wait(0, resp); w != 3*time.Second {
			t.Errorf("Retry-After 120 capped: %v, want 3s", w)
		}
	})
}
