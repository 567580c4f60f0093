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

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTombstones).Get([]byte(b.Digest)) != nil {
			return errDeleting
		}
		blobs := tx.Bucket(bucketBlobs)
		now := s.nowTime()
		if v := blobs.Get([]byte(b.Digest)); v != nil {
			old, err := record.DecodeBlob(v)
			if err != nil {
				return err
			}
			old.Used = now
			b = old
			return blobs.Put([]byte(b.Digest), record.EncodeBlob(b))
		}
		if b.Created.IsZero() {
			b.Created = now
		}
		b.Used = now
		enc := record.EncodeBlob(b)
		var err error
		b, err = record.DecodeBlob(enc) // normalized as a later GetBlob returns it
		if err != nil {
			return err
		}
		return blobs.Put([]byte(b.Digest), enc)
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
		var err error
		b, err = record.DecodeBlob(v)
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
		if _, err := s.touch(tx, b.Digest); err != nil && !errors.Is(err, metadata.ErrNotFound) {
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
