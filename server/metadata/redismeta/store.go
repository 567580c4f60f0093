// Package redismeta is the metadata.Store on Redis, through a go-redis
// UniversalClient: a standalone server, Sentinel or Cluster.
//
// # Key layout
//
// P is the key prefix (WithPrefix; default "regkit:"). Every key of one
// repository R shares the hash tag {P R}, so all of them live in one
// cluster slot and each multi-key update is one atomic Lua script even on
// a cluster:
//
//	{PR}:created           string "1": R was created by PutManifest
//	{PR}:manifests         hash   digest → manifest record (body included)
//	{PR}:tags              hash   tag → digest
//	{PR}:tagz              zset   tags, score 0, paginated with ZRANGEBYLEX
//	{PR}:digesttags        zset   "digest NUL tag", score 0: a manifest's tags
//	{PR}:referrers:<subj>  hash   referrer digest → descriptor record
//	{PR}:blobs             hash   digest → blob record (linked blobs)
//	{PR}:usage             string bytes of linked blobs and manifest
//	                              bodies, updated in the scripts that
//	                              change links and manifests
//
// Global keys (those of one digest D share the hash tag {D}):
//
//	Pblob:{D}              string blob record (its Used field unset)
//	Pblobused:{D}          string last use, Unix ns by Redis TIME
//	Pblobdel:{D}           string tombstone: the record being deleted
//	                              by garbage collection (renamed from
//	                              Pblob:{D}, atomically with the Used check)
//	Pbloblinks:{D}         set    repositories D is linked into (a
//	                              superset: added before linking)
//	Pblobs                 zset   digests with a record, score 0, for
//	                              ListBlobs (added after the record)
//	Prepos                 zset   every repository with links or
//	                              manifests, score 0 (added before linking)
//	Please:{name}          string lease token, with a PX expiry
//	Pcatalog               zset   repositories, score 0
//	Pupload:{<id>}         hash   id, repo, offset, state, started, updated,
//	                              lease, leaseexp (ms, Redis TIME)
//	Puploads               zset   "<sortable updated ns>:<id>", score 0,
//	                              the expiry index
//
// Records are binary (package internal/record), so manifest bodies are
// stored as they are. A manifest GET is one round trip (HGET by digest, or
// one EVALSHA resolving tag → digest → record); RepoBlob is one HGET.
//
// Keys in other slots are written after the atomic update, idempotently:
// the catalog after PutManifest, the expiry index around upload changes.
// The expiry index is written before a session is created and repaired by
// ExpiredUploads when a crash left it stale, so no session escapes expiry.
// Upload leases expire by the Redis server's clock (TIME), which all
// replicas share.
//
// Garbage collection (gc.go): Used times are set by TIME inside the
// scripts of the digest's slot. LinkBlob first runs a script there that
// fails on a tombstone, refreshes Used and adds the repository to
// Pbloblinks:{D}, then adds it to Prepos, and only then links in the
// repository's slot; so the link index is always a superset of the real
// links. DeleteBlobIfUnused renames the record to the tombstone with a
// compare-and-swap script in the digest's slot (which also reads the
// link index), then removes the links repository by repository; while the
// tombstone exists no script of the digest's slot will touch, put or
// link it. A link is never written without a successful script in the
// digest's slot first, so no link can appear after the tombstone.
package redismeta

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

// DefaultPrefix is the key prefix unless WithPrefix says otherwise.
const DefaultPrefix = "regkit:"

// Store is a metadata.Store on Redis. It is safe for concurrent use.
type Store struct {
	c      redis.UniversalClient
	prefix string
	owned  bool // Close closes c
}

var _ metadata.Store = (*Store)(nil)

type options struct {
	prefix string
}

// Option configures New and Open.
type Option func(*options)

// WithPrefix sets the prefix of every key, so that several stores (tests,
// tenants) can share one Redis. The default is DefaultPrefix. A prefix
// should not contain "{" or "}", which would change the keys' hash tags.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// New returns a store on c. The caller keeps ownership of c: Close does
// not close it.
//
// New adds a hook to c that marks the errors of a Redis that cannot serve
// requests (unreachable, timed out, loading, without a master, ...) with
// metadata.ErrUnavailable, so that every method's error matches it with
// errors.Is; adding it again for another store on the same client
// changes nothing.
func New(c redis.UniversalClient, opts ...Option) *Store {
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	c.AddHook(unavailableHook{})
	return &Store{c: c, prefix: o.prefix}
}

// Close implements metadata.Store. It closes the client if Open created
// it, and does nothing for a store from New.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redismeta: close: %w", err)
	}
	return nil
}

// Client returns the store's Redis client.
func (s *Store) Client() redis.UniversalClient { return s.c }

func (s *Store) repoKey(repo, suffix string) string {
	return "{" + s.prefix + repo + "}:" + suffix
}

type repoKeys struct {
	created, manifests, tags, tagz, digestTags, blobs, usage string
}

func (s *Store) repoKeys(repo string) repoKeys {
	return repoKeys{
		created:    s.repoKey(repo, "created"),
		manifests:  s.repoKey(repo, "manifests"),
		tags:       s.repoKey(repo, "tags"),
		tagz:       s.repoKey(repo, "tagz"),
		digestTags: s.repoKey(repo, "digesttags"),
		blobs:      s.repoKey(repo, "blobs"),
		usage:      s.repoKey(repo, "usage"),
	}
}

func (s *Store) referrersKey(repo, subject string) string {
	return s.repoKey(repo, "referrers:"+subject)
}

func (s *Store) blobKey(d string) string    { return s.prefix + "blob:{" + d + "}" }
func (s *Store) catalogKey() string         { return s.prefix + "catalog" }
func (s *Store) uploadKey(id string) string { return s.prefix + "upload:{" + id + "}" }
func (s *Store) uploadIndexKey() string     { return s.prefix + "uploads" }

// lexMin is the ZRANGEBYLEX lower bound for "strictly after last".
func lexMin(last string) string {
	if last == "" {
		return "-"
	}
	return "(" + last
}

// page runs ZRANGEBYLEX key (last + LIMIT 0 n+1 and splits off "more".
func (s *Store) page(ctx context.Context, key, last string, n int) ([]string, bool, error) {
	by := &redis.ZRangeBy{Min: lexMin(last), Max: "+"}
	if n >= 0 {
		by.Count = int64(n) + 1
	}
	names, err := s.c.ZRangeByLex(ctx, key, by).Result()
	if err != nil {
		return nil, false, err
	}
	return trim(names, n)
}

func trim(names []string, n int) ([]string, bool, error) {
	if names == nil {
		names = []string{}
	}
	if n >= 0 && len(names) > n {
		return names[:n], true, nil
	}
	return names, false, nil
}

func redisZ(member string) redis.Z { return redis.Z{Member: member} }
