package storage

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// errLeaseLost is the cancellation cause of a write whose lease could not
// be refreshed.
var errLeaseLost = errors.New("storage: upload lease lost")

// lease is a held write lease on one session. While it is held a
// goroutine re-acquires it (same token, same offset) every ttl/3, so a
// PATCH may stream for longer than the ttl; if a refresh fails, ctx is
// cancelled with errLeaseLost and the write stops at its next chunk.
type lease struct {
	s      *Store
	id     string
	token  string
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	once   sync.Once
}

// acquire takes the lease of session id, which must be at offset (offset
// < 0: any offset).
// A session of another repository than repo (when repo is not empty) is
// unknown.
func (s *Store) acquire(ctx context.Context, repo, id string, offset int64) (metadata.Upload, *lease, error) {
	if !validID(id) {
		return metadata.Upload{}, nil, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	token := newID()
	u, err := s.meta.AcquireUpload(ctx, id, offset, token, s.opts.leaseTTL)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		return metadata.Upload{}, nil, fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	case errors.Is(err, metadata.ErrConflict):
		if repo != "" && u.Repo != repo {
			return metadata.Upload{}, nil, fmt.Errorf("%w: %s is not an upload of %s", ErrUploadUnknown, id, repo)
		}
		if offset >= 0 && u.Offset != offset {
			return metadata.Upload{}, nil, &RangeError{Offset: u.Offset}
		}
		return metadata.Upload{}, nil, &BusyError{Offset: u.Offset, RetryAfter: (s.opts.leaseTTL/3 + time.Second - 1).Truncate(time.Second)}
	case err != nil:
		return metadata.Upload{}, nil, fmt.Errorf("storage: acquire upload %s: %w", id, err)
	}
	if repo != "" && u.Repo != repo {
		if rerr := s.meta.ReleaseUpload(ctx, u, token); rerr != nil {
			s.opts.log.Warn("release of a foreign upload", "upload", id, "err", rerr)
		}
		return metadata.Upload{}, nil, fmt.Errorf("%w: %s is not an upload of %s", ErrUploadUnknown, id, repo)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &lease{s: s, id: id, token: token, ctx: lctx, cancel: cancel, done: make(chan struct{})}
	go l.refresh(u.Offset)
	return u, l, nil
}

func (l *lease) refresh(offset int64) {
	defer close(l.done)
	ttl := l.s.opts.leaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			if _, err := l.s.meta.AcquireUpload(l.ctx, l.id, offset, l.token, ttl); err != nil {
				if l.ctx.Err() == nil {
					l.s.opts.log.Warn("upload lease lost", "upload", l.id, "err", err)
					l.cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
				}
				return
			}
		}
	}
}

// releaseOnPanic, deferred by a writer holding l, gives the session back
// unchanged when the write panics (then re-panics), so that a failing
// request never keeps its lease.
func releaseOnPanic(ctx context.Context, l *lease, u metadata.Upload) {
	if p := recover(); p != nil {
		if err := l.release(ctx, u); err != nil {
			l.s.opts.log.Warn("release after a panic", "upload", u.ID, "err", err)
		}
		panic(p)
	}
}

// stop ends the refresher; the lease itself stays in the metadata store
// until released, deleted or expired.
func (l *lease) stop() {
	l.once.Do(func() {
		l.cancel(context.Canceled)
		<-l.done
	})
}

// lost reports whether the lease was lost while writing.
func (l *lease) lost() bool { return errors.Is(context.Cause(l.ctx), errLeaseLost) }

// release stores u and releases the lease. It runs even when ctx was
// cancelled (a client that went away must not leave its session leased).
func (l *lease) release(ctx context.Context, u metadata.Upload) error {
	l.stop()
	ctx, cancel := bg(ctx)
	defer cancel()
	u.Updated = time.Now().UTC()
	err := l.s.meta.ReleaseUpload(ctx, u, l.token)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrUploadUnknown, l.id)
	case errors.Is(err, metadata.ErrConflict):
		return l.s.rangeErr(ctx, l.id)
	case err != nil:
		return fmt.Errorf("storage: release upload %s: %w", l.id, err)
	}
	return nil
}

// rangeErr returns a *RangeError with the session's current offset.
func (s *Store) rangeErr(ctx context.Context, id string) error {
	cur, err := s.meta.GetUpload(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	}
	if err != nil {
		return fmt.Errorf("storage: get upload %s: %w", id, err)
	}
	return &RangeError{Offset: cur.Offset}
}

// StartUpload creates an upload session for repo. The session hashes
// every algorithm in algs while bytes stream in (default: sha256 only), so
// that FinishUpload never re-reads the bytes for a digest of one of them.
func (s *Store) StartUpload(ctx context.Context, repo string, algs ...digest.Algorithm) (_ metadata.Upload, err error) {
	defer s.observe("start_upload", time.Now(), &err)
	if len(algs) == 0 {
		algs = []digest.Algorithm{digest.SHA256}
	}
	st, err := newState(algs)
	if err != nil {
		return metadata.Upload{}, err
	}
	now := time.Now().UTC()
	u := metadata.Upload{ID: newID(), Repo: repo, State: st.encode(), Started: now, Updated: now}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		return metadata.Upload{}, fmt.Errorf("storage: create upload: %w", err)
	}
	s.opts.log.Debug("upload started", "upload", u.ID, "repo", repo)
	return u, nil
}

// UploadStatus returns the session id; ErrUploadUnknown when it does not
// exist or (when repo is not empty) belongs to another repository.
func (s *Store) UploadStatus(ctx context.Context, repo, id string) (_ metadata.Upload, err error) {
	defer s.observe("upload_status", time.Now(), &err)
	if !validID(id) {
		return metadata.Upload{}, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	u, err := s.meta.GetUpload(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return metadata.Upload{}, fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	}
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("storage: get upload %s: %w", id, err)
	}
	if repo != "" && u.Repo != repo {
		return metadata.Upload{}, fmt.Errorf("%w: %s is not an upload of %s", ErrUploadUnknown, id, repo)
	}
	return u, nil
}

// AppendUpload appends r at offset start (start < 0: at the current
// offset, i.e. a streamed PATCH without Content-Range) and returns the
// updated session.
//
// The write runs under the session's lease: AcquireUpload(id, start) →
// write and hash the bytes → ReleaseUpload with the new offset and hash
// states. Errors: ErrUploadUnknown; *RangeError{Offset: current} when
// start is not the current offset or another writer holds the lease (the
// server answers 416 with Range 0-(Offset-1)).
//
// When r fails midway (a client disconnect) the session is released
// unchanged, so the next PATCH retries at the same offset; bytes of the
// failed write are dropped (file storage truncates the staging file to the
// offset before writing; the generic path never lists the aborted part).
//
// On file storage an append does not fsync (unless WithSyncAppends); it
// starts write-back of its range so that FinishUpload's fsync has little
// left to flush. FinishUpload checks the staged size against the recorded
// offset, so bytes lost in a crash are detected (ErrUploadBroken), never
// committed.
//
// A session of another repository than repo (when repo is not empty) is
// unknown; the same holds for FinishUpload and CancelUpload.
func (s *Store) AppendUpload(ctx context.Context, repo, id string, start int64, r io.Reader) (_ metadata.Upload, err error) {
	defer s.observe("append_upload", time.Now(), &err)
	u, l, err := s.acquire(ctx, repo, id, start)
	if err != nil {
		return metadata.Upload{}, err
	}
	defer releaseOnPanic(ctx, l, u)
	nu, err := s.appendLeased(l, u, r)
	if err != nil {
		if rerr := l.release(ctx, u); rerr != nil {
			s.opts.log.Warn("release after failed append", "upload", id, "err", rerr)
		}
		return metadata.Upload{}, s.writeErr(ctx, l, err)
	}
	if err := l.release(ctx, nu); err != nil {
		return metadata.Upload{}, err
	}
	s.dropStaleOf(u, nu)
	return nu, nil
}

// dropStaleOf removes the staging file that session before used, when
// after (its recorded successor) moved to another epoch's file.
func (s *Store) dropStaleOf(before, after metadata.Upload) {
	if s.dir == "" {
		return
	}
	b, err1 := decodeState(before.State)
	a, err2 := decodeState(after.State)
	if err1 == nil && err2 == nil {
		s.dropStale(before.ID, b.FileEpoch, a.FileEpoch)
	}
}

// writeErr maps the error of a write under l.
func (s *Store) writeErr(ctx context.Context, l *lease, err error) error {
	if l.lost() {
		c, cancel := bg(ctx)
		defer cancel()
		return s.rangeErr(c, l.id)
	}
	return fmt.Errorf("storage: append to upload %s: %w", l.id, err)
}

// appendLeased writes r at the end of u and returns the updated session
// (not yet stored).
func (s *Store) appendLeased(l *lease, u metadata.Upload, r io.Reader) (metadata.Upload, error) {
	st, err := decodeState(u.State)
	if err != nil {
		return u, err
	}
	hs, err := st.hashers()
	if err != nil {
		return u, err
	}
	var n int64
	var p part
	var staged *staging
	if s.dir != "" {
		var path string
		if path, err = s.fenced(l.ctx, u, st); err != nil {
			return u, err
		}
		n, err = s.appendFile(l.ctx, path, u.Offset, hs, r)
	} else if s.native != nil {
		staged, err = s.native.appendParts(l.ctx, s, u.ID, st, l.token, hs, r)
		if staged != nil {
			n = staged.n
		}
	} else {
		p, err = s.appendPart(l.ctx, u.ID, st.Seq, l.token, hs, r)
		n = p.Size
	}
	if err != nil {
		return u, err
	}
	nst, err := st.with(hs)
	if err != nil {
		return u, err
	}
	switch {
	case staged != nil:
		nst.Parts, nst.MPU = staged.parts, staged.mpu
		if n > 0 {
			nst.Seq++
		}
	case p.Key != "":
		nst.Parts = append(nst.Parts, p)
		nst.Seq++
	}
	u.Offset += n
	u.State = nst.encode()
	return u, nil
}

// FinishUpload appends final (may be nil), verifies the digest want and
// commits the bytes to Key(want). It returns the blob record, already
// stored with meta.PutBlob (not linked to a repository: the caller links
// it), and deletes the session.
//
// The digest comes from the hash states saved while the bytes streamed;
// the bytes are not re-read — except when want uses an algorithm the
// session did not hash (see StartUpload): then the staged bytes are read
// once to compute it.
//
// Commit: on file storage the staging file's size is checked against the
// offset, it is fsynced, renamed into place and its directory fsynced —
// O(1) whatever the size. On the generic path a single part is copied
// server-side (Bucket.Copy), several are stream-concatenated (O(size)
// until cloud-native compose lands). Identical content stored already is
// kept and the staged bytes dropped. Only then is the blob record written.
//
// Errors: ErrUploadUnknown; *RangeError; ErrDigestInvalid (the session is
// kept); ErrDigestMismatch (wrapped, naming expected and actual digests) —
// then nothing is stored and the session is removed with its bytes;
// ErrUploadBroken.
func (s *Store) FinishUpload(ctx context.Context, repo, id string, final io.Reader, want digest.Digest) (_ metadata.Blob, err error) {
	defer s.observe("finish_upload", time.Now(), &err)
	if err := want.Validate(); err != nil {
		return metadata.Blob{}, fmt.Errorf("%w: %q: %w", ErrDigestInvalid, want, err)
	}
	u0, l, err := s.acquire(ctx, repo, id, -1)
	if err != nil {
		return metadata.Blob{}, err
	}
	defer l.stop()
	defer releaseOnPanic(ctx, l, u0)
	u := u0
	if final != nil {
		if u, err = s.appendLeased(l, u0, final); err != nil {
			if rerr := l.release(ctx, u0); rerr != nil {
				s.opts.log.Warn("release after failed append", "upload", id, "err", rerr)
			}
			return metadata.Blob{}, s.writeErr(ctx, l, err)
		}
	}
	fail := func(err error) (metadata.Blob, error) {
		// Keep the session as it was before this call, so the client may
		// retry the PUT with the same body.
		if rerr := l.release(ctx, u0); rerr != nil {
			s.opts.log.Warn("release after failed finish", "upload", id, "err", rerr)
		}
		return metadata.Blob{}, err
	}
	st, err := decodeState(u.State)
	if err != nil {
		return fail(err)
	}
	got, ok, err := st.sum(want.Algorithm())
	if err != nil {
		return fail(err)
	}
	if !ok {
		if got, err = s.stagedDigest(l.ctx, u, st, want.Algorithm()); err != nil {
			return fail(err)
		}
	}
	if got != want {
		l.stop()
		if s.native != nil && s.native.sessionKeyed() {
			// Hashing may have committed the session's object (Azure);
			// no record names it before the claim below.
			c, cancel := bg(ctx)
			if derr := s.bucket.Delete(c, objectsPrefix+id); derr != nil && !isNotFound(derr) {
				s.opts.log.Warn("delete the object of a mismatched upload", "upload", id, "err", derr)
			}
			cancel()
		}
		s.removeSession(ctx, id)
		return metadata.Blob{}, fmt.Errorf("%w: expected %s, got %s", ErrDigestMismatch, want, got)
	}
	key := Key(want)
	sessionKeyed := s.native != nil && s.native.sessionKeyed()
	if sessionKeyed {
		key = objectsPrefix + id
	}
	claim, live, err := s.claim(l.ctx, want, key)
	if err != nil {
		return fail(err)
	}
	switch {
	case s.native != nil && live:
		// Stored already: the staged bytes are dropped with the session.
	case s.dir != "":
		// Never rename a file that a stale writer may still write into.
		var path string
		if path, err = s.fenced(l.ctx, u, st); err == nil {
			err = s.commitFile(path, u.Offset, key)
		}
	case s.native != nil:
		err = s.native.commit(l.ctx, s, id, st, u.Offset, key)
	default:
		err = s.commitParts(l.ctx, st, u.Offset, key)
	}
	if err != nil {
		return fail(fmt.Errorf("storage: commit upload %s: %w", id, err))
	}
	rec, err := s.commitRecord(ctx, claim, u.Offset, key)
	if sessionKeyed && !live && (err != nil || rec.Key != key) {
		// Another upload of the same content was recorded first (or the
		// record is gone): this session's object is nobody's.
		c, cancel := bg(ctx)
		if derr := s.bucket.Delete(c, key); derr != nil && !isNotFound(derr) {
			s.opts.log.Warn("delete a duplicate upload object", "key", key, "err", derr)
		}
		cancel()
	}
	if err != nil {
		// The staged bytes were moved into place and may be gone with
		// the collected record: the session cannot be finished again.
		l.stop()
		s.removeSession(ctx, id)
		return metadata.Blob{}, err
	}
	l.stop()
	s.removeSession(ctx, id)
	s.opts.log.Debug("upload finished", "upload", id, "digest", want, "size", u.Offset)
	return rec, nil
}

// CancelUpload deletes the session and its staged bytes;
// ErrUploadUnknown when it does not exist. The record goes first, so a
// writer still streaming into the session cannot record its bytes.
func (s *Store) CancelUpload(ctx context.Context, repo, id string) (err error) {
	defer s.observe("cancel_upload", time.Now(), &err)
	if repo != "" {
		if _, err := s.UploadStatus(ctx, repo, id); err != nil {
			return err
		}
	}
	if !validID(id) {
		return fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	err = s.meta.DeleteUpload(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	}
	if err != nil {
		return fmt.Errorf("storage: delete upload %s: %w", id, err)
	}
	if err := s.deleteStaged(ctx, id); err != nil {
		return fmt.Errorf("storage: delete staged bytes of %s: %w", id, err)
	}
	return nil
}

// removeSession deletes the record, then the staged bytes, ignoring
// cancellation of ctx; failures are logged (SweepUploads collects what
// is left).
func (s *Store) removeSession(ctx context.Context, id string) {
	ctx, cancel := bg(ctx)
	defer cancel()
	if err := s.meta.DeleteUpload(ctx, id); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		s.opts.log.Warn("delete upload session", "upload", id, "err", err)
	}
	if err := s.deleteStaged(ctx, id); err != nil {
		s.opts.log.Warn("delete staged bytes", "upload", id, "err", err)
	}
}

// deleteStaged removes the staged bytes of session id (all of its parts,
// including orphans of writes that lost their lease).
func (s *Store) deleteStaged(ctx context.Context, id string) error {
	if s.dir != "" {
		return s.removeStaging(id)
	}
	switch b := s.native.(type) {
	case *azureBackend:
		if err := b.discard(ctx, id); err != nil {
			return err
		}
	case *s3Backend:
		if err := b.abort(ctx, id); err != nil {
			return err
		}
	}
	return s.deletePrefix(ctx, uploadsPrefix+id+"/")
}

// stagedDigest reads the staged bytes of u once and hashes them with alg.
func (s *Store) stagedDigest(ctx context.Context, u metadata.Upload, st *state, alg digest.Algorithm) (digest.Digest, error) {
	h, err := newHash(alg)
	if err != nil {
		return "", err
	}
	var n int64
	if s.dir != "" {
		n, err = s.hashFile(s.stagingPath(u.ID, st.FileEpoch), u.Offset, h)
	} else if s.native != nil && s.native.sessionKeyed() {
		n, err = s.hashCommitted(ctx, u.ID, st, u.Offset, h)
	} else {
		n, err = s.hashParts(ctx, st, h)
	}
	if err != nil {
		return "", err
	}
	if n != u.Offset {
		return "", fmt.Errorf("%w: %d bytes staged, offset %d", ErrUploadBroken, n, u.Offset)
	}
	return digest.NewDigest(alg, h), nil
}

// bufPool holds copy buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyHashedN copies r to w, feeding every hash in hs, and returns the
// number of bytes copied. It reads in large blocks to keep syscalls few,
// and hashes in a goroutine of its own while the next block is read and
// written, so that on a multi-core machine hashing overlaps the I/O
// instead of adding to it. Every byte written to w is hashed, in order,
// before copyHashedN returns. It uses depth buffers (at least 1).
func copyHashedN(ctx context.Context, w io.Writer, r io.Reader, hs []hash.Hash, depth int) (int64, error) {
	depth = max(depth, 1)
	free := make(chan *[]byte, depth)
	for range depth {
		free <- bufPool.Get().(*[]byte)
	}
	toHash := make(chan []byte, depth)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range toHash {
			for _, h := range hs {
				h.Write(b)
			}
			bp := b[:cap(b)]
			free <- &bp
		}
	}()
	defer func() {
		// Whatever happened (also a panic in w or r), the hasher finishes
		// what it was given and every buffer it returned goes back to the
		// pool. A buffer held by the loop when it failed is dropped: this
		// never waits for it.
		close(toHash)
		<-hashed
		for {
			select {
			case bp := <-free:
				bufPool.Put(bp)
			default:
				return
			}
		}
	}()
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, context.Cause(ctx)
		}
		bp := <-free
		buf := *bp
		n, rerr := fill(r, buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				free <- bp
				return total, err
			}
			toHash <- buf[:n]
			total += int64(n)
		} else {
			free <- bp
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// fill reads into buf until it is full, r reports an error or io.EOF.
// Unlike io.ReadFull it passes r's errors through unchanged (a truncated
// HTTP body reports io.ErrUnexpectedEOF, which must stay an error).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
