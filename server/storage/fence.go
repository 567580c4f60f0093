package storage

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// Fencing stale writers on file storage.
//
// A PATCH writes into the session's staging file under the session's
// lease. A writer whose lease lapsed (its process stalled, or lost the
// metadata store, for longer than the lease's ttl) may still be writing
// into that file when another writer takes the lease over; if both wrote
// into one file, the stale writer's bytes could land in the middle of
// the new writer's, and the blob would commit with bytes that do not
// match its digest (the commit checks only the size).
//
// So a takeover moves the session to a new file: the metadata store
// counts takeovers (metadata.Upload.Epoch), the session state records
// which epoch's file holds its bytes (state.FileEpoch), and the first
// writer of a new epoch copies the session's first Offset bytes — which
// no stale writer touches: a writer only writes at or after the offset
// it started at, and the offset never moved past it without a takeover —
// into the file of its own epoch, verifying them against the saved hash
// state as it copies. A stale writer keeps writing into the old file,
// which nothing reads any more and which is removed once the new one is
// recorded. Takeovers are rare (a writer crashed or stalled), so the copy
// costs nothing on the normal path.

// fenced returns the staging file that writer of session u must use,
// copying the session's bytes into the file of u's epoch first when a
// takeover happened since they were written. st is updated to the new
// epoch; the caller records it with the session.
func (s *Store) fenced(ctx context.Context, u metadata.Upload, st *state) (string, error) {
	path := s.stagingPath(u.ID, u.Epoch)
	if st.FileEpoch == u.Epoch {
		return path, nil
	}
	old := s.stagingPath(u.ID, st.FileEpoch)
	s.opts.log.Info("upload taken over from a stale writer: copying its bytes to a fresh staging file",
		"upload", u.ID, "offset", u.Offset, "from epoch", st.FileEpoch, "to epoch", u.Epoch)
	if err := s.copyVerified(ctx, old, path, u.Offset, st); err != nil {
		return "", err
	}
	st.FileEpoch = u.Epoch
	return path, nil
}

// copyVerified copies the first size bytes of src into a new file dst,
// hashing them with the first algorithm of st, and fails with
// ErrUploadBroken unless they hash to st's saved state.
func (s *Store) copyVerified(ctx context.Context, src, dst string, size int64, st *state) (err error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) && size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: staging file of an earlier writer: %w", ErrUploadBroken, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	want, _, err := st.sum(st.Algs[0])
	if err != nil {
		return err
	}
	h, err := newHash(st.Algs[0])
	if err != nil {
		return err
	}
	n, err := s.copyHashed(ctx, out, io.NewSectionReader(in, 0, size), []hash.Hash{h})
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: staging file has %d of its %d bytes", ErrUploadBroken, n, size)
	}
	if got := digest.NewDigest(st.Algs[0], h); got != want {
		return fmt.Errorf("%w: staged bytes hash to %s, the session recorded %s", ErrUploadBroken, got, want)
	}
	return out.Sync()
}

// dropStale removes the staging file of epoch from, once a session that
// moved on to a later epoch is recorded.
func (s *Store) dropStale(id string, from, to uint64) {
	if s.dir == "" || from == to {
		return
	}
	if err := os.Remove(s.stagingPath(id, from)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.opts.log.Warn("remove the staging file of a stale writer", "upload", id, "err", err)
	}
}
