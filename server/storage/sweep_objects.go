package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"gocloud.dev/blob"

	"github.com/regkit/regkit/server/metadata"
)

// sweepObjects deletes the committed objects of sessions (objects/<id>,
// S3 and Azure) that no blob record names: what a process that died
// between committing an upload's object and recording it leaves, what a
// digest check that committed the object to hash it (Azure, S3 without
// saved hash state) leaves when the process dies before deleting it, and
// what garbage collection leaves when it collects a record whose key is
// not content-addressed. An object is deleted only when, in this order:
//
//  1. it was last modified before before (the sessions' expiry cutoff)
//     and its key is objects/<id> with a session ID;
//  2. the session id does not exist (metadata.Uploads.GetUpload);
//  3. then, no blob record — live, pending (claimed by an upload still
//     writing, or whose writer died) or a tombstone — names its key, in a
//     listing of every record begun after step 2.
//
// Why that is safe without relying on the cutoff: an upload claims its
// record, with the session's key, before it commits the object
// (FinishUpload), and deletes its session only after recording it, so
// while a finisher may still record the key either its session exists
// (step 2 keeps the object) or its claim does (step 3 does). The one gap
// is a finisher that lost its lease and its session to the sweeper while
// it stalled between its commit and its record, with its digest claimed
// by another session at that moment (then the pending record names the
// other session's key); the cutoff makes that a stall of longer than the
// sessions' expiry.
//
// Checking records costs one listing of every blob record (the same
// listing garbage collection makes); it is made twice only when objects
// are left after a first pass that keeps every object some record names
// (most of them), so that only those few cost a GetUpload.
func (s *Store) sweepObjects(ctx context.Context, before time.Time) error {
	if s.native == nil || !s.native.sessionKeyed() {
		return nil
	}
	candidates := map[string]bool{} // key
	it := s.bucket.List(&blob.ListOptions{Prefix: objectsPrefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("storage: list session objects: %w", err)
		}
		if obj.IsDir || !obj.ModTime.Before(before) || !validID(strings.TrimPrefix(obj.Key, objectsPrefix)) {
			continue
		}
		candidates[obj.Key] = true
	}
	if len(candidates) == 0 {
		return nil
	}
	// First pass: drop what a record names (this pass alone proves
	// nothing, the session check must come before the listing that does).
	if err := s.dropRecorded(ctx, candidates); err != nil {
		return err
	}
	for key := range candidates {
		id := strings.TrimPrefix(key, objectsPrefix)
		_, err := s.meta.GetUpload(ctx, id)
		switch {
		case err == nil:
			delete(candidates, key) // the session is alive, or its own sweep will come
		case !errors.Is(err, metadata.ErrNotFound):
			return fmt.Errorf("storage: get upload %s: %w", id, err)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	if err := s.dropRecorded(ctx, candidates); err != nil {
		return err
	}
	deleted := 0
	for key := range candidates {
		if err := s.bucket.Delete(ctx, key); err != nil && !isNotFound(err) {
			return fmt.Errorf("storage: delete orphan object %s: %w", key, err)
		}
		deleted++
	}
	if deleted > 0 {
		s.opts.log.Info("swept committed objects no record names", "count", deleted)
	}
	return nil
}

// dropRecorded removes from keys every key that a blob record names.
func (s *Store) dropRecorded(ctx context.Context, keys map[string]bool) error {
	var after digest.Digest
	for len(keys) > 0 {
		page, more, err := s.meta.ListBlobs(ctx, after, sweepBatch*10)
		if err != nil {
			return fmt.Errorf("storage: list blob records: %w", err)
		}
		for _, b := range page {
			delete(keys, b.Key)
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Digest
	}
	return nil
}
