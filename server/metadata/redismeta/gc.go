package redismeta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// defaultRefsPage is the HSCAN COUNT of ManifestReferences when n <= 0.
const defaultRefsPage = 100

// errDeleting is returned for a write to a blob that garbage collection
// is deleting.
var errDeleting = fmt.Errorf("being deleted: %w", metadata.ErrConflict)

func (s *Store) blobUsedKey(d string) string  { return s.prefix + "blobused:{" + d + "}" }
func (s *Store) blobDelKey(d string) string   { return s.prefix + "blobdel:{" + d + "}" }
func (s *Store) blobLinksKey(d string) string { return s.prefix + "bloblinks:{" + d + "}" }
func (s *Store) blobIndexKey() string         { return s.prefix + "blobs" }
func (s *Store) reposKey() string             { return s.prefix + "repos" }
func (s *Store) leaseKey(name string) string  { return s.prefix + "lease:{" + name + "}" }

// Now implements metadata.GC: the Redis server's TIME.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	t, err := s.c.Time(ctx).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("redismeta: time: %w", err)
	}
	return t.UTC(), nil
}

// TouchBlob implements metadata.GC in one script.
func (s *Store) TouchBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	b, err := s.touchBlob(ctx, d, "")
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: touch blob %s: %w", d, err)
	}
	return b, nil
}

// ListBlobs implements metadata.GC: a page of the digest index, then one
// pipeline reading record, Used and tombstone of each digest. Index
// entries without a record or tombstone are skipped.
func (s *Store) ListBlobs(ctx context.Context, after digest.Digest, n int) ([]metadata.BlobInfo, bool, error) {
	ds, more, err := s.page(ctx, s.blobIndexKey(), string(after), n)
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: list blobs: %w", err)
	}
	out := make([]metadata.BlobInfo, 0, len(ds))
	if len(ds) == 0 {
		return out, more, nil
	}
	cmds := make([]*redis.SliceCmd, len(ds))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range ds {
			cmds[i] = p.MGet(ctx, s.blobKey(d), s.blobUsedKey(d), s.blobDelKey(d), s.blobPendKey(d))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: list blobs: %w", err)
	}
	for i, d := range ds {
		vals := cmds[i].Val()
		live, okLive := vals[0].(string)
		used, _ := vals[1].(string)
		dead, okDead := vals[2].(string)
		pend, okPend := vals[3].(string)
		var info metadata.BlobInfo
		switch {
		case okDead:
			info.Deleting = true
			info.Blob, err = record.DecodeBlob([]byte(dead))
		case okLive:
			info.Blob, err = decodeBlob(live, used)
		case okPend:
			info.Pending = true
			info.Blob, err = decodeBlob(pend, used)
		default:
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("redismeta: list blobs: %s: %w", d, err)
		}
		out = append(out, info)
	}
	return out, more, nil
}

// DeleteBlobIfUnused implements metadata.GC. It reads the record and its
// use value, checks them against gen and usedBefore, and turns the record
// into a tombstone with a script that succeeds only if the use value did
// not change in between (every use changes it). The same script returns
// the repositories of the blob's link index, which sits in the blob's
// slot and is written before any link; the links are then removed one
// repository at a time, each with its usage, in the repository's slot.
// Only then does the caller delete the bytes.
func (s *Store) DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (metadata.Blob, error) {
	b, repos, err := s.tombstone(ctx, d, usedBefore, gen)
	if err != nil {
		return b, fmt.Errorf("redismeta: delete blob %s: %w", d, err)
	}
	for _, repo := range repos {
		k := s.repoKeys(repo)
		if err := unlinkScript.Run(ctx, s.c, []string{k.blobs, k.usage}, string(d)).Err(); err != nil {
			return b, fmt.Errorf("redismeta: delete blob %s: unlink from %s: %w", d, repo, err)
		}
	}
	return b, nil
}

// tombstone turns d's record into a tombstone if its Gen is gen and it
// was last used before usedBefore, and returns it with the repositories
// d is linked into.
func (s *Store) tombstone(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (metadata.Blob, []string, error) {
	k := string(d)
	keys := []string{s.blobKey(k), s.blobUsedKey(k), s.blobDelKey(k), s.blobLinksKey(k), s.blobPendKey(k)}
	vals, err := s.c.MGet(ctx, keys[0], keys[1], keys[2], keys[4]).Result()
	if err != nil {
		return metadata.Blob{}, nil, err
	}
	live, okLive := vals[0].(string)
	used, _ := vals[1].(string)
	_, okDead := vals[2].(string)
	pend, okPend := vals[3].(string)
	if !okLive {
		live, okLive = pend, okPend
	}
	if okLive && !okDead {
		b, err := decodeBlob(live, used)
		if err != nil {
			return metadata.Blob{}, nil, err
		}
		if b.Gen != gen || !b.LastUsed().Before(usedBefore) {
			return b, nil, fmt.Errorf("used since (gen %d, at %v): %w", b.Gen, b.LastUsed(), metadata.ErrConflict)
		}
	}
	reply, err := tombstoneScript.Run(ctx, s.c, keys, used).StringSlice()
	if err != nil {
		return metadata.Blob{}, nil, err
	}
	switch reply[0] {
	case "notfound":
		return metadata.Blob{}, nil, metadata.ErrNotFound
	case "changed":
		return metadata.Blob{}, nil, fmt.Errorf("used while being checked: %w", metadata.ErrConflict)
	case "ok", "deleting":
		b, err := record.DecodeBlob([]byte(reply[1]))
		return b, reply[2:], err
	}
	return metadata.Blob{}, nil, fmt.Errorf("unexpected script reply %q", reply)
}

// PurgeBlob implements metadata.GC. A script removes the tombstone and
// the link index, then the digest leaves the ListBlobs index. A PutBlob
// may have created a new record in between (it adds the digest to the
// index after writing the record), so the digest is added back when a
// record exists after the removal.
func (s *Store) PurgeBlob(ctx context.Context, d digest.Digest) error {
	k := string(d)
	n, err := purgeScript.Run(ctx, s.c, []string{s.blobDelKey(k), s.blobLinksKey(k)}).Int64()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err == nil {
		err = s.c.ZRem(ctx, s.blobIndexKey(), k).Err()
	}
	var exists int64
	if err == nil {
		exists, err = s.c.Exists(ctx, s.blobKey(k), s.blobPendKey(k)).Result()
	}
	if err == nil && exists > 0 {
		err = s.c.ZAdd(ctx, s.blobIndexKey(), redisZ(k)).Err()
	}
	if err != nil {
		return fmt.Errorf("redismeta: purge blob %s: %w", d, err)
	}
	return nil
}

// ManifestReferences implements metadata.GC with HSCAN over the
// repository's manifests; the cursor is HSCAN's.
func (s *Store) ManifestReferences(ctx context.Context, repo, cursor string, n int) ([]digest.Digest, string, error) {
	if n <= 0 {
		n = defaultRefsPage
	}
	var cur uint64
	if cursor != "" {
		var err error
		if cur, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return nil, "", fmt.Errorf("redismeta: manifest references of %s: bad cursor %q", repo, cursor)
		}
	}
	kv, next, err := s.c.HScan(ctx, s.repoKey(repo, "manifests"), cur, "", int64(n)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("redismeta: manifest references of %s: %w", repo, err)
	}
	var refs []digest.Digest
	for i := 1; i < len(kv); i += 2 {
		m, err := record.DecodeManifest([]byte(kv[i]))
		if err != nil {
			return nil, "", fmt.Errorf("redismeta: manifest references of %s: %s: %w", repo, kv[i-1], err)
		}
		refs = append(refs, m.References...)
		if m.Subject != "" {
			refs = append(refs, m.Subject)
		}
	}
	if next == 0 {
		return refs, "", nil
	}
	return refs, strconv.FormatUint(next, 10), nil
}

// AllRepositories implements metadata.GC: the union of the index of all
// repositories and the catalog (which also holds repositories created
// before the index existed), merged page by page.
func (s *Store) AllRepositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	a, moreA, err := s.page(ctx, s.reposKey(), last, n)
	var b []string
	var moreB bool
	if err == nil {
		b, moreB, err = s.page(ctx, s.catalogKey(), last, n)
	}
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: all repositories: %w", err)
	}
	all := append(a, b...)
	slices.Sort(all)
	all = slices.Compact(all)
	more := moreA || moreB
	if n >= 0 && len(all) > n {
		all, more = all[:n], true
	}
	return all, more, nil
}

// AcquireLease implements metadata.Leases: SET PX when free or held by
// token, in one script; expiry is the Redis server's.
func (s *Store) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	if token == "" {
		return false, fmt.Errorf("redismeta: acquire lease %s: %w", name, errEmptyToken)
	}
	ms := max(ttl.Milliseconds(), 1)
	n, err := acquireLeaseScript.Run(ctx, s.c, []string{s.leaseKey(name)}, token, ms).Int64()
	if err != nil {
		return false, fmt.Errorf("redismeta: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease implements metadata.Leases: compare and delete in one
// script.
func (s *Store) ReleaseLease(ctx context.Context, name, token string) error {
	if err := releaseLeaseScript.Run(ctx, s.c, []string{s.leaseKey(name)}, token).Err(); err != nil {
		return fmt.Errorf("redismeta: release lease %s: %w", name, err)
	}
	return nil
}

// RepoUsage implements metadata.Usage: one GET.
func (s *Store) RepoUsage(ctx context.Context, repo string) (int64, error) {
	n, err := s.c.Get(ctx, s.repoKey(repo, "usage")).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redismeta: usage of %s: %w", repo, err)
	}
	return n, nil
}

// NamespaceUsage implements metadata.Usage: the repositories named ns or
// ns/… come from lexical ranges of the index of all repositories and of
// the catalog, and the package usage of owner ns from its counter (one
// pipeline), then the repositories' counters from a second one.
func (s *Store) NamespaceUsage(ctx context.Context, ns string) (int64, error) {
	var ranges []*redis.StringSliceCmd
	var pkgUsage *redis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range []string{s.reposKey(), s.catalogKey()} {
			ranges = append(ranges,
				p.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: "[" + ns, Max: "[" + ns}),
				p.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: "[" + ns + "/", Max: "(" + ns + "0"})) // '0' follows '/'
		}
		pkgUsage = p.Get(ctx, s.pkgKeys(ns).usage)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("redismeta: usage of namespace %s: %w", ns, err)
	}
	total, err := pkgUsage.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("redismeta: package usage of %s: %w", ns, err)
	}
	var repos []string
	for _, r := range ranges {
		if err := r.Err(); err != nil {
			return 0, fmt.Errorf("redismeta: usage of namespace %s: %w", ns, err)
		}
		repos = append(repos, r.Val()...)
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	if len(repos) == 0 {
		return total, nil
	}
	gets := make([]*redis.StringCmd, len(repos))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, repo := range repos {
			gets[i] = p.Get(ctx, s.repoKey(repo, "usage"))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("redismeta: usage of namespace %s: %w", ns, err)
	}
	for i, g := range gets {
		n, err := g.Int64()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("redismeta: usage of %s: %w", repos[i], err)
		}
		total += n
	}
	return total, nil
}
