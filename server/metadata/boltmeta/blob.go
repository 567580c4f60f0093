package boltmeta

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// The blobs bucket holds live records and pending ones (claimed, not
// committed: record.EncodePendingBlob); the tombstones bucket records
// being deleted.

// globalBlob reads the record of d from the blobs bucket: ErrNotFound when
// absent, errDeleting for a tombstone.
func globalBlob(tx *bolt.Tx, d digest.Digest) (b metadata.Blob, pending bool, err error) {
	if tx.Bucket(bucketTombstones).Get([]byte(d)) != nil {
		return metadata.Blob{}, false, errDeleting
	}
	v := tx.Bucket(bucketBlobs).Get([]byte(d))
	if v == nil {
		return metadata.Blob{}, false, metadata.ErrNotFound
	}
	return record.DecodeBlobState(v)
}

// putUsed refreshes the use of b (Used, Gen) and stores it.
func (s *Store) putUsed(tx *bolt.Tx, b metadata.Blob, pending bool) (metadata.Blob, error) {
	b.Used = s.nowTime()
	b.Gen++
	enc := record.EncodeBlob(b)
	if pending {
		enc = record.EncodePendingBlob(b)
	}
	b, _, err := record.DecodeBlobState(enc) // normalized as a later GetBlob returns it
	if err != nil {
		return metadata.Blob{}, err
	}
	return b, tx.Bucket(bucketBlobs).Put([]byte(b.Digest), enc)
}

// ClaimBlob implements metadata.Blobs.
func (s *Store) ClaimBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, bool, error) {
	live := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, pending, err := globalBlob(tx, b.Digest)
		switch {
		case err == nil:
			live = !pending
			b, err = s.putUsed(tx, old, pending)
			return err
		case errors.Is(err, metadata.ErrNotFound):
			b = metadata.Blob{Digest: b.Digest, Key: b.Key, Created: s.nowTime(), Inc: metadata.NewInc()}
			b, err = s.putUsed(tx, b, true)
			return err
		}
		return err
	})
	if err != nil {
		return metadata.Blob{}, false, fmt.Errorf("boltmeta: claim blob %s: %w", b.Digest, err)
	}
	return b, live, nil
}

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, pending, err := globalBlob(tx, b.Digest)
		switch {
		case errors.Is(err, metadata.ErrNotFound) && b.Inc == "":
			old, pending = metadata.Blob{Digest: b.Digest, Inc: metadata.NewInc(), Created: s.nowTime()}, true
		case errors.Is(err, metadata.ErrNotFound):
			return fmt.Errorf("claim lost: %w", metadata.ErrConflict)
		case err != nil:
			return err
		case b.Inc != "" && old.Inc != b.Inc:
			return fmt.Errorf("claim lost: %w", metadata.ErrConflict)
		}
		if pending {
			old.Size, old.Key = b.Size, b.Key
			if !b.Created.IsZero() {
				old.Created = b.Created
			}
		}
		b, err = s.putUsed(tx, old, false)
		return err
	})
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("boltmeta: put blob %s: %w", b.Digest, err)
	}
	return b, nil
}

// GetBlob implements metadata.Blobs.
func (s *Store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	var b metadata.Blob
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBlobs).Get([]byte(d))
		if v == nil {
			return metadata.ErrNotFound
		}
		var (
			pending bool
			err     error
		)
		if b, pending, err = record.DecodeBlobState(v); err == nil && pending {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("boltmeta: blob %s: %w", d, err)
	}
	return b, nil
}

// LinkBlob implements metadata.Blobs.
func (s *Store) LinkBlob(ctx context.Context, repoName string, b metadata.Blob) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if _, err := s.touch(tx, b.Digest); err != nil {
			return err
		}
		r, err := repo(tx, repoName, true)
		if err != nil {
			return err
		}
		if old := r.links.Get([]byte(b.Digest)); old != nil {
			ob, err := record.DecodeBlob(old)
			if err != nil {
				return err
			}
			if err := addUsage(r, -ob.Size); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketBlobLinks).Put(pair(string(b.Digest), repoName), nil); err != nil {
			return err
		}
		if err := addUsage(r, b.Size); err != nil {
			return err
		}
		b.Gen = 0
		return r.links.Put([]byte(b.Digest), record.EncodeBlob(b))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: link blob %s into %s: %w", b.Digest, repoName, err)
	}
	return nil
}

// RepoBlob implements metadata.Blobs.
func (s *Store) RepoBlob(ctx context.Context, repoName string, d digest.Digest) (metadata.Blob, error) {
	var b metadata.Blob
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return metadata.ErrNotFound
		}
		v := r.links.Get([]byte(d))
		if v == nil {
			return metadata.ErrNotFound
		}
		var err error
		b, err = record.DecodeBlob(v)
		return err
	})
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("boltmeta: blob %s in %s: %w", d, repoName, err)
	}
	return b, nil
}

// UnlinkBlob implements metadata.Blobs.
func (s *Store) UnlinkBlob(ctx context.Context, repoName string, d digest.Digest) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() || r.links.Get([]byte(d)) == nil {
			return metadata.ErrNotFound
		}
		return unlink(tx, r, repoName, d)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: unlink blob %s from %s: %w", d, repoName, err)
	}
	return nil
}
