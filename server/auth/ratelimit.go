package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// Limits configures rate limiting. Zero counts switch a limit off.
type Limits struct {
	// Window is the length of the fixed window of the request limits
	// (default one minute).
	Window time.Duration
	// PerIP is the number of requests one client IP may make per Window.
	PerIP int
	// PerToken is the number of requests one credential (token, or user
	// behind a password or bearer token) may make per Window.
	PerToken int
	// FailedLogins is the number of failed authentications one client IP
	// may make per FailedWindow; after that every request of that IP that
	// carries credentials is refused until the window ends, even with
	// the right credentials. Default 10; negative switches it off.
	FailedLogins int
	// FailedWindow is the lockout window (default five minutes).
	FailedWindow time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	if l.FailedLogins == 0 {
		l.FailedLogins = 10
	}
	if l.FailedWindow <= 0 {
		l.FailedWindow = 5 * time.Minute
	}
	return l
}

// RateLimitError is returned when a limit is exceeded (429).
type RateLimitError struct {
	// RetryAfter is when the window ends.
	RetryAfter time.Duration
	// What names the limit ("requests per client IP", ...).
	What string
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many %s; retry in %s", e.What, e.RetryAfter.Round(time.Second))
}

// RetryAfterSeconds is the Retry-After value: whole seconds, at least 1.
func (e *RateLimitError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// MemoryCounter is a metadata.Counter in process memory, for a single
// replica (the embedded store). It is safe for concurrent use.
type MemoryCounter struct {
	mu   sync.Mutex
	now  func() time.Time
	m    map[string]*window
	hits int
}

type window struct {
	count int64
	end   time.Time
}

var _ metadata.Counter = (*MemoryCounter)(nil)

// NewMemoryCounter returns an empty counter.
func NewMemoryCounter() *MemoryCounter {
	return &MemoryCounter{now: time.Now, m: map[string]*window{}}
}

// Hit implements metadata.Counter.
func (c *MemoryCounter) Hit(ctx context.Context, key string, d time.Duration, n int64) (int64, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.hits++
	if c.hits%1024 == 0 {
		for k, w := range c.m {
			if !now.Before(w.end) {
				delete(c.m, k)
			}
		}
	}
	w := c.m[key]
	if w != nil && !now.Before(w.end) {
		delete(c.m, key)
		w = nil
	}
	if n == 0 {
		if w == nil {
			return 0, 0, nil
		}
		return w.count, w.end.Sub(now), nil
	}
	if w == nil {
		w = &window{end: now.Add(d)}
		c.m[key] = w
	}
	w.count += n
	return w.count, w.end.Sub(now), nil
}
