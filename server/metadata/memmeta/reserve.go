package memmeta

import (
	"context"
	"maps"

	"github.com/regkit/regkit/server/metadata"
)

var _ metadata.Reservations = (*Store)(nil)

// Reserve implements metadata.Reservations.
func (s *Store) Reserve(ctx context.Context, ns, holder string, n, base, limit int64, maxHolders int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.reserved[ns]
	cur, ok := hs[holder]
	if !ok && maxHolders > 0 && len(hs) >= maxHolders {
		return &metadata.LimitError{Holders: true, Count: len(hs)}
	}
	var sum int64
	for _, v := range hs {
		sum += v
	}
	if n > cur && limit > 0 && base+sum-cur+n > limit {
		return &metadata.LimitError{Count: len(hs), Reserved: sum}
	}
	if hs == nil {
		hs = map[string]int64{}
		s.reserved[ns] = hs
	}
	hs[holder] = max(cur, n)
	return nil
}

// Release implements metadata.Reservations.
func (s *Store) Release(ctx context.Context, ns, holder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reserved[ns], holder)
	if len(s.reserved[ns]) == 0 {
		delete(s.reserved, ns)
	}
	return nil
}

// Holders implements metadata.Reservations.
func (s *Store) Holders(ctx context.Context, ns string) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.reserved[ns])
	if out == nil {
		out = map[string]int64{}
	}
	return out, nil
}
