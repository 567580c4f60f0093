package memmeta

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata"
)

func cloneManifest(m metadata.Manifest) metadata.Manifest {
	m.Body = slices.Clone(m.Body)
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	} else {
		m.Annotations = maps.Clone(m.Annotations)
	}
	if len(m.References) == 0 {
		m.References = nil
	} else {
		m.References = slices.Clone(m.References)
	}
	return m
}

// PutManifest implements metadata.Manifests.
func (s *Store) PutManifest(ctx context.Context, repo string, m metadata.Manifest, tags ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo, true)
	r.created = true
	if _, ok := r.manifests[m.Digest]; !ok {
		m = cloneManifest(m)
		m.Created = normTime(m.Created)
		if m.Created.IsZero() {
			m.Created = s.nowTime()
		}
		r.manifests[m.Digest] = m
		r.usage += int64(len(m.Body))
		if m.Subject != "" {
			refs := r.referrers[m.Subject]
			if refs == nil {
				refs = map[digest.Digest]v1.Descriptor{}
				r.referrers[m.Subject] = refs
			}
			refs[m.Digest] = m.Descriptor()
		}
	}
	for _, t := range tags {
		r.tags[t] = m.Digest
	}
	return nil
}

// GetManifest implements metadata.Manifests. A ref containing ":" is a
// digest; anything else is a tag.
func (s *Store) GetManifest(ctx context.Context, repo, ref string) (metadata.Manifest, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Manifest{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	notFound := fmt.Errorf("memmeta: manifest %s in %s: %w", ref, repo, metadata.ErrNotFound)
	r := s.repo(repo, false)
	if r == nil {
		return metadata.Manifest{}, notFound
	}
	d := digest.Digest(ref)
	if !strings.Contains(ref, ":") {
		var ok bool
		if d, ok = r.tags[ref]; !ok {
			return metadata.Manifest{}, notFound
		}
	}
	m, ok := r.manifests[d]
	if !ok {
		return metadata.Manifest{}, notFound
	}
	return cloneManifest(m), nil
}

// DeleteManifest implements metadata.Manifests.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo, false)
	var m metadata.Manifest
	ok := false
	if r != nil {
		m, ok = r.manifests[d]
	}
	if !ok {
		return fmt.Errorf("memmeta: manifest %s in %s: %w", d, repo, metadata.ErrNotFound)
	}
	delete(r.manifests, d)
	r.usage -= int64(len(m.Body))
	for t, td := range r.tags {
		if td == d {
			delete(r.tags, t)
		}
	}
	if m.Subject != "" {
		if refs := r.referrers[m.Subject]; refs != nil {
			delete(refs, d)
			if len(refs) == 0 {
				delete(r.referrers, m.Subject)
			}
		}
	}
	return nil
}

// DeleteTag implements metadata.Manifests.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(repo, false); r != nil {
		if _, ok := r.tags[tag]; ok {
			delete(r.tags, tag)
			return nil
		}
	}
	return fmt.Errorf("memmeta: tag %s in %s: %w", tag, repo, metadata.ErrNotFound)
}

// page returns the sorted names strictly after last, at most n (n < 0: all).
func page(names []string, last string, n int) ([]string, bool) {
	sort.Strings(names)
	if last != "" {
		i := sort.SearchStrings(names, last)
		if i < len(names) && names[i] == last {
			i++
		}
		names = names[i:]
	}
	if n >= 0 && len(names) > n {
		return append([]string{}, names[:n]...), true
	}
	return append([]string{}, names...), false
}

// Tags implements metadata.Manifests.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo, false)
	if r == nil || !r.created {
		return nil, false, fmt.Errorf("memmeta: repository %s: %w", repo, metadata.ErrNotFound)
	}
	tags, more := page(slices.Collect(maps.Keys(r.tags)), last, n)
	return tags, more, nil
}

// Referrers implements metadata.Manifests.
func (s *Store) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []v1.Descriptor{}
	r := s.repo(repo, false)
	if r == nil {
		return out, nil
	}
	for _, desc := range r.referrers[d] {
		desc.Annotations = maps.Clone(desc.Annotations)
		out = append(out, desc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// Repositories implements metadata.Manifests.
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, r := range s.repos {
		if r.created {
			names = append(names, name)
		}
	}
	repos, more := page(names, last, n)
	return repos, more, nil
}

// DeleteRepository implements metadata.Manifests.
func (s *Store) DeleteRepository(ctx context.Context, repo string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repo(repo, false); r == nil || !r.created && len(r.links) == 0 && len(r.manifests) == 0 {
		return fmt.Errorf("memmeta: repository %s: %w", repo, metadata.ErrNotFound)
	}
	delete(s.repos, repo)
	return nil
}
