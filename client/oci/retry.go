package oci

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how the client retries a request that failed in a way
// worth retrying: a network error, 429 Too Many Requests, or a 500, 502,
// 503 or 504. The wait before attempt k is a random duration in
// [0, min(Max, Base·2^k)) ("full jitter"), or the server's Retry-After
// when it sent one (capped at MaxRetryAfter). Requests whose body cannot
// be sent again are not retried.
type RetryPolicy struct {
	// Attempts is the most retries of one request; 0 disables retries.
	Attempts int
	// Base is the first backoff step.
	Base time.Duration
	// Max caps one backoff wait.
	Max time.Duration
	// MaxRetryAfter caps a Retry-After the server asks for.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy rides out a registry restart of half a minute or so.
var DefaultRetryPolicy = RetryPolicy{Attempts: 10, Base: 200 * time.Millisecond, Max: 5 * time.Second, MaxRetryAfter: time.Minute}

// WithRetry sets the retry policy (DefaultRetryPolicy unless set; the zero
// RetryPolicy disables retries).
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// Wait returns how long to wait before retry attempt (0-based) of a
// request answered with resp (nil after a network error).
func (p RetryPolicy) Wait(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, p.MaxRetryAfter)
		}
	}
	step := p.Base << min(attempt, 30)
	if step <= 0 || step > p.Max {
		step = p.Max
	}
	if step <= 0 {
		return 0
	}
	return rand.N(step) //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter parses Retry-After: seconds or an HTTP date.
func retryAfter(h string) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// Retryable reports whether a response status is worth retrying.
func Retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// busy reports whether resp is a 409 that asks to be retried later (a
// Retry-After on an upload another request holds).
func busy(resp *http.Response) bool {
	return resp.StatusCode == http.StatusConflict && resp.Header.Get("Retry-After") != ""
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryTransport retries the requests p says are worth retrying.
type retryTransport struct {
	next http.RoundTripper
	p    *RetryPolicy
}

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req
	for attempt := 0; ; attempt++ {
		resp, err := t.next.RoundTrip(r)
		if attempt >= t.p.Attempts || req.Context().Err() != nil {
			return resp, err
		}
		if err == nil && !Retryable(resp.StatusCode) && !busy(resp) {
			return resp, nil
		}
		if err != nil && errors.Is(err, context.Canceled) {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, err
		}
		wait := t.p.Wait(attempt, resp)
		if resp != nil {
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			_ = resp.Body.Close()
		}
		if serr := Sleep(req.Context(), wait); serr != nil {
			return nil, serr
		}
		r = req.Clone(req.Context())
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			r.Body = body
		}
	}
}

// NewRetryTransport returns a RoundTripper that sends requests with next
// (http.DefaultTransport when nil) and retries them as p says. A request
// whose body cannot be sent again (no GetBody) is not retried.
func NewRetryTransport(next http.RoundTripper, p RetryPolicy) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return retryTransport{next: next, p: &p}
}
