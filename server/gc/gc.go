// Package gc is regkit's online garbage collector. A Sweeper deletes blobs
// that nothing references any more, once they have been unused for a
// grace period, and sweeps expired upload sessions with their staged
// bytes. Any replica may run one; a lease in the metadata store makes sure
// only one sweeps at a time.
//
// # Algorithm
//
// One run (RunOnce):
//
//  1. Take the lease "gc" (metadata.Leases); it is renewed while the run
//     lasts, and the run stops if it is lost.
//  2. Read the store's clock T0 and compute the cutoff: T0 − grace (or
//     an earlier bound set with WithUsedBefore).
//  3. List the candidates: every blob record (ListBlobs) not used or
//     created since the cutoff — live, pending (claimed by an upload that
//     never committed) or a tombstone left by an interrupted run — with
//     the use generation (Gen) each one had.
//  4. Mark: every Referencer adds the digests it needs kept. The
//     manifest referencer walks every repository (AllRepositories) and
//     every manifest's References and Subject (ManifestReferences).
//  5. Sweep: a candidate that nothing marked is deleted:
//     DeleteBlobIfUnused atomically checks that its Gen is still the one
//     listed and turns it into a tombstone, removing its links from every
//     repository; then the bytes are deleted; then PurgeBlob removes the
//     tombstone. Tombstones of interrupted runs are finished the same way.
//  6. Expired upload sessions (not updated for the upload expiry) are
//     swept with their staged bytes.
//
// # Safety
//
// The argument is in the documentation of metadata.GC; it does not rest
// on the grace period or on any clock. In short: every use of a blob
// changes its Gen; a writer touches the blobs of a manifest (or package
// file) after committing it and takes the commit back if the touch fails;
// the collector lists Gens before it marks and deletes only records
// whose Gen did not change. A commit the mark missed came after the
// listing, so its touch either changed the Gen (the delete refuses) or
// found the tombstone (the writer takes the commit back and answers an
// error). Uploads claim a record before writing bytes and commit it
// after (metadata.Blobs.ClaimBlob), so bytes deleted under an upload are
// never acknowledged either.
//
// Bytes are deleted only after the record is a tombstone and all links
// are gone, and the tombstone stays until the bytes are gone, so no
// request can start using the blob in between. The grace period only
// spares recently used blobs the work of a deletion that an upload or a
// push in progress would undo. Dry-run mode lists and marks the same way
// and deletes nothing.
package gc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// LeaseName is the name of the metadata lease that a running sweep holds.
const LeaseName = "gc"

// Defaults of the options.
const (
	DefaultGrace        = time.Hour
	DefaultInterval     = time.Hour
	DefaultUploadExpiry = 24 * time.Hour
	DefaultLeaseTTL     = time.Minute
)

// listPage is how many blob records one ListBlobs call returns.
const listPage = 500

// maxErrors bounds how many per-blob errors a run collects before it
// stops.
const maxErrors = 20

// ErrLeaseHeld means another sweeper holds the lease: this run did
// nothing.
var ErrLeaseHeld = errors.New("gc: another sweeper is running")

// errLeaseLost is the cancellation cause of a run whose lease could not
// be renewed.
var errLeaseLost = errors.New("gc: lease lost")

// Referencer reports digests that must not be collected. The sweeper
// consults every Referencer it has during the mark phase: manifests
// (ManifestReferencer) always, and others (generic package files, say)
// given with WithReferencers.
//
// A Referencer must report every digest referenced by data committed
// before References was called; for data committed later, the writer's
// TouchBlob after the commit protects the blob (see the package
// documentation). It may report a digest more than once, and digests
// that have no blob.
type Referencer interface {
	// References calls keep for every referenced digest.
	References(ctx context.Context, keep func(digest.Digest)) error
}

// Bytes deletes blob bytes and sweeps upload sessions: *storage.Store.
type Bytes interface {
	// DeleteBlobBytes removes the object of b; storage.ErrNotFound when it
	// is absent.
	DeleteBlobBytes(ctx context.Context, b metadata.Blob) error
	// SweepUploads deletes the sessions not updated since before, with
	// their staged bytes, skipping sessions whose lease is held, and
	// returns how many it deleted.
	SweepUploads(ctx context.Context, before time.Time) (int, error)
}

var _ Bytes = (*storage.Store)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	grace        time.Duration
	usedBefore   time.Time
	dryRun       bool
	interval     time.Duration
	uploadExpiry time.Duration
	leaseTTL     time.Duration
	log          *slog.Logger
	referencers  []Referencer
}

// WithGrace sets how long a blob must have been unused before it may be
// collected (default DefaultGrace; 0 is allowed and safe). It is a
// performance knob: blobs pushed a moment ago usually get referenced by
// the manifest that follows, and collecting them first only makes that
// push fail and start over.
func WithGrace(d time.Duration) Option {
	return func(o *options) { o.grace = max(d, 0) }
}

// WithUsedBefore additionally restricts collection to blobs last used
// before t (zero: no restriction), for example blobs older than a test's
// start, or a maintenance cut-off.
func WithUsedBefore(t time.Time) Option {
	return func(o *options) { o.usedBefore = t }
}

// WithDryRun makes runs report what they would delete, and delete nothing.
func WithDryRun(on bool) Option {
	return func(o *options) { o.dryRun = on }
}

// WithInterval sets the pause between the runs of Run (default
// DefaultInterval).
func WithInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.interval = d
		}
	}
}

// WithUploadExpiry sets how long an upload session may stay idle before it
// is swept (default DefaultUploadExpiry).
func WithUploadExpiry(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.uploadExpiry = d
		}
	}
}

// WithLeaseTTL sets the ttl of the sweeper's lease (default
// DefaultLeaseTTL). The lease is renewed every ttl/3 while a run lasts, so
// the ttl bounds how long a crashed sweeper blocks the others.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithReferencers adds referencers to the mark phase, besides the
// manifests (which are always consulted).
func WithReferencers(rs ...Referencer) Option {
	return func(o *options) { o.referencers = append(o.referencers, rs...) }
}

// Sweeper collects garbage blobs and expired uploads. It is safe for
// concurrent use; concurrent runs, in one process or many, are serialized
// by the lease (all but one return ErrLeaseHeld).
type Sweeper struct {
	meta  metadata.Store
	bytes Bytes
	opts  options

	// beforeDelete, when set (by tests), runs before each candidate is
	// deleted.
	beforeDelete func(ctx context.Context, b metadata.Blob)
}

// New returns a sweeper over meta and the bucket behind bytes (normally
// the *storage.Store that shares meta).
func New(meta metadata.Store, bytes Bytes, opts ...Option) *Sweeper {
	o := options{
		grace:        DefaultGrace,
		interval:     DefaultInterval,
		uploadExpiry: DefaultUploadExpiry,
		leaseTTL:     DefaultLeaseTTL,
		log:          slog.Default(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.referencers = append([]Referencer{ManifestReferencer(meta)}, o.referencers...)
	return &Sweeper{meta: meta, bytes: bytes, opts: o}
}

// Blob is a collected (or, in a dry run, collectable) blob.
type Blob struct {
	// Digest of the blob.
	Digest digest.Digest `json:"digest"`
	// Size in bytes.
	Size int64 `json:"size"`
	// Key of its bytes in the bucket.
	Key string `json:"key"`
	// LastUsed is when it was last put, linked or touched.
	LastUsed time.Time `json:"lastUsed"`
}

// Report describes one run.
type Report struct {
	// DryRun reports that nothing was deleted: Deleted and UploadsSwept
	// say what would have been.
	DryRun bool `json:"dryRun"`
	// Started is when the run began, by the metadata store's clock.
	Started time.Time `json:"started"`
	// Cutoff is the Used time before which unreferenced blobs were
	// collected.
	Cutoff time.Time `json:"cutoff"`
	// Duration is how long the run took.
	Duration time.Duration `json:"duration"`
	// Referenced is how many distinct digests the mark phase found.
	Referenced int `json:"referenced"`
	// Scanned is how many blob records the sweep examined.
	Scanned int `json:"scanned"`
	// Deleted lists the blobs deleted (or that would be).
	Deleted []Blob `json:"deleted"`
	// DeletedBytes is the sum of the sizes in Deleted.
	DeletedBytes int64 `json:"deletedBytes"`
	// Reused counts candidates that were used again between the mark and
	// their deletion, and so were kept.
	Reused int `json:"reused"`
	// Finished counts deletions left unfinished by an earlier run and
	// completed by this one (they are in Deleted too).
	Finished int `json:"finished"`
	// KeptBytes counts collected records whose bytes were left in place
	// because their key is neither the blob's content address nor the
	// object of the upload session that committed it (storage.Owned).
	KeptBytes int `json:"keptBytes"`
	// UploadsSwept is how many expired upload sessions were deleted (or
	// would be).
	UploadsSwept int `json:"uploadsSwept"`
}

// Run runs a sweep now and then every interval until ctx is done, and
// returns ctx's error. Runs that find another sweeper holding the lease
// are skipped; errors are logged, and the next run retries.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		_, err := s.RunOnce(ctx)
		switch {
		case errors.Is(err, ErrLeaseHeld):
			s.opts.log.Debug("gc skipped: another sweeper is running")
		case err != nil && ctx.Err() == nil:
			s.opts.log.Error("gc run failed", "err", err)
		}
		t.Reset(s.opts.interval)
	}
}

// RunOnce runs one sweep under the lease: ErrLeaseHeld when another
// sweeper holds it. The report is filled in as far as the run got, also
// when it fails.
func (s *Sweeper) RunOnce(ctx context.Context) (Report, error) {
	rep := Report{DryRun: s.opts.dryRun, Deleted: []Blob{}}
	token := newToken()
	ok, err := s.meta.AcquireLease(ctx, LeaseName, token, s.opts.leaseTTL)
	if err != nil {
		return rep, fmt.Errorf("gc: acquire lease: %w", err)
	}
	if !ok {
		return rep, ErrLeaseHeld
	}
	ctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.renew(ctx, token, cancel)
	}()
	defer func() {
		cancel(context.Canceled)
		<-renewed
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := s.meta.ReleaseLease(rctx, LeaseName, token); err != nil {
			s.opts.log.Warn("gc: release lease", "err", err)
		}
	}()

	err = s.run(ctx, &rep)
	if c := context.Cause(ctx); errors.Is(c, errLeaseLost) {
		err = c
	}
	attrs := []any{
		"dryRun", rep.DryRun, "duration", rep.Duration, "cutoff", rep.Cutoff,
		"referenced", rep.Referenced, "scanned", rep.Scanned,
		"blobs", len(rep.Deleted), "bytes", rep.DeletedBytes, "reused", rep.Reused,
		"finished", rep.Finished, "uploads", rep.UploadsSwept,
	}
	if err != nil {
		s.opts.log.Error("gc run failed", append(attrs, "err", err)...)
		return rep, err
	}
	s.opts.log.Info("gc run done", attrs...)
	return rep, nil
}

// renew extends the lease every ttl/3 until ctx is done; when it cannot,
// it cancels the run with errLeaseLost.
func (s *Sweeper) renew(ctx context.Context, token string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(s.opts.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ok, err := s.meta.AcquireLease(ctx, LeaseName, token, s.opts.leaseTTL)
			if ctx.Err() != nil {
				return
			}
			if err != nil || !ok {
				s.opts.log.Error("gc: lease lost; stopping the run", "err", err)
				cancel(fmt.Errorf("%w (renew: ok=%v, err=%v)", errLeaseLost, ok, err))
				return
			}
		}
	}
}

func (s *Sweeper) run(ctx context.Context, rep *Report) error {
	start, err := s.meta.Now(ctx)
	if err != nil {
		return fmt.Errorf("gc: read the store's clock: %w", err)
	}
	began := time.Now()
	defer func() { rep.Duration = time.Since(began) }()
	rep.Started = start
	rep.Cutoff = start.Add(-s.opts.grace)
	if !s.opts.usedBefore.IsZero() && s.opts.usedBefore.Before(rep.Cutoff) {
		rep.Cutoff = s.opts.usedBefore
	}

	// Candidates first, with the Gen of each: a use after this point
	// changes the Gen, and the conditional delete then refuses (see
	// metadata.GC).
	candidates, err := s.candidates(ctx, rep)
	if err != nil {
		return err
	}
	marked := newDigestSet()
	for _, r := range s.opts.referencers {
		if err := r.References(ctx, marked.add); err != nil {
			return fmt.Errorf("gc: mark: %w", err)
		}
	}
	rep.Referenced = marked.len()

	if err := s.sweep(ctx, rep, marked, candidates); err != nil {
		return err
	}

	before := start.Add(-s.opts.uploadExpiry)
	if s.opts.dryRun {
		us, err := s.meta.ExpiredUploads(ctx, before, -1)
		if err != nil {
			return fmt.Errorf("gc: list expired uploads: %w", err)
		}
		rep.UploadsSwept = len(us)
		return nil
	}
	n, err := s.bytes.SweepUploads(ctx, before)
	rep.UploadsSwept = n
	if err != nil {
		return fmt.Errorf("gc: sweep uploads: %w", err)
	}
	return nil
}

// candidates pages through the blob records and returns those that may
// be garbage: tombstones of interrupted runs, and records neither used
// nor created since the cutoff.
func (s *Sweeper) candidates(ctx context.Context, rep *Report) ([]metadata.BlobInfo, error) {
	var (
		after digest.Digest
		out   []metadata.BlobInfo
	)
	for {
		page, more, err := s.meta.ListBlobs(ctx, after, listPage)
		if err != nil {
			return nil, fmt.Errorf("gc: list blobs: %w", err)
		}
		for _, info := range page {
			rep.Scanned++
			b := info.Blob
			if info.Deleting || (b.LastUsed().Before(rep.Cutoff) && b.Created.Before(rep.Cutoff)) {
				out = append(out, info)
			}
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].Digest
	}
}

// sweep deletes the candidates that nothing marked.
func (s *Sweeper) sweep(ctx context.Context, rep *Report, marked *digestSet, candidates []metadata.BlobInfo) error {
	var errs []error
	for _, info := range candidates {
		if !info.Deleting && marked.has(info.Digest) {
			continue
		}
		if err := s.consider(ctx, rep, info); err != nil {
			if ctx.Err() != nil {
				return errors.Join(append(errs, err)...)
			}
			s.opts.log.Warn("gc: blob not collected", "digest", info.Digest, "err", err)
			if errs = append(errs, err); len(errs) >= maxErrors {
				return errors.Join(append(errs, errors.New("gc: too many errors, stopping"))...)
			}
		}
	}
	return errors.Join(errs...)
}

// consider deletes one unmarked candidate, unless it was used since it
// was listed.
func (s *Sweeper) consider(ctx context.Context, rep *Report, info metadata.BlobInfo) error {
	b := info.Blob
	if s.opts.dryRun {
		if !info.Deleting {
			rep.add(b)
		}
		return nil
	}
	if s.beforeDelete != nil && !info.Deleting {
		s.beforeDelete(ctx, b)
	}
	rec, err := s.meta.DeleteBlobIfUnused(ctx, b.Digest, rep.Cutoff, b.Gen)
	switch {
	case errors.Is(err, metadata.ErrConflict):
		rep.Reused++
		s.opts.log.Debug("gc: blob used again, kept", "digest", b.Digest)
		return nil
	case errors.Is(err, metadata.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("gc: delete record of %s: %w", b.Digest, err)
	}
	if storage.Owned(rec.Key, rec.Digest) {
		if err := s.bytes.DeleteBlobBytes(ctx, rec); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("gc: delete bytes of %s: %w", b.Digest, err)
		}
	} else {
		// Only the content-addressed key and the record's own upload
		// session object are known to belong to this record alone;
		// leave any other object for an operator.
		rep.KeptBytes++
		s.opts.log.Warn("gc: record collected, bytes left in place: key is not content-addressed",
			"digest", rec.Digest, "key", rec.Key)
	}
	if err := s.meta.PurgeBlob(ctx, b.Digest); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("gc: purge record of %s: %w", b.Digest, err)
	}
	if info.Deleting {
		rep.Finished++
	}
	rep.add(rec)
	s.opts.log.Debug("gc: blob deleted", "digest", rec.Digest, "size", rec.Size)
	return nil
}

func (r *Report) add(b metadata.Blob) {
	r.Deleted = append(r.Deleted, Blob{Digest: b.Digest, Size: b.Size, Key: b.Key, LastUsed: b.LastUsed()})
	r.DeletedBytes += b.Size
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
