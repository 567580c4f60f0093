package memmeta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// defaultRefsPage is the page size of ManifestReferences when n <= 0.
const defaultRefsPage = 100

type lease struct {
	token   string
	expires time.Time
}

// Now implements metadata.GC.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	return s.nowTime(), nil
}

// TouchBlob implements metadata.GC.
func (s *Store) TouchBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.touch(d)
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("memmeta: touch: %w", err)
	}
	return b, nil
}

// ListBlobs implements metadata.GC.
func (s *Store) ListBlobs(ctx context.Context, after digest.Digest, n int) ([]metadata.BlobInfo, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.blobs)+len(s.pending)+len(s.tombstones))
	for _, m := range []map[digest.Digest]metadata.Blob{s.blobs, s.pending, s.tombstones} {
		for d := range m {
			names = append(names, string(d))
		}
	}
	names, more := page(names, string(after), n)
	out := make([]metadata.BlobInfo, 0, len(names))
	for _, name := range names {
		d := digest.Digest(name)
		if b, ok := s.tombstones[d]; ok {
			out = append(out, metadata.BlobInfo{Blob: b, Deleting: true})
		} else if b, ok := s.pending[d]; ok {
			out = append(out, metadata.BlobInfo{Blob: b, Pending: true})
		} else {
			out = append(out, metadata.BlobInfo{Blob: s.blobs[d]})
		}
	}
	return out, more, nil
}

// DeleteBlobIfUnused implements metadata.GC in one critical section.
func (s *Store) DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (metadata.Blob, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.tombstones[d]
	if !ok {
		from := s.blobs
		if b, ok = s.blobs[d]; !ok {
			if b, ok = s.pending[d]; !ok {
				return metadata.Blob{}, fmt.Errorf("memmeta: delete blob %s: %w", d, metadata.ErrNotFound)
			}
			from = s.pending
		}
		if b.Gen != gen || !b.LastUsed().Before(usedBefore) {
			return b, fmt.Errorf("memmeta: delete blob %s: used since (gen %d, at %v): %w", d, b.Gen, b.LastUsed(), metadata.ErrConflict)
		}
		delete(from, d)
		s.tombstones[d] = b
	}
	for _, r := range s.repos {
		if l, ok := r.links[d]; ok {
			delete(r.links, d)
			r.usage -= l.Size
		}
	}
	return b, nil
}

// PurgeBlob implements metadata.GC.
func (s *Store) PurgeBlob(ctx context.Context, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tombstones[d]; !ok {
		return fmt.Errorf("memmeta: purge blob %s: %w", d, metadata.ErrNotFound)
	}
	delete(s.tombstones, d)
	return nil
}

// ManifestReferences implements metadata.GC. The cursor is the last
// manifest digest of the previous page.
func (s *Store) ManifestReferences(ctx context.Context, repo, cursor string, n int) ([]digest.Digest, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if n <= 0 {
		n = defaultRefsPage
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo, false)
	if r == nil {
		return nil, "", nil
	}
	names := make([]string, 0, len(r.manifests))
	for d := range r.manifests {
		names = append(names, string(d))
	}
	names, more := page(names, cursor, n)
	var refs []digest.Digest
	for _, name := range names {
		m := r.manifests[digest.Digest(name)]
		refs = append(refs, m.References...)
		if m.Subject != "" {
			refs = append(refs, m.Subject)
		}
	}
	next := ""
	if more {
		next = names[len(names)-1]
	}
	return refs, next, nil
}

// AllRepositories implements metadata.GC.
func (s *Store) AllRepositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repos, more := page(slices.Collect(maps.Keys(s.repos)), last, n)
	return repos, more, nil
}

// AcquireLease implements metadata.Leases.
func (s *Store) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if token == "" {
		return false, errors.New("memmeta: acquire lease " + name + ": empty token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.leases[name]; ok && l.token != token && now.Before(l.expires) {
		return false, nil
	}
	s.leases[name] = lease{token: token, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements metadata.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.token == token {
		delete(s.leases, name)
	}
	return nil
}

// RepoUsage implements metadata.Usage.
func (s *Store) RepoUsage(ctx context.Context, repo string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(repo, false); r != nil {
		return r.usage, nil
	}
	return 0, nil
}

// NamespaceUsage implements metadata.Usage: the repositories' counters
// plus the package usage of owner ns.
func (s *Store) NamespaceUsage(ctx context.Context, ns string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	total := p.ownerUsage(ns)
	for name, r := range s.repos {
		if name == ns || strings.HasPrefix(name, ns+"/") {
			total += r.usage
		}
	}
	return total, nil
}
