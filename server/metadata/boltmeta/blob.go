package boltmeta

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		blobs := tx.Bucket(bucketBlobs)
		if v := blobs.Get([]byte(b.Digest)); v != nil {
			old, err := record.DecodeBlob(v)
			b = old
			return err
		}
		if b.Created.IsZero() {
			b.Created = s.nowTime()
		}
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
		r, err := repo(tx, repoName, true)
		if err != nil {
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
		return r.links.Delete([]byte(d))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: unlink blob %s from %s: %w", d, repoName, err)
	}
	return nil
}
