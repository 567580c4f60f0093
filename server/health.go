package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// Health answers the liveness and readiness probes:
//
//   - GET /healthz: 200 while the process serves HTTP at all;
//   - GET /readyz: 200 when every check passes (the metadata store and
//     the blob bucket are reachable), else 503 with Retry-After and a
//     JSON body naming what is down; 503 "draining" once Drain was
//     called (on SIGTERM, before the listener closes, so that load
//     balancers stop sending requests first).
//
// Both are plain handlers (no authentication): mount them before the
// registry's handler, see Health.Wrap.
type Health struct {
	checks   []Check
	timeout  time.Duration
	log      *slog.Logger
	draining atomic.Bool
	probed   atomic.Bool // /readyz was asked at least once
	mu       sync.Mutex  // serializes probes: one at a time reaches the stores
}

// Check is one readiness check: Probe returns nil when Name is reachable.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// NewHealth returns the probes over checks; each probe gets timeout.
// Failed checks are logged to log (the body of /readyz names them
// only: it is not authenticated).
func NewHealth(log *slog.Logger, timeout time.Duration, checks ...Check) *Health {
	return &Health{checks: checks, timeout: timeout, log: log}
}

// MetadataCheck checks that the metadata store answers (its clock: one
// round trip on Redis).
func MetadataCheck(meta metadata.Store) Check {
	return Check{Name: "metadata", Probe: func(ctx context.Context) error {
		_, err := meta.Now(ctx)
		return err
	}}
}

// BucketCheck checks that the blob bucket is accessible.
func BucketCheck(store *storage.Store) Check {
	return Check{Name: "storage", Probe: func(ctx context.Context) error {
		ok, err := store.Bucket().IsAccessible(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("bucket not accessible")
		}
		return err
	}}
}

// Drain turns readiness off for good: /readyz answers 503 "draining".
func (h *Health) Drain() { h.draining.Store(true) }

// Probed reports whether /readyz was asked since the start: when not,
// nothing watches readiness and a drain need not wait.
func (h *Health) Probed() bool { return h.probed.Load() }

// Paths of the probes.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
)

// Wrap returns next with the probes served on HealthzPath and ReadyzPath
// (GET and HEAD).
func (h *Health) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case HealthzPath:
				h.Healthz(w, r)
				return
			case ReadyzPath:
				h.Readyz(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Healthz answers 200 "ok".
func (h *Health) Healthz(w http.ResponseWriter, r *http.Request) {
	writeProbe(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is the body of /readyz.
type Readiness struct {
	// Status is "ready", "unavailable" or "draining".
	Status string `json:"status"`
	// Down names the failed checks ("metadata", "storage").
	Down []string `json:"down,omitempty"`
}

// Readyz runs every check and answers 200 or 503.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	h.probed.Store(true)
	if h.draining.Load() {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
		writeProbe(w, r, http.StatusServiceUnavailable, Readiness{Status: "draining"})
		return
	}
	res := h.Check(r.Context())
	status := http.StatusOK
	if res.Status != "ready" {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
	}
	writeProbe(w, r, status, res)
}

// Check runs the checks (in parallel, each within the timeout).
func (h *Health) Check(ctx context.Context) Readiness {
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	errs := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() { errs[i] = c.Probe(ctx) })
	}
	wg.Wait()
	res := Readiness{Status: "ready"}
	for i, err := range errs {
		if err != nil {
			res.Status = "unavailable"
			res.Down = append(res.Down, h.checks[i].Name)
			h.log.WarnContext(ctx, "readiness check failed", "check", h.checks[i].Name, "err", err)
		}
	}
	return res
}

func writeProbe(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
