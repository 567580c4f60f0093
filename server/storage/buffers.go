package storage

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"golang.org/x/sync/semaphore"
)

// Copy-buffer memory. Every byte an upload streams in passes through a
// copy buffer of copyBufSize (copyHashed): up to copyDepth of them per
// upload, so that hashing overlaps reading. A stalled client holds its
// buffers for as long as the body's minimum rate allows, so without a
// bound N stalled PATCHes hold N×3 MiB. WithBufferBudget bounds the
// buffers of all uploads of a Store together: an upload needs one buffer
// to start (waiting up to the budget's wait for one, else failing with
// ErrBuffersBusy, answered 503 with Retry-After) and takes the other two
// only while a quarter of the budget stays free, running with less
// overlap otherwise.

const (
	copyBufSize = 1 << 20
	copyDepth   = 3 // buffers in flight: one being read, up to two being hashed
)

// ErrBuffersBusy means every upload copy buffer of the budget
// (WithBufferBudget) was in use for longer than the budget's wait.
// Nothing was written; the client should retry.
var ErrBuffersBusy = errors.New("storage: upload buffer memory exhausted")

// BufferObserver receives the budget's accounting: InUse with the bytes
// held after every change, Waited with "got" or "gave_up" for every
// upload that had to wait for a buffer. Either may be nil.
type BufferObserver struct {
	InUse  func(bytes int64)
	Waited func(outcome string)
}

// budget bounds the copy buffers of a Store (nil: unbounded).
type budget struct {
	sem   *semaphore.Weighted
	n     int64 // buffers
	wait  time.Duration
	obs   BufferObserver
	inUse chan struct{} // counts, for the observer (one token per held buffer)
}

// WithBufferBudget bounds the copy-buffer memory of all uploads in
// flight to bytes (rounded down to whole 1 MiB buffers, at least one);
// an upload waits at most wait for its first buffer before failing with
// ErrBuffersBusy. bytes <= 0 means no bound (the default).
func WithBufferBudget(bytes int64, wait time.Duration, obs BufferObserver) Option {
	return func(o *options) {
		if bytes <= 0 {
			o.budget = nil
			return
		}
		n := max(bytes/copyBufSize, 1)
		o.budget = &budget{sem: semaphore.NewWeighted(n), n: n, wait: wait, obs: obs, inUse: make(chan struct{}, n)}
	}
}

// BufferBudget returns the bound of WithBufferBudget in bytes (0: none).
func (s *Store) BufferBudget() int64 {
	if s.opts.budget == nil {
		return 0
	}
	return s.opts.budget.n * copyBufSize
}

// acquire takes between 1 and want buffers and returns how many, and the
// function that gives them back.
func (b *budget) acquire(ctx context.Context, want int64) (int64, func(), error) {
	if b == nil {
		return want, func() {}, nil
	}
	if !b.sem.TryAcquire(1) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, 1)
		cancel()
		if err != nil {
			b.waited("gave_up")
			if ctx.Err() != nil {
				return 0, nil, context.Cause(ctx)
			}
			return 0, nil, fmt.Errorf("%w: %d MiB held by other uploads for %v", ErrBuffersBusy, b.n, b.wait)
		}
		b.waited("got")
	}
	// Extra buffers only overlap hashing with reading: take them while
	// a quarter of the budget stays free for other uploads' first buffer
	// (the count is approximate; it only tunes).
	got := int64(1)
	for got < want && b.n-int64(len(b.inUse))-got > b.n/4 && b.sem.TryAcquire(1) {
		got++
	}
	b.account(got)
	return got, func() { b.account(-got); b.sem.Release(got) }, nil
}

func (b *budget) waited(outcome string) {
	if b.obs.Waited != nil {
		b.obs.Waited(outcome)
	}
}

// account adds d buffers to the held count and reports it.
func (b *budget) account(d int64) {
	for ; d > 0; d-- {
		b.inUse <- struct{}{}
	}
	for ; d < 0; d++ {
		<-b.inUse
	}
	if b.obs.InUse != nil {
		b.obs.InUse(int64(len(b.inUse)) * copyBufSize)
	}
}

// copyHashed is copyHashedN with as many buffers as the budget gives.
func (s *Store) copyHashed(ctx context.Context, w io.Writer, r io.Reader, hs []hash.Hash) (int64, error) {
	n, release, err := s.opts.budget.acquire(ctx, copyDepth)
	if err != nil {
		return 0, err
	}
	defer release()
	return copyHashedN(ctx, w, r, hs, int(n))
}
