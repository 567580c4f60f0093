package boltmeta

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// PutManifest implements metadata.Manifests.
func (s *Store) PutManifest(ctx context.Context, repoName string, m metadata.Manifest, tags ...string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCatalog).Put([]byte(repoName), nil); err != nil {
			return err
		}
		r, err := repo(tx, repoName, true)
		if err != nil {
			return err
		}
		d := []byte(m.Digest)
		if r.manifests.Get(d) == nil {
			if m.Created.IsZero() {
				m.Created = s.nowTime()
			}
			if err := r.manifests.Put(d, record.EncodeManifest(m)); err != nil {
				return err
			}
			if err := addUsage(r, int64(len(m.Body))); err != nil {
				return err
			}
			if m.Subject != "" {
				if err := r.referrers.Put(pair(string(m.Subject), string(m.Digest)), record.EncodeDescriptor(m.Descriptor())); err != nil {
					return err
				}
			}
		}
		for _, tag := range tags {
			if old := r.tags.Get([]byte(tag)); old != nil {
				if bytes.Equal(old, d) {
					continue
				}
				if err := r.digestTags.Delete(pair(string(old), tag)); err != nil {
					return err
				}
			}
			if err := r.tags.Put([]byte(tag), d); err != nil {
				return err
			}
			if err := r.digestTags.Put(pair(string(m.Digest), tag), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltmeta: put manifest %s in %s: %w", m.Digest, repoName, err)
	}
	return nil
}

// GetManifest implements metadata.Manifests. A ref containing ":" is a
// digest; anything else is a tag.
func (s *Store) GetManifest(ctx context.Context, repoName, ref string) (metadata.Manifest, error) {
	var m metadata.Manifest
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return metadata.ErrNotFound
		}
		d := []byte(ref)
		if !strings.Contains(ref, ":") {
			if d = r.tags.Get(d); d == nil {
				return metadata.ErrNotFound
			}
		}
		v := r.manifests.Get(d)
		if v == nil {
			return metadata.ErrNotFound
		}
		var err error
		m, err = record.DecodeManifest(v)
		return err
	})
	if err != nil {
		return metadata.Manifest{}, fmt.Errorf("boltmeta: manifest %s in %s: %w", ref, repoName, err)
	}
	return m, nil
}

// DeleteManifest implements metadata.Manifests.
func (s *Store) DeleteManifest(ctx context.Context, repoName string, d digest.Digest) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return metadata.ErrNotFound
		}
		v := r.manifests.Get([]byte(d))
		if v == nil {
			return metadata.ErrNotFound
		}
		m, err := record.DecodeManifest(v)
		if err != nil {
			return err
		}
		if err := r.manifests.Delete([]byte(d)); err != nil {
			return err
		}
		if err := addUsage(r, -int64(len(m.Body))); err != nil {
			return err
		}
		prefix := pair(string(d), "")
		var keys [][]byte
		c := r.digestTags.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := r.tags.Delete(k[len(prefix):]); err != nil {
				return err
			}
			if err := r.digestTags.Delete(k); err != nil {
				return err
			}
		}
		if m.Subject != "" {
			return r.referrers.Delete(pair(string(m.Subject), string(d)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete manifest %s from %s: %w", d, repoName, err)
	}
	return nil
}

// DeleteTag implements metadata.Manifests.
func (s *Store) DeleteTag(ctx context.Context, repoName, tag string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return metadata.ErrNotFound
		}
		d := r.tags.Get([]byte(tag))
		if d == nil {
			return metadata.ErrNotFound
		}
		if err := r.digestTags.Delete(pair(string(d), tag)); err != nil {
			return err
		}
		return r.tags.Delete([]byte(tag))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete tag %s from %s: %w", tag, repoName, err)
	}
	return nil
}

// Tags implements metadata.Manifests.
func (s *Store) Tags(ctx context.Context, repoName, last string, n int) ([]string, bool, error) {
	var (
		tags []string
		more bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCatalog).Get([]byte(repoName)) == nil {
			return metadata.ErrNotFound
		}
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return metadata.ErrNotFound
		}
		tags, more = page(r.tags, last, n)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltmeta: tags of %s: %w", repoName, err)
	}
	return tags, more, nil
}

// Referrers implements metadata.Manifests.
func (s *Store) Referrers(ctx context.Context, repoName string, d digest.Digest) ([]v1.Descriptor, error) {
	out := []v1.Descriptor{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return nil
		}
		prefix := pair(string(d), "")
		c := r.referrers.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			desc, err := record.DecodeDescriptor(v)
			if err != nil {
				return err
			}
			out = append(out, desc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltmeta: referrers of %s in %s: %w", d, repoName, err)
	}
	return out, nil
}

// Repositories implements metadata.Manifests.
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	var (
		repos []string
		more  bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		repos, more = page(tx.Bucket(bucketCatalog), last, n)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltmeta: repositories: %w", err)
	}
	return repos, more, nil
}

// DeleteRepository implements metadata.Manifests: in one transaction, the
// repository's link index entries go, then its bucket and catalog entry.
func (s *Store) DeleteRepository(ctx context.Context, repoName string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		catalog := tx.Bucket(bucketCatalog)
		inCatalog := catalog.Get([]byte(repoName)) != nil
		r, _ := repo(tx, repoName, false)
		if !inCatalog && (!r.exists() || empty(r.links) && empty(r.manifests)) {
			return metadata.ErrNotFound
		}
		if r.exists() {
			idx := tx.Bucket(bucketBlobLinks)
			err := r.links.ForEach(func(d, _ []byte) error {
				return idx.Delete(pair(string(d), repoName))
			})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketRepos).DeleteBucket([]byte(repoName)); err != nil {
				return err
			}
		}
		return catalog.Delete([]byte(repoName))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete repository %s: %w", repoName, err)
	}
	return nil
}

// empty reports whether bucket b has no keys.
func empty(b *bolt.Bucket) bool {
	k, _ := b.Cursor().First()
	return k == nil
}
