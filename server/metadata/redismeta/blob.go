package redismeta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// notFound turns redis.Nil into metadata.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return metadata.ErrNotFound
	}
	return err
}

func nowUTC() time.Time { return time.Unix(0, time.Now().UnixNano()).UTC() }

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if b.Created.IsZero() {
		b.Created = nowUTC()
	}
	v, err := putBlobScript.Run(ctx, s.c, []string{s.blobKey(string(b.Digest))}, record.EncodeBlob(b)).Text()
	if err == nil {
		b, err = record.DecodeBlob([]byte(v))
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: put blob %s: %w", b.Digest, err)
	}
	return b, nil
}

// GetBlob implements metadata.Blobs.
func (s *Store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	v, err := s.c.Get(ctx, s.blobKey(string(d))).Bytes()
	var b metadata.Blob
	if err == nil {
		b, err = record.DecodeBlob(v)
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: blob %s: %w", d, notFound(err))
	}
	return b, nil
}

// LinkBlob implements metadata.Blobs.
func (s *Store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	if err := s.c.HSet(ctx, s.repoKey(repo, "blobs"), string(b.Digest), record.EncodeBlob(b)).Err(); err != nil {
		return fmt.Errorf("redismeta: link blob %s into %s: %w", b.Digest, repo, err)
	}
	return nil
}

// RepoBlob implements metadata.Blobs.
func (s *Store) RepoBlob(ctx context.Context, repo string, d digest.Digest) (metadata.Blob, error) {
	v, err := s.c.HGet(ctx, s.repoKey(repo, "blobs"), string(d)).Bytes()
	var b metadata.Blob
	if err == nil {
		b, err = record.DecodeBlob(v)
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: blob %s in %s: %w", d, repo, notFound(err))
	}
	return b, nil
}

// UnlinkBlob implements metadata.Blobs.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	n, err := s.c.HDel(ctx, s.repoKey(repo, "blobs"), string(d)).Result()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: unlink blob %s from %s: %w", d, repo, err)
	}
	return nil
}
