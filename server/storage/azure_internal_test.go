package storage

import (
	"testing"
	"time"
)

// TestAzureRetryBound: regkit's default Azure retry policy retries
// transient errors, and its longest total backoff (every try failing,
// the SDK's +30% jitter at its worst) stays under 2 s — the SDK's own
// default waits up to ~11.4 s, which made an unreachable Azure answer 503
// only after ~30 s for a request of several calls.
func TestAzureRetryBound(t *testing.T) {
	o := defaultAzureRetry
	if o.MaxRetries < 1 {
		t.Fatalf("default MaxRetries %d: transient errors are not retried", o.MaxRetries)
	}
	var total time.Duration
	for try := 1; try <= int(o.MaxRetries); try++ {
		d := time.Duration(float64(time.Duration(1<<try-1)*o.RetryDelay) * 1.3)
		total += min(d, o.MaxRetryDelay)
	}
	if total > 2*time.Second {
		t.Errorf("default Azure retry policy backs off up to %v in all, want at most 2s", total)
	}
}
