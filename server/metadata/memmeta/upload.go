package memmeta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

func cloneUpload(u metadata.Upload) metadata.Upload {
	if len(u.State) == 0 {
		u.State = nil
	} else {
		u.State = slices.Clone(u.State)
	}
	return u
}

// CreateUpload implements metadata.Uploads.
func (s *Store) CreateUpload(ctx context.Context, u metadata.Upload) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[u.ID]; ok {
		return fmt.Errorf("memmeta: upload %s: %w", u.ID, metadata.ErrExists)
	}
	u = cloneUpload(u)
	u.Epoch = 0
	u.Started, u.Updated = normTime(u.Started), normTime(u.Updated)
	if u.Started.IsZero() {
		u.Started = s.nowTime()
	}
	if u.Updated.IsZero() {
		u.Updated = u.Started
	}
	s.uploads[u.ID] = &upload{u: u}
	return nil
}

// GetUpload implements metadata.Uploads.
func (s *Store) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Upload{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	up, ok := s.uploads[id]
	if !ok {
		return metadata.Upload{}, fmt.Errorf("memmeta: upload %s: %w", id, metadata.ErrNotFound)
	}
	return cloneUpload(up.u), nil
}

// errEmptyToken is returned for a lease operation without a token.
var errEmptyToken = errors.New("memmeta: empty lease token")

// AcquireUpload implements metadata.Uploads.
func (s *Store) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Upload{}, err
	}
	if token == "" {
		return metadata.Upload{}, errEmptyToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	up, ok := s.uploads[id]
	if !ok {
		return metadata.Upload{}, fmt.Errorf("memmeta: upload %s: %w", id, metadata.ErrNotFound)
	}
	now := s.now()
	if up.token != "" && up.token != token && now.Before(up.leaseExp) {
		return cloneUpload(up.u), fmt.Errorf("memmeta: upload %s: leased by another writer: %w", id, metadata.ErrConflict)
	}
	if offset >= 0 && offset != up.u.Offset {
		return cloneUpload(up.u), fmt.Errorf("memmeta: upload %s: offset %d, want %d: %w", id, up.u.Offset, offset, metadata.ErrConflict)
	}
	if up.token != "" && up.token != token {
		up.u.Epoch++ // a takeover
	}
	up.token, up.leaseExp = token, now.Add(ttl)
	return cloneUpload(up.u), nil
}

// ReleaseUpload implements metadata.Uploads.
func (s *Store) ReleaseUpload(ctx context.Context, u metadata.Upload, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if token == "" {
		return errEmptyToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	up, ok := s.uploads[u.ID]
	if !ok {
		return fmt.Errorf("memmeta: upload %s: %w", u.ID, metadata.ErrNotFound)
	}
	if up.token != token {
		return fmt.Errorf("memmeta: upload %s: lease not held: %w", u.ID, metadata.ErrConflict)
	}
	up.u.Offset = u.Offset
	up.u.State = slices.Clone(u.State)
	if len(up.u.State) == 0 {
		up.u.State = nil
	}
	up.u.Updated = normTime(u.Updated)
	if up.u.Updated.IsZero() {
		up.u.Updated = s.nowTime()
	}
	up.token, up.leaseExp = "", time.Time{}
	return nil
}

// DeleteUpload implements metadata.Uploads.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(p.uploads, id) // the package side of the session goes with it
	if _, ok := s.uploads[id]; !ok {
		return fmt.Errorf("memmeta: upload %s: %w", id, metadata.ErrNotFound)
	}
	delete(s.uploads, id)
	return nil
}

// ExpiredUploads implements metadata.Uploads.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]metadata.Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []metadata.Upload{}
	for _, up := range s.uploads {
		if up.u.Updated.Before(before) {
			out = append(out, cloneUpload(up.u))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.Before(out[j].Updated)
		}
		return out[i].ID < out[j].ID
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}
