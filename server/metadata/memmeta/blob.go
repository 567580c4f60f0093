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
	if _, ok := s.tombstones[b.Digest]; ok {
		return metadata.Blob{}, fmt.Errorf("memmeta: put blob %s: being deleted: %w", b.Digest, metadata.ErrConflict)
	}
	now := s.nowTime()
	if old, ok := s.blobs[b.Digest]; ok {
		old.Used = now
		s.blobs[b.Digest] = old
		return old, nil
	}
	b.Created = normTime(b.Created)
	if b.Created.IsZero() {
		b.Created = now
	}
	b.Used = now
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
	if _, ok := s.tombstones[b.Digest]; ok {
		return fmt.Errorf("memmeta: link blob %s into %s: being deleted: %w", b.Digest, repo, metadata.ErrConflict)
	}
	if g, ok := s.blobs[b.Digest]; ok {
		g.Used = s.nowTime()
		s.blobs[b.Digest] = g
	}
	b.Created, b.Used = normTime(b.Created), normTime(b.Used)
	r := s.repo(repo, true)
	if old, ok := r.links[b.Digest]; ok {
		r.usage -= old.Size
	}
	r.links[b.Digest] = b
	r.usage += b.Size
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
		if b, ok := r.links[d]; ok {
			delete(r.links, d)
			r.usage -= b.Size
			return nil
		}
	}
	return fmt.Errorf("memmeta: blob %s in %s: %w", d, repo, metadata.ErrNotFound)
}
