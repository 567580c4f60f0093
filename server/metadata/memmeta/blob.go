package memmeta

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.blobs[b.Digest]; ok {
		return old, nil
	}
	b.Created = normTime(b.Created)
	if b.Created.IsZero() {
		b.Created = s.nowTime()
	}
	s.blobs[b.Digest] = b
	return b, nil
}

// GetBlob implements metadata.Blobs.
func (s *Store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[d]
	if !ok {
		return metadata.Blob{}, fmt.Errorf("memmeta: blob %s: %w", d, metadata.ErrNotFound)
	}
	return b, nil
}

// LinkBlob implements metadata.Blobs.
func (s *Store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.Created = normTime(b.Created)
	s.repo(repo, true).links[b.Digest] = b
	return nil
}

// RepoBlob implements metadata.Blobs.
func (s *Store) RepoBlob(ctx context.Context, repo string, d digest.Digest) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(repo, false); r != nil {
		if b, ok := r.links[d]; ok {
			return b, nil
		}
	}
	return metadata.Blob{}, fmt.Errorf("memmeta: blob %s in %s: %w", d, repo, metadata.ErrNotFound)
}

// UnlinkBlob implements metadata.Blobs.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(repo, false); r != nil {
		if _, ok := r.links[d]; ok {
			delete(r.links, d)
			return nil
		}
	}
	return fmt.Errorf("memmeta: blob %s in %s: %w", d, repo, metadata.ErrNotFound)
}
