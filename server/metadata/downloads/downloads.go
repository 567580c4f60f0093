// Package downloads batches the download counts of generic packages, so
// that a counted GET costs no metadata write (on the embedded store: no
// fsync) of its own.
//
// Counts are kept in memory and written in one transaction per owner
// when FlushEvery has passed since the last write or FlushAt counts are
// pending, and on Close. A crash loses at most the counts not yet
// written: at most FlushAt downloads, or those of the last FlushEvery,
// whichever is fewer. The counts are advisory (Gitea shows them), never
// used for a decision.
package downloads

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// Defaults of Options.
const (
	// DefaultFlushEvery is the longest a count stays in memory.
	DefaultFlushEvery = 2 * time.Second
	// DefaultFlushAt is the number of pending counts that forces a write.
	DefaultFlushAt = 1000
)

// Options configure a Batcher.
type Options struct {
	// FlushEvery is the longest a count stays in memory (default
	// DefaultFlushEvery).
	FlushEvery time.Duration
	// FlushAt pending counts are written at once (default DefaultFlushAt).
	FlushAt int
	// Log receives write failures (default slog.Default()).
	Log *slog.Logger
}

// Batcher is a metadata.Packages whose CountPackageDownload is batched.
// Reads see the counts already written.
type Batcher struct {
	metadata.Packages
	opts    Options
	mu      sync.Mutex
	pending map[metadata.PackageRef]int64
	n       int
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// New returns a Batcher over p and starts its flusher; Close stops it.
func New(p metadata.Packages, opts Options) *Batcher {
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if opts.FlushAt <= 0 {
		opts.FlushAt = DefaultFlushAt
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	b := &Batcher{Packages: p, opts: opts, pending: map[metadata.PackageRef]int64{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// CountPackageDownload implements metadata.Packages: it counts in
// memory. Counts of versions deleted before the write are dropped.
func (b *Batcher) CountPackageDownload(_ context.Context, ref metadata.PackageRef) error {
	b.mu.Lock()
	b.pending[ref]++
	b.n++
	full := b.n >= b.opts.FlushAt
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Pending returns the number of counts not yet written.
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *Batcher) loop() {
	defer close(b.done)
	t := time.NewTicker(b.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		if err := b.Flush(context.Background()); err != nil {
			b.opts.Log.Warn("writing download counts failed; they are retried", "err", err)
		}
	}
}

// Flush writes the pending counts now. Counts that could not be written
// stay pending (versions that are gone are dropped).
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	batch := b.pending
	b.pending, b.n = map[metadata.PackageRef]int64{}, 0
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	failed, err := write(ctx, b.Packages, batch)
	if len(failed) > 0 {
		b.mu.Lock()
		for ref, n := range failed {
			b.pending[ref] += n
			b.n += int(n)
		}
		b.mu.Unlock()
	}
	return err
}

// write adds the counts of batch, with one call per owner when p is a
// metadata.DownloadCounter; it returns the counts not written.
func write(ctx context.Context, p metadata.Packages, batch map[metadata.PackageRef]int64) (map[metadata.PackageRef]int64, error) {
	failed := map[metadata.PackageRef]int64{}
	var errs []error
	if dc, ok := p.(metadata.DownloadCounter); ok {
		byOwner := map[string]map[metadata.PackageRef]int64{}
		for ref, n := range batch {
			k := metadata.PackageKey(ref.Owner)
			if byOwner[k] == nil {
				byOwner[k] = map[metadata.PackageRef]int64{}
			}
			byOwner[k][ref] = n
		}
		for _, counts := range byOwner {
			if err := dc.AddPackageDownloads(ctx, counts); err != nil {
				errs = append(errs, err)
				for ref, n := range counts {
					failed[ref] = n
				}
			}
		}
		return failed, errors.Join(errs...)
	}
	for ref, n := range batch {
		for i := int64(0); i < n; i++ {
			err := p.CountPackageDownload(ctx, ref)
			if errors.Is(err, metadata.ErrNotFound) {
				break
			}
			if err != nil {
				errs = append(errs, err)
				failed[ref] = n - i
				break
			}
		}
	}
	return failed, errors.Join(errs...)
}

// Close stops the flusher and writes the pending counts.
func (b *Batcher) Close(ctx context.Context) error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.Flush(ctx)
}
