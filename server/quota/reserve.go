package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// ErrTooManyUploads means the namespace has as many upload sessions open
// as WithMaxUploads allows.
var ErrTooManyUploads = errors.New("too many uploads open")

// TooManyUploadsError reports the cap. It matches ErrTooManyUploads.
type TooManyUploadsError struct {
	// Namespace is the namespace whose cap was reached.
	Namespace string
	// Max is the cap.
	Max int
}

// Error implements error.
func (e *TooManyUploadsError) Error() string {
	return fmt.Sprintf("namespace %q has %d uploads open, the most this registry allows; finish or cancel one", e.Namespace, e.Max)
}

// Is reports whether target is ErrTooManyUploads.
func (e *TooManyUploadsError) Is(target error) bool { return target == ErrTooManyUploads }

// WithMaxUploads caps the upload sessions open at once per namespace
// (0, the default: no cap). Open refuses more.
func WithMaxUploads(n int) Option {
	return func(o *options) { o.maxUploads = max(n, 0) }
}

// WithLiveness tells the checker how to find upload sessions that died:
// alive reports whether holder, an upload session's ID, may still release
// its reservation (the session exists). Without it no session is ever
// considered dead. One-shot holders (OneShot) are judged by their age.
func WithLiveness(alive func(ctx context.Context, holder string) (bool, error)) Option {
	return func(o *options) { o.alive = alive }
}

// tracks reports whether uploads into ns are accounted.
func (c *Checker) tracks(ns string) bool { return c.Limit(ns) > 0 || c.opts.maxUploads > 0 }

// Open registers holder, a new upload session of repo, against the cap
// of open sessions of repo's namespace: a *TooManyUploadsError past it.
func (c *Checker) Open(ctx context.Context, repo, holder string) error {
	ns := metadata.Namespace(repo)
	if c.opts.maxUploads == 0 {
		return nil
	}
	err := c.retry(ctx, ns, func() error { return c.usage.Reserve(ctx, ns, holder, 0, 0, 0, c.opts.maxUploads) })
	var le *metadata.LimitError
	if errors.As(err, &le) {
		return &TooManyUploadsError{Namespace: ns, Max: c.opts.maxUploads}
	}
	if err != nil {
		return fmt.Errorf("quota: open upload in %q: %w", ns, err)
	}
	return nil
}

// Reserve makes holder's reservation in repo's namespace at least total
// bytes — what the holder will have stored once its next chunk is
// written — or returns an *ExceededError (matching ErrExceeded) when that
// would take the namespace over its quota, counting every other holder's
// reservation. Namespaces without a quota reserve nothing.
func (c *Checker) Reserve(ctx context.Context, repo, holder string, total int64) error {
	ns := metadata.Namespace(repo)
	limit := c.Limit(ns)
	if limit == 0 {
		return nil
	}
	if total > limit {
		return &ExceededError{Namespace: ns, Quota: limit, Additional: total}
	}
	var base int64
	err := c.retry(ctx, ns, func() error {
		var err error
		if base, err = c.Usage(ctx, ns); err != nil {
			return err
		}
		return c.usage.Reserve(ctx, ns, holder, total, base, limit, c.opts.maxUploads)
	})
	var le *metadata.LimitError
	if errors.As(err, &le) {
		if le.Holders {
			return &TooManyUploadsError{Namespace: ns, Max: c.opts.maxUploads}
		}
		return &ExceededError{Namespace: ns, Quota: limit, Usage: base + le.Reserved, Additional: total}
	}
	if err != nil {
		return fmt.Errorf("quota: reserve in %q: %w", ns, err)
	}
	return nil
}

// Release drops holder's reservation in repo's namespace (and its place
// among the open sessions).
func (c *Checker) Release(ctx context.Context, repo, holder string) error {
	ns := metadata.Namespace(repo)
	if !c.tracks(ns) {
		return nil
	}
	if err := c.usage.Release(context.WithoutCancel(ctx), ns, holder); err != nil {
		return fmt.Errorf("quota: release in %q: %w", ns, err)
	}
	return nil
}

// retry runs f; when it is refused with a *metadata.LimitError, it
// releases the namespace's dead holders and, if there were any, runs f
// once more.
func (c *Checker) retry(ctx context.Context, ns string, f func() error) error {
	err := f()
	var le *metadata.LimitError
	if !errors.As(err, &le) {
		return err
	}
	hs, herr := c.usage.Holders(ctx, ns)
	if herr != nil {
		return errors.Join(err, herr)
	}
	dead := 0
	for h := range hs {
		ok, aerr := c.isAlive(ctx, h)
		if aerr != nil {
			return errors.Join(err, aerr)
		}
		if !ok {
			if rerr := c.usage.Release(ctx, ns, h); rerr != nil {
				return errors.Join(err, rerr)
			}
			dead++
		}
	}
	if dead == 0 {
		return err
	}
	return f()
}

// A Reader reserves ahead in steps that start at minReserveStep and
// double up to MaxReserveStep: small bodies hold little quota they do not
// use, large ones make few round trips.
const (
	minReserveStep = 64 << 10
	// MaxReserveStep is the largest step a Reader reserves ahead.
	MaxReserveStep = 8 << 20
)

// Reader returns r, reserving for holder in repo's namespace as bytes
// are read: it reserves ahead in growing steps (up to MaxReserveStep, or
// what the quota has left), starting from offset (the bytes the holder has stored
// already), and fails with the *ExceededError before it returns a byte
// the quota cannot take. For bodies of unknown length; a body whose
// length is known reserves it at once with Reserve.
func (c *Checker) Reader(ctx context.Context, r io.Reader, repo, holder string, offset int64) io.Reader {
	if c.Limit(metadata.Namespace(repo)) == 0 {
		return r
	}
	return &reservingReader{ctx: ctx, c: c, r: r, repo: repo, holder: holder, pos: offset, reserved: offset, step: minReserveStep}
}

type reservingReader struct {
	ctx           context.Context
	c             *Checker
	r             io.Reader
	repo, holder  string
	pos, reserved int64
	step          int64
	err           error
}

func (rr *reservingReader) Read(p []byte) (int, error) {
	if rr.err != nil {
		return 0, rr.err
	}
	if rr.pos+int64(len(p)) > rr.reserved {
		want := rr.reserved + rr.step
		rr.step = min(2*rr.step, MaxReserveStep)
		err := rr.c.Reserve(rr.ctx, rr.repo, rr.holder, want)
		var qe *ExceededError
		if errors.As(err, &qe) {
			// Take what is left, if anything.
			if left := qe.Quota - qe.Usage; left > 0 {
				want = rr.reserved + left
				err = rr.c.Reserve(rr.ctx, rr.repo, rr.holder, want)
			}
		}
		if err != nil && !errors.As(err, &qe) {
			rr.err = err
			return 0, err
		}
		if err == nil {
			rr.reserved = want
		}
		if rr.pos >= rr.reserved {
			rr.err = err
			return 0, err
		}
	}
	if room := rr.reserved - rr.pos; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := rr.r.Read(p)
	rr.pos += int64(n)
	return n, err
}

// oneShotPrefix starts the names of one-shot holders.
const oneShotPrefix = "once-"

// OneShotMaxAge is how long a one-shot holder counts as alive: past it,
// a namespace at its quota releases the reservation (its request ended
// long ago without releasing: the process died). It only ever frees
// quota; no bytes depend on it.
const OneShotMaxAge = time.Hour

// OneShot returns a new holder name for an upload that has no session (a
// monolithic PUT, a mount): it carries its creation time, so that a
// reservation whose request died is released after OneShotMaxAge.
func OneShot() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return fmt.Sprintf("%s%x-%s", oneShotPrefix, time.Now().UnixNano(), hex.EncodeToString(b[:]))
}

// isAlive decides for the checker: one-shot holders by their age,
// others by the WithLiveness function.
func (c *Checker) isAlive(ctx context.Context, holder string) (bool, error) {
	if rest, ok := strings.CutPrefix(holder, oneShotPrefix); ok {
		ts, _, _ := strings.Cut(rest, "-")
		ns, err := strconv.ParseInt(ts, 16, 64)
		return err == nil && time.Since(time.Unix(0, ns)) < OneShotMaxAge, nil
	}
	if c.opts.alive == nil {
		return true, nil
	}
	return c.opts.alive(ctx, holder)
}

// SessionAlive is the liveness of holders that are upload sessions in u
// (see WithLiveness): alive while the session exists.
func SessionAlive(u metadata.Uploads) func(ctx context.Context, holder string) (bool, error) {
	return func(ctx context.Context, holder string) (bool, error) {
		_, err := u.GetUpload(ctx, holder)
		if errors.Is(err, metadata.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
}

// RetryAfterOpenUploads is the Retry-After of a refusal for too many open
// uploads (TooManyUploadsError): uploads take a while to finish.
const RetryAfterOpenUploads = 10 * time.Second
