package boltmeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

var (
	bucketTombstones = []byte("blob-tombstones")
	bucketBlobLinks  = []byte("blob-links")
	bucketLeases     = []byte("leases")

	keyUsage = []byte("usage")
)

// defaultRefsPage is the page size of ManifestReferences when n <= 0.
const defaultRefsPage = 100

// errDeleting is returned for a write to a blob that garbage collection
// is deleting.
var errDeleting = fmt.Errorf("being deleted: %w", metadata.ErrConflict)

// createGCBuckets creates the buckets of gc.go. When the link index is
// new (a database from before it existed), it is built from the
// repositories' links, and their usage counters are computed.
func createGCBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketTombstones, bucketLeases} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	idx, err := tx.CreateBucket(bucketBlobLinks)
	if errors.Is(err, berrors.ErrBucketExists) {
		return nil
	}
	if err != nil {
		return err
	}
	repos := tx.Bucket(bucketRepos)
	return repos.ForEachBucket(func(name []byte) error {
		r, err := repo(tx, string(name), false)
		if err != nil || !r.exists() {
			return err
		}
		var usage int64
		err = r.links.ForEach(func(k, v []byte) error {
			b, err := record.DecodeBlob(v)
			if err != nil {
				return err
			}
			usage += b.Size
			return idx.Put(pair(string(k), string(name)), nil)
		})
		if err != nil {
			return err
		}
		err = r.manifests.ForEach(func(_, v []byte) error {
			m, err := record.DecodeManifest(v)
			usage += int64(len(m.Body))
			return err
		})
		if err != nil {
			return err
		}
		return putUsage(r, usage)
	})
}

func getUsage(r repoBuckets) int64 {
	if v := r.root.Get(keyUsage); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func putUsage(r repoBuckets, n int64) error {
	return r.root.Put(keyUsage, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// addUsage adds delta to the usage of r.
func addUsage(r repoBuckets, delta int64) error {
	if delta == 0 {
		return nil
	}
	return putUsage(r, getUsage(r)+delta)
}

// unlink removes the link of d from repository r named name, with its
// index entry and usage.
func unlink(tx *bolt.Tx, r repoBuckets, name string, d digest.Digest) error {
	v := r.links.Get([]byte(d))
	if v == nil {
		return nil
	}
	b, err := record.DecodeBlob(v)
	if err != nil {
		return err
	}
	if err := addUsage(r, -b.Size); err != nil {
		return err
	}
	if err := tx.Bucket(bucketBlobLinks).Delete(pair(string(d), name)); err != nil {
		return err
	}
	return r.links.Delete([]byte(d))
}

// touch refreshes the use of d's live global record: errDeleting for a
// tombstone, ErrNotFound without a live record.
func (s *Store) touch(tx *bolt.Tx, d digest.Digest) (metadata.Blob, error) {
	b, pending, err := globalBlob(tx, d)
	if err == nil && pending {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return metadata.Blob{}, err
	}
	return s.putUsed(tx, b, false)
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
	var b metadata.Blob
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		b, err = s.touch(tx, d)
		return err
	})
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("boltmeta: touch blob %s: %w", d, err)
	}
	return b, nil
}

// ListBlobs implements metadata.GC: it merges the blobs and tombstones
// buckets in key order.
func (s *Store) ListBlobs(ctx context.Context, after digest.Digest, n int) ([]metadata.BlobInfo, bool, error) {
	out := []metadata.BlobInfo{}
	more := false
	err := s.view(ctx, func(tx *bolt.Tx) error {
		live := seekAfter(tx.Bucket(bucketBlobs).Cursor(), string(after))
		dead := seekAfter(tx.Bucket(bucketTombstones).Cursor(), string(after))
		for live.k != nil || dead.k != nil {
			if n >= 0 && len(out) == n {
				more = true
				return nil
			}
			cur, deleting := &live, false
			if live.k == nil || (dead.k != nil && bytes.Compare(dead.k, live.k) < 0) {
				cur, deleting = &dead, true
			}
			b, pending, err := record.DecodeBlobState(cur.v)
			if err != nil {
				return err
			}
			out = append(out, metadata.BlobInfo{Blob: b, Deleting: deleting, Pending: pending})
			cur.k, cur.v = cur.c.Next()
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltmeta: list blobs: %w", err)
	}
	return out, more, nil
}

type cursorAt struct {
	c    *bolt.Cursor
	k, v []byte
}

// seekAfter positions c at the first key strictly after last.
func seekAfter(c *bolt.Cursor, last string) cursorAt {
	var k, v []byte
	if last == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek([]byte(last))
		if k != nil && string(k) == last {
			k, v = c.Next()
		}
	}
	return cursorAt{c: c, k: k, v: v}
}

// DeleteBlobIfUnused implements metadata.GC in one transaction: the
// tombstone and the removal of every link commit together.
func (s *Store) DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (metadata.Blob, error) {
	var b metadata.Blob
	err := s.update(ctx, func(tx *bolt.Tx) error {
		tombs := tx.Bucket(bucketTombstones)
		v := tombs.Get([]byte(d))
		if v == nil {
			blobs := tx.Bucket(bucketBlobs)
			if v = blobs.Get([]byte(d)); v == nil {
				return metadata.ErrNotFound
			}
			var err error
			if b, err = record.DecodeBlob(v); err != nil {
				return err
			}
			if b.Gen != gen || !b.LastUsed().Before(usedBefore) {
				return fmt.Errorf("used since (gen %d, at %v): %w", b.Gen, b.LastUsed(), metadata.ErrConflict)
			}
			if err := tombs.Put([]byte(d), v); err != nil {
				return err
			}
			if err := blobs.Delete([]byte(d)); err != nil {
				return err
			}
		} else {
			var err error
			if b, err = record.DecodeBlob(v); err != nil {
				return err
			}
		}
		prefix := pair(string(d), "")
		var repos []string
		c := tx.Bucket(bucketBlobLinks).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			repos = append(repos, string(k[len(prefix):]))
		}
		for _, name := range repos {
			r, err := repo(tx, name, false)
			if err != nil {
				return err
			}
			if !r.exists() {
				if err := tx.Bucket(bucketBlobLinks).Delete(pair(string(d), name)); err != nil {
					return err
				}
				continue
			}
			if err := unlink(tx, r, name, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("boltmeta: delete blob %s: %w", d, err)
	}
	return b, nil
}

// PurgeBlob implements metadata.GC.
func (s *Store) PurgeBlob(ctx context.Context, d digest.Digest) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		tombs := tx.Bucket(bucketTombstones)
		if tombs.Get([]byte(d)) == nil {
			return metadata.ErrNotFound
		}
		return tombs.Delete([]byte(d))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: purge blob %s: %w", d, err)
	}
	return nil
}

// ManifestReferences implements metadata.GC. The cursor is the last
// manifest digest of the previous page.
func (s *Store) ManifestReferences(ctx context.Context, repoName, cursor string, n int) ([]digest.Digest, string, error) {
	if n <= 0 {
		n = defaultRefsPage
	}
	var (
		refs []digest.Digest
		next string
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, _ := repo(tx, repoName, false)
		if !r.exists() {
			return nil
		}
		at := seekAfter(r.manifests.Cursor(), cursor)
		for i := 0; at.k != nil; i++ {
			if i == n {
				return nil
			}
			m, err := record.DecodeManifest(at.v)
			if err != nil {
				return err
			}
			refs = append(refs, m.References...)
			if m.Subject != "" {
				refs = append(refs, m.Subject)
			}
			next = string(at.k)
			at.k, at.v = at.c.Next()
		}
		next = ""
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("boltmeta: manifest references of %s: %w", repoName, err)
	}
	return refs, next, nil
}

// AllRepositories implements metadata.GC: every repository bucket.
func (s *Store) AllRepositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	var (
		repos []string
		more  bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		repos, more = page(tx.Bucket(bucketRepos), last, n)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltmeta: all repositories: %w", err)
	}
	return repos, more, nil
}

// AcquireLease implements metadata.Leases.
func (s *Store) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	if token == "" {
		return false, fmt.Errorf("boltmeta: acquire lease %s: empty token", name)
	}
	ok := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		leases := tx.Bucket(bucketLeases)
		now := s.nowTime()
		if v := leases.Get([]byte(name)); v != nil {
			l, err := record.DecodeLease(v)
			if err != nil {
				return err
			}
			if l.Token != token && now.Before(l.Expires) {
				return nil
			}
		}
		ok = true
		return leases.Put([]byte(name), record.EncodeLease(record.Lease{Token: token, Expires: now.Add(ttl)}))
	})
	if err != nil {
		return false, fmt.Errorf("boltmeta: acquire lease %s: %w", name, err)
	}
	return ok, nil
}

// ReleaseLease implements metadata.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, token string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		leases := tx.Bucket(bucketLeases)
		v := leases.Get([]byte(name))
		if v == nil {
			return nil
		}
		l, err := record.DecodeLease(v)
		if err != nil {
			return err
		}
		if l.Token != token {
			return nil
		}
		return leases.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: release lease %s: %w", name, err)
	}
	return nil
}

// RepoUsage implements metadata.Usage.
func (s *Store) RepoUsage(ctx context.Context, repoName string) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if r, _ := repo(tx, repoName, false); r.exists() {
			n = getUsage(r)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltmeta: usage of %s: %w", repoName, err)
	}
	return n, nil
}

// NamespaceUsage implements metadata.Usage: the repository ns, the key
// range ns/… of the repos bucket and the package usage of owner ns, in one
// read transaction.
func (s *Store) NamespaceUsage(ctx context.Context, ns string) (int64, error) {
	var total int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		total = ownerUsage(tx, ns)
		if r, _ := repo(tx, ns, false); r.exists() {
			total += getUsage(r)
		}
		prefix := []byte(ns + "/")
		repos := tx.Bucket(bucketRepos)
		c := repos.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if r, _ := repo(tx, string(k), false); r.exists() {
				total += getUsage(r)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltmeta: usage of namespace %s: %w", ns, err)
	}
	return total, nil
}
