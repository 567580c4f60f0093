// Package memmeta is an in-memory metadata.Store for unit tests. It keeps
// everything in maps behind one mutex and loses it all on Close.
package memmeta

import (
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata"
)

// Store is an in-memory metadata.Store. It is safe for concurrent use.
// The zero value is not usable; call New.
type Store struct {
	mu         sync.Mutex
	blobs      map[digest.Digest]metadata.Blob
	pending    map[digest.Digest]metadata.Blob // claimed, not committed yet
	tombstones map[digest.Digest]metadata.Blob // records being deleted by GC
	repos      map[string]*repo
	uploads    map[string]*upload
	leases     map[string]lease
	reserved   map[string]map[string]int64 // namespace → holder → bytes
	now        func() time.Time
}

type repo struct {
	links     map[digest.Digest]metadata.Blob
	manifests map[digest.Digest]metadata.Manifest
	tags      map[string]digest.Digest
	created   bool                                              // a manifest was put: listed in the catalog
	referrers map[digest.Digest]map[digest.Digest]v1.Descriptor // subject → referrer → descriptor
	usage     int64                                             // bytes of linked blobs and manifest bodies
}

type upload struct {
	u        metadata.Upload
	token    string
	leaseExp time.Time
}

var _ metadata.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		blobs:      map[digest.Digest]metadata.Blob{},
		pending:    map[digest.Digest]metadata.Blob{},
		tombstones: map[digest.Digest]metadata.Blob{},
		repos:      map[string]*repo{},
		uploads:    map[string]*upload{},
		leases:     map[string]lease{},
		reserved:   map[string]map[string]int64{},
		now:        time.Now,
	}
}

// Close implements metadata.Store. It drops all data.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs = map[digest.Digest]metadata.Blob{}
	s.pending = map[digest.Digest]metadata.Blob{}
	s.tombstones = map[digest.Digest]metadata.Blob{}
	s.repos = map[string]*repo{}
	s.uploads = map[string]*upload{}
	s.leases = map[string]lease{}
	s.reserved = map[string]map[string]int64{}
	return nil
}

// normTime strips the monotonic reading and location so that values read
// back compare like those of the durable stores.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func (s *Store) nowTime() time.Time { return normTime(s.now()) }

func (s *Store) repo(name string, create bool) *repo {
	r := s.repos[name]
	if r == nil && create {
		r = &repo{
			links:     map[digest.Digest]metadata.Blob{},
			manifests: map[digest.Digest]metadata.Manifest{},
			tags:      map[string]digest.Digest{},
			referrers: map[digest.Digest]map[digest.Digest]v1.Descriptor{},
		}
		s.repos[name] = r
	}
	return r
}
