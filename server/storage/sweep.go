package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/regkit/regkit/server/metadata"
)

const sweepBatch = 100

// SweepUploads deletes the sessions not updated since before, with their
// staged bytes, and returns how many sessions it deleted. A session whose
// lease is held (a PATCH is streaming) is skipped: the sweeper takes the
// lease before deleting, so it never removes bytes under a writer.
// Deleting a session record (metadata.Uploads.DeleteUpload) also deletes
// the package side of a generic resumable upload of the same ID
// (metadata.PackageUpload), so nothing of an expired session is left.
//
// It then deletes staged objects under _uploads/ older than before that
// belong to no session: leftovers of a process that crashed between
// removing a session record and its bytes, or during a monolithic upload;
// and, on S3 and Azure, committed session objects (objects/<id>) older
// than before that neither a session nor a blob record names (see
// sweepObjects for the checks that make that safe).
func (s *Store) SweepUploads(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	skipped := map[string]bool{}
	for {
		want := len(skipped) + sweepBatch
		us, err := s.meta.ExpiredUploads(ctx, before, want)
		if err != nil {
			return deleted, fmt.Errorf("storage: list expired uploads: %w", err)
		}
		for _, u := range us {
			if skipped[u.ID] {
				continue
			}
			ok, err := s.sweepOne(ctx, u.ID, before)
			if err != nil {
				return deleted, err
			}
			if ok {
				deleted++
			} else {
				skipped[u.ID] = true
			}
		}
		if len(us) < want {
			break
		}
	}
	if err := s.sweepOrphans(ctx, before); err != nil {
		return deleted, err
	}
	if deleted > 0 {
		s.opts.log.Info("swept expired uploads", "count", deleted, "before", before)
	}
	return deleted, nil
}

// sweepOne deletes session id if it is still expired and not leased.
func (s *Store) sweepOne(ctx context.Context, id string, before time.Time) (bool, error) {
	token := newID()
	u, err := s.meta.AcquireUpload(ctx, id, -1, token, s.opts.leaseTTL)
	switch {
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, metadata.ErrConflict):
		return false, nil // gone, or a writer holds it
	case err != nil:
		return false, fmt.Errorf("storage: acquire upload %s: %w", id, err)
	}
	if !u.Updated.Before(before) {
		// Written to since it was listed: give the lease back untouched.
		if err := s.meta.ReleaseUpload(ctx, u, token); err != nil && !errors.Is(err, metadata.ErrNotFound) {
			return false, fmt.Errorf("storage: release upload %s: %w", id, err)
		}
		return false, nil
	}
	if err := s.meta.DeleteUpload(ctx, id); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("storage: delete upload %s: %w", id, err)
	}
	if err := s.deleteStaged(ctx, id); err != nil {
		return true, fmt.Errorf("storage: delete staged bytes of %s: %w", id, err)
	}
	return true, nil
}

// sweepOrphans deletes staged objects older than before whose session
// does not exist.
func (s *Store) sweepOrphans(ctx context.Context, before time.Time) error {
	if s.dir != "" {
		return s.sweepOrphanFiles(ctx, before)
	}
	if b, ok := s.native.(*s3Backend); ok {
		if err := b.sweepOrphans(ctx, s, before); err != nil {
			return fmt.Errorf("storage: sweep multipart uploads: %w", err)
		}
	}
	if err := s.sweepObjects(ctx, before); err != nil {
		return err
	}
	it := s.bucket.List(&blob.ListOptions{Prefix: uploadsPrefix})
	var orphans []string
	known := map[string]bool{} // session id → exists
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("storage: list staged uploads: %w", err)
		}
		if obj.IsDir || !obj.ModTime.Before(before) {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(obj.Key, uploadsPrefix), "/")
		exists, seen := known[id]
		if !seen {
			if validID(id) {
				_, err := s.meta.GetUpload(ctx, id)
				if err != nil && !errors.Is(err, metadata.ErrNotFound) {
					return fmt.Errorf("storage: get upload %s: %w", id, err)
				}
				exists = err == nil
			}
			known[id] = exists
		}
		if !exists {
			orphans = append(orphans, obj.Key)
		}
	}
	for _, k := range orphans {
		if err := s.bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
			return fmt.Errorf("storage: delete orphan %s: %w", k, err)
		}
	}
	if len(orphans) > 0 {
		s.opts.log.Info("swept orphaned upload bytes", "count", len(orphans))
	}
	return nil
}

// sweepOrphanFiles is sweepOrphans on file storage: it reads the staging
// directory itself, so that files renamed or removed while it looks
// (uploads finishing) are skipped instead of failing the listing.
func (s *Store) sweepOrphanFiles(ctx context.Context, before time.Time) error {
	dir := filepath.Join(s.dir, filepath.FromSlash(uploadsPrefix))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: list staged uploads: %w", err)
	}
	removed := 0
	for _, e := range entries {
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("storage: list staged uploads: %w", err)
		}
		if fi.IsDir() || !fi.ModTime().Before(before) {
			continue
		}
		if id, _, _ := strings.Cut(e.Name(), "."); validID(id) { // <id> or <id>.<epoch>
			_, err := s.meta.GetUpload(ctx, id)
			if err == nil {
				continue
			}
			if !errors.Is(err, metadata.ErrNotFound) {
				return fmt.Errorf("storage: get upload %s: %w", id, err)
			}
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("storage: delete orphan %s: %w", e.Name(), err)
		}
		removed++
	}
	if removed > 0 {
		s.opts.log.Info("swept orphaned upload bytes", "count", removed)
	}
	return nil
}
