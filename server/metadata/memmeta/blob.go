package memmeta

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// use refreshes the use of record b (Used, Gen) and returns it.
func (s *Store) use(b metadata.Blob) metadata.Blob {
	b.Used = s.nowTime()
	b.Gen++
	return b
}

// ClaimBlob implements metadata.Blobs.
func (s *Store) ClaimBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, bool, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := b.Digest
	if _, ok := s.tombstones[d]; ok {
		return metadata.Blob{}, false, fmt.Errorf("memmeta: claim blob %s: being deleted: %w", d, metadata.ErrConflict)
	}
	if old, ok := s.blobs[d]; ok {
		old = s.use(old)
		s.blobs[d] = old
		return old, true, nil
	}
	p, ok := s.pending[d]
	if !ok {
		p = metadata.Blob{Digest: d, Key: b.Key, Created: s.nowTime(), Inc: metadata.NewInc()}
	}
	p = s.use(p)
	s.pending[d] = p
	return p, false, nil
}

// PutBlob implements metadata.Blobs.
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := b.Digest
	if _, ok := s.tombstones[d]; ok {
		return metadata.Blob{}, fmt.Errorf("memmeta: put blob %s: being deleted: %w", d, metadata.ErrConflict)
	}
	if old, ok := s.blobs[d]; ok {
		if b.Inc != "" && old.Inc != b.Inc {
			return metadata.Blob{}, fmt.Errorf("memmeta: put blob %s: claim lost: %w", d, metadata.ErrConflict)
		}
		old = s.use(old)
		s.blobs[d] = old
		return old, nil
	}
	p, ok := s.pending[d]
	switch {
	case !ok && b.Inc == "":
		p = metadata.Blob{Digest: d, Inc: metadata.NewInc(), Created: s.nowTime()}
	case !ok || (b.Inc != "" && p.Inc != b.Inc):
		return metadata.Blob{}, fmt.Errorf("memmeta: put blob %s: claim lost: %w", d, metadata.ErrConflict)
	}
	delete(s.pending, d)
	p.Size, p.Key = b.Size, b.Key
	if c := normTime(b.Created); !c.IsZero() {
		p.Created = c
	}
	p = s.use(p)
	s.blobs[d] = p
	return p, nil
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

// touch refreshes the live record of d; errors as TouchBlob.
func (s *Store) touch(d digest.Digest) (metadata.Blob, error) {
	if _, ok := s.tombstones[d]; ok {
		return metadata.Blob{}, fmt.Errorf("blob %s being deleted: %w", d, metadata.ErrConflict)
	}
	b, ok := s.blobs[d]
	if !ok {
		return metadata.Blob{}, fmt.Errorf("blob %s: %w", d, metadata.ErrNotFound)
	}
	b = s.use(b)
	s.blobs[d] = b
	return b, nil
}

// LinkBlob implements metadata.Blobs.
func (s *Store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.touch(b.Digest); err != nil {
		return fmt.Errorf("memmeta: link into %s: %w", repo, err)
	}
	b.Created, b.Used, b.Gen = normTime(b.Created), normTime(b.Used), 0
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
