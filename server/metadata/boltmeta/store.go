// Package boltmeta is the embedded, durable metadata.Store for one machine,
// built on go.etcd.io/bbolt, so that `regkit serve` needs nothing else
// installed.
//
// Layout: top-level buckets "blobs" (digest → blob record), "catalog"
// (repository → empty, for the repositories PutManifest created),
// "uploads" (ID → session with its lease), "uploads-by-time" (Updated as
// 12 sortable bytes + ID → empty, for ExpiredUploads) and "repos", which
// holds one nested bucket per repository with the buckets "links"
// (digest → blob record), "manifests" (digest → manifest record), "tags"
// (tag → digest), "digest-tags" (digest NUL tag → empty, to find a
// manifest's tags) and "referrers" (subject NUL referrer → descriptor),
// plus the key "usage" (8 bytes, big-endian: the repository's usage).
//
// For garbage collection and quotas (gc.go): "blob-tombstones" (digest →
// blob record being deleted), "blob-links" (digest NUL repository →
// empty: where each blob is linked) and "leases" (name → lease record).
// Opening a database written before these existed builds the link index
// and the usage counters from the repositories' links and manifests.
//
// Every method runs in one bbolt transaction, so each is atomic.
package boltmeta

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/regkit/regkit/server/metadata"
)

var (
	bucketBlobs         = []byte("blobs")
	bucketCatalog       = []byte("catalog")
	bucketRepos         = []byte("repos")
	bucketUploads       = []byte("uploads")
	bucketUploadsByTime = []byte("uploads-by-time")

	bucketLinks      = []byte("links")
	bucketManifests  = []byte("manifests")
	bucketTags       = []byte("tags")
	bucketDigestTags = []byte("digest-tags")
	bucketReferrers  = []byte("referrers")
)

// DefaultTimeout is how long Open waits for the database file lock unless
// WithTimeout says otherwise.
const DefaultTimeout = time.Second

// Store is a metadata.Store in a bbolt database file. It is safe for
// concurrent use; writes are serialized by bbolt.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

var _ metadata.Store = (*Store)(nil)

type options struct {
	timeout time.Duration
	noSync  bool
}

// Option configures Open.
type Option func(*options)

// WithTimeout sets how long Open waits for the file lock that another
// process (or another Store in this process) holds; 0 means the default,
// DefaultTimeout. Open never waits forever.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithNoSync skips fsync after each commit. It is for tests only: a crash
// can lose or corrupt the database.
func WithNoSync() Option {
	return func(o *options) { o.noSync = true }
}

// Open opens or creates the database file at path. When another process
// holds the file, Open fails after the lock timeout (see WithTimeout) with
// an error saying so.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.timeout, NoSync: o.noSync})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltmeta: open %s: the database is locked by another process or store (waited %v): %w", path, o.timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltmeta: open %s: %w", path, err)
	}
	db.NoSync = o.noSync
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketBlobs, bucketCatalog, bucketRepos, bucketUploads, bucketUploadsByTime} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return createGCBuckets(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltmeta: open %s: create buckets: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close implements metadata.Store: it closes the database file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltmeta: close: %w", err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

func (s *Store) nowTime() time.Time { return time.Unix(0, s.now().UnixNano()).UTC() }

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// repoBuckets are the buckets of one repository.
type repoBuckets struct {
	root                                          *bolt.Bucket // holds the "usage" key
	links, manifests, tags, digestTags, referrers *bolt.Bucket
}

// repo returns the buckets of name, or ok=false when it has none (in a
// read-only transaction, or with create false).
func repo(tx *bolt.Tx, name string, create bool) (repoBuckets, error) {
	repos := tx.Bucket(bucketRepos)
	rb := repos.Bucket([]byte(name))
	if rb == nil {
		if !create {
			return repoBuckets{}, nil
		}
		var err error
		if rb, err = repos.CreateBucket([]byte(name)); err != nil {
			return repoBuckets{}, err
		}
		for _, sub := range [][]byte{bucketLinks, bucketManifests, bucketTags, bucketDigestTags, bucketReferrers} {
			if _, err := rb.CreateBucket(sub); err != nil {
				return repoBuckets{}, err
			}
		}
	}
	return repoBuckets{
		root:       rb,
		links:      rb.Bucket(bucketLinks),
		manifests:  rb.Bucket(bucketManifests),
		tags:       rb.Bucket(bucketTags),
		digestTags: rb.Bucket(bucketDigestTags),
		referrers:  rb.Bucket(bucketReferrers),
	}, nil
}

func (r repoBuckets) exists() bool { return r.manifests != nil }

// pair joins two keys with a NUL byte, which digests, tags and repository
// names never contain.
func pair(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// page lists the keys of b strictly after last, at most n (n < 0: all).
func page(b *bolt.Bucket, last string, n int) ([]string, bool) {
	out := []string{}
	c := b.Cursor()
	var k []byte
	if last == "" {
		k, _ = c.First()
	} else {
		k, _ = c.Seek([]byte(last))
		if k != nil && string(k) == last {
			k, _ = c.Next()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if n >= 0 && len(out) == n {
			return out, true
		}
		out = append(out, string(k))
	}
	return out, false
}
