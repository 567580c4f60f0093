package redismeta

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// PutManifest implements metadata.Manifests: one script updates the
// repository atomically, then the repository is added to the catalog.
func (s *Store) PutManifest(ctx context.Context, repo string, m metadata.Manifest, tags ...string) error {
	if m.Created.IsZero() {
		m.Created = nowUTC()
	}
	k := s.repoKeys(repo)
	keys := []string{k.created, k.manifests, k.tags, k.tagz, k.digestTags, k.usage}
	var desc []byte
	if m.Subject != "" {
		keys = append(keys, s.referrersKey(repo, string(m.Subject)))
		desc = record.EncodeDescriptor(m.Descriptor())
	}
	args := make([]any, 0, 4+len(tags))
	args = append(args, string(m.Digest), record.EncodeManifest(m), desc, len(m.Body))
	for _, t := range tags {
		args = append(args, t)
	}
	if err := putManifestScript.Run(ctx, s.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("redismeta: put manifest %s in %s: %w", m.Digest, repo, err)
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, s.catalogKey(), redisZ(repo))
		p.ZAdd(ctx, s.reposKey(), redisZ(repo))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redismeta: put manifest %s in %s: add to catalog: %w", m.Digest, repo, err)
	}
	return nil
}

// GetManifest implements metadata.Manifests in one round trip. A ref
// containing ":" is a digest; anything else is a tag.
func (s *Store) GetManifest(ctx context.Context, repo, ref string) (metadata.Manifest, error) {
	k := s.repoKeys(repo)
	var (
		v   string
		err error
	)
	if strings.Contains(ref, ":") {
		v, err = s.c.HGet(ctx, k.manifests, ref).Result()
	} else {
		v, err = getByTagScript.Run(ctx, s.c, []string{k.tags, k.manifests}, ref).Text()
	}
	var m metadata.Manifest
	if err == nil {
		m, err = record.DecodeManifest([]byte(v))
	}
	if err != nil {
		return metadata.Manifest{}, fmt.Errorf("redismeta: manifest %s in %s: %w", ref, repo, notFound(err))
	}
	return m, nil
}

// DeleteManifest implements metadata.Manifests. It reads the manifest to
// learn its subject, then removes it, its tags and its referrer entry in
// one script.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	k := s.repoKeys(repo)
	v, err := s.c.HGet(ctx, k.manifests, string(d)).Bytes()
	var m metadata.Manifest
	if err == nil {
		m, err = record.DecodeManifest(v)
	}
	if err == nil {
		keys := []string{k.manifests, k.tags, k.tagz, k.digestTags, k.usage}
		if m.Subject != "" {
			keys = append(keys, s.referrersKey(repo, string(m.Subject)))
		}
		var n int64
		n, err = deleteManifestScript.Run(ctx, s.c, keys, string(d), len(m.Body)).Int64()
		if err == nil && n == 0 {
			err = metadata.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete manifest %s from %s: %w", d, repo, notFound(err))
	}
	return nil
}

// DeleteTag implements metadata.Manifests.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	k := s.repoKeys(repo)
	n, err := deleteTagScript.Run(ctx, s.c, []string{k.tags, k.tagz, k.digestTags}, tag).Int64()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete tag %s from %s: %w", tag, repo, err)
	}
	return nil
}

// Tags implements metadata.Manifests in one round trip, O(log N + n).
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	k := s.repoKeys(repo)
	count := int64(-1)
	if n >= 0 {
		count = int64(n) + 1
	}
	tags, err := tagsScript.Run(ctx, s.c, []string{k.created, k.tagz}, lexMin(last), count).StringSlice()
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: tags of %s: %w", repo, notFound(err))
	}
	return trim(tags, n)
}

// Referrers implements metadata.Manifests in one round trip.
func (s *Store) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	all, err := s.c.HGetAll(ctx, s.referrersKey(repo, string(d))).Result()
	if err != nil {
		return nil, fmt.Errorf("redismeta: referrers of %s in %s: %w", d, repo, err)
	}
	out := make([]v1.Descriptor, 0, len(all))
	for _, v := range all {
		desc, err := record.DecodeDescriptor([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("redismeta: referrers of %s in %s: %w", d, repo, err)
		}
		out = append(out, desc)
	}
	slices.SortFunc(out, func(a, b v1.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return out, nil
}

// Repositories implements metadata.Manifests, O(log N + n).
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	repos, more, err := s.page(ctx, s.catalogKey(), last, n)
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: repositories: %w", err)
	}
	return repos, more, nil
}

// deleteRepositoryAttempts bounds the retries of DeleteRepository when
// manifests change while it reads them.
const deleteRepositoryAttempts = 10

// DeleteRepository implements metadata.Manifests: the manifests are read
// (HSCAN) for their subjects, whose referrer keys must go too; then one
// script checks that the manifests are still exactly those (else it
// starts over) and deletes every key of the repository; then the
// repository leaves the catalog (and comes back should a PutManifest have
// recreated it meanwhile). A PutManifest whose manifest the delete removed
// may still add its catalog entry afterwards; the catalog then lists a
// repository without tags until it is pushed to or deleted again. The index of all repositories keeps it
// (a superset, see AllRepositories), so a link racing the delete is never
// hidden from garbage collection or quotas.
func (s *Store) DeleteRepository(ctx context.Context, repo string) error {
	k := s.repoKeys(repo)
	for range deleteRepositoryAttempts {
		digests, subjects, err := s.manifestSubjects(ctx, k.manifests)
		if err != nil {
			return fmt.Errorf("redismeta: delete repository %s: %w", repo, err)
		}
		keys := []string{k.created, k.manifests, k.tags, k.tagz, k.digestTags, k.blobs, k.usage}
		for _, subj := range subjects {
			keys = append(keys, s.referrersKey(repo, subj))
		}
		args := make([]any, 0, 1+len(digests))
		args = append(args, len(digests))
		for _, d := range digests {
			args = append(args, d)
		}
		had, err := deleteRepositoryScript.Run(ctx, s.c, keys, args...).Int64()
		if err != nil {
			return fmt.Errorf("redismeta: delete repository %s: %w", repo, err)
		}
		if had < 0 {
			continue // a manifest came or went meanwhile
		}
		removed, err := s.c.ZRem(ctx, s.catalogKey(), repo).Result()
		if err != nil {
			return fmt.Errorf("redismeta: delete repository %s: remove from catalog: %w", repo, err)
		}
		if had == 0 && removed == 0 {
			return fmt.Errorf("redismeta: repository %s: %w", repo, metadata.ErrNotFound)
		}
		// A PutManifest that ran after the script adds repo to the catalog
		// after its own script; should its ZADD have come before the ZREM,
		// put the entry back.
		if n, err := s.c.Exists(ctx, k.created).Result(); err != nil {
			return fmt.Errorf("redismeta: delete repository %s: %w", repo, err)
		} else if n == 1 {
			if err := s.c.ZAdd(ctx, s.catalogKey(), redisZ(repo)).Err(); err != nil {
				return fmt.Errorf("redismeta: delete repository %s: %w", repo, err)
			}
		}
		return nil
	}
	return fmt.Errorf("redismeta: delete repository %s: manifests kept changing: %w", repo, metadata.ErrConflict)
}

// manifestSubjects reads the digests of the manifests in the hash key
// and the distinct subjects they have.
func (s *Store) manifestSubjects(ctx context.Context, key string) (digests, subjects []string, err error) {
	seen := map[string]bool{}
	subj := map[string]bool{}
	var cursor uint64
	for {
		kv, next, err := s.c.HScan(ctx, key, cursor, "", 100).Result()
		if err != nil {
			return nil, nil, err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if seen[kv[i]] {
				continue
			}
			seen[kv[i]] = true
			digests = append(digests, kv[i])
			m, err := record.DecodeManifest([]byte(kv[i+1]))
			if err != nil {
				return nil, nil, fmt.Errorf("manifest %s: %w", kv[i], err)
			}
			if m.Subject != "" && !subj[string(m.Subject)] {
				subj[string(m.Subject)] = true
				subjects = append(subjects, string(m.Subject))
			}
		}
		if next == 0 {
			return digests, subjects, nil
		}
		cursor = next
	}
}
