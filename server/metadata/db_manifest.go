package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata/driver"
)

// defaultRefsPage is the page size of ManifestReferences when n <= 0.
const defaultRefsPage = 100

func referrerKey(subject, d digest.Digest) string { return string(subject) + "\x00" + string(d) }

// PutManifest implements Manifests. A repository the catalog lists
// already takes one transaction; the first PutManifest (and the first
// after DeleteRepository) enters it in the catalog first, with a fresh
// token that the repository's meta record then carries (see doc.go).
// Tags of a repository with an owner (<owner>/...) also go into the
// owner's indexes, entries first (db_ownertags.go): a Get, an owner
// transaction and the repository's, and one more owner transaction when
// tags moved.
func (db *DB) PutManifest(ctx context.Context, repo string, m Manifest, tags ...string) error {
	if owner, ok := repoOwner(repo); ok && len(tags) > 0 && !db.noIndex {
		return db.putOwnedManifest(ctx, owner, repo, m, tags)
	}
	rs := shardRepo(repo)
	err := db.update(ctx, rs, func(tx driver.Tx) error { return putManifestTx(tx, db, m, tags, "", nil) })
	if !errors.Is(err, errAbsent) {
		return err
	}
	token, err := db.enterCatalog(ctx, repo)
	if err != nil {
		return err
	}
	return db.update(ctx, rs, func(tx driver.Tx) error { return putManifestTx(tx, db, m, tags, token, nil) })
}

// putManifestTx stores m and its tags in the repository's shard; without
// a token it refuses (errAbsent) a repository the catalog may not list.
// With w, the tags have owner entries (w.check, w.record).
func putManifestTx(tx driver.Tx, db *DB, m Manifest, tags []string, token string, w *tagWrite) error {
	meta, err := db.meta(tx)
	if err != nil {
		return err
	}
	if token == "" && meta.Listed == "" {
		return errAbsent
	}
	if token != "" {
		meta.Listed, meta.All = token, true
	}
	if err := db.ensureRepoIndex(tx, &meta); err != nil {
		return err
	}
	stored, exists, err := get[Manifest](tx, tManifest, string(m.Digest))
	if err != nil {
		return err
	}
	if w != nil {
		if err := w.check(tx, stored, exists); err != nil {
			return err
		}
	}
	if exists {
		m.Created = stored.Created
	} else {
		m.Created = utc(m.Created)
		if m.Created.IsZero() {
			m.Created = utc(tx.Now())
		}
		if err := put(tx, tManifest, string(m.Digest), m); err != nil {
			return err
		}
		meta.Usage += int64(len(m.Body))
		if m.Subject != "" {
			if err := put(tx, tReferrer, referrerKey(m.Subject, m.Digest), m.Descriptor()); err != nil {
				return err
			}
		}
	}
	for _, t := range tags {
		if w != nil {
			if err := w.record(tx, t, m.Digest); err != nil {
				return err
			}
		}
		if err := db.moveTag(tx, &meta, t, m); err != nil {
			return err
		}
		if err := tx.Put(tTag, t, []byte(m.Digest)); err != nil {
			return err
		}
	}
	return put(tx, tMeta, "", meta)
}

// GetManifest implements Manifests: one Follow by tag, one Get by digest.
func (db *DB) GetManifest(ctx context.Context, repo, ref string) (Manifest, error) {
	var m Manifest
	b, err := db.manifestRecord(ctx, repo, ref)
	if err == nil {
		if err = decodeManifest(b, &m); err != nil {
			return Manifest{}, fmt.Errorf("%w: manifest %s in %s: %w", errCorrupt, ref, repo, err)
		}
	}
	return m, err
}

// GetManifestHead implements Manifests: GetManifest that decodes of the
// record only the digest, the media type and the body.
func (db *DB) GetManifestHead(ctx context.Context, repo, ref string) (Manifest, error) {
	b, err := db.manifestRecord(ctx, repo, ref)
	if err != nil {
		return Manifest{}, err
	}
	m, err := decodeManifestHead(b)
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest %s in %s: %w", errCorrupt, ref, repo, err)
	}
	return m, nil
}

// manifestRecord reads the record of ref (see GetManifest).
func (db *DB) manifestRecord(ctx context.Context, repo, ref string) ([]byte, error) {
	var (
		b   []byte
		ok  bool
		err error
	)
	rs := shardRepo(repo)
	if strings.Contains(ref, ":") {
		b, ok, err = db.d.Get(ctx, driver.Ref{Shard: rs, Table: tManifest, Key: ref})
	} else {
		b, ok, err = db.d.Follow(ctx, rs, tTag, ref, tManifest)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if !ok {
		return nil, notFound("manifest %s in %s", ref, repo)
	}
	return b, nil
}

// DeleteManifest implements Manifests in one transaction, then removes
// the owner entries of the tags it deleted (db_ownertags.go).
func (db *DB) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	var gone []tagState
	err := db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
		gone = nil
		m, ok, err := get[Manifest](tx, tManifest, string(d))
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in %s", d, repo)
		}
		meta, err := db.meta(tx)
		if err != nil {
			return err
		}
		if err := db.ensureRepoIndex(tx, &meta); err != nil {
			return err
		}
		meta.Usage -= int64(len(m.Body))
		if err := tx.Delete(tManifest, string(d)); err != nil {
			return err
		}
		if gone, err = tagStates(tx, d, m.Created); err != nil {
			return err
		}
		for _, s := range gone {
			if err := db.unindexTag(tx, &meta, s.tag, m.Created); err != nil {
				return err
			}
			if err := tx.Delete(tTag, s.tag); err != nil {
				return err
			}
			if err := tx.Delete(tTagW, s.tag); err != nil {
				return err
			}
		}
		if m.Subject != "" {
			if err := tx.Delete(tReferrer, referrerKey(m.Subject, d)); err != nil {
				return err
			}
		}
		return put(tx, tMeta, "", meta)
	})
	if err == nil {
		db.dropOwned(ctx, repo, gone)
	}
	return err
}

// dropOwned removes the owner entries of tags of repo that a committed
// delete removed.
func (db *DB) dropOwned(ctx context.Context, repo string, gone []tagState) {
	if owner, ok := repoOwner(repo); ok && !db.noIndex {
		db.dropTagStates(ctx, owner, repo, gone, false)
	}
}

// DeleteTag implements Manifests, then removes the tag's owner entry.
func (db *DB) DeleteTag(ctx context.Context, repo, tag string) error {
	var gone []tagState
	err := db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
		gone = nil
		d, ok, err := tx.Get(tTag, tag)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("tag %s in %s", tag, repo)
		}
		nonce, _, err := tx.Get(tTagW, tag)
		if err != nil {
			return err
		}
		if err := tx.Delete(tTag, tag); err != nil || db.noIndex {
			return err
		}
		if err := tx.Delete(tTagW, tag); err != nil {
			return err
		}
		meta, err := db.meta(tx)
		if err != nil {
			return err
		}
		m, mok, err := get[Manifest](tx, tManifest, string(d))
		if err != nil {
			return err
		}
		if mok {
			gone = []tagState{{tag: tag, digest: digest.Digest(d), created: m.Created, nonce: string(nonce)}}
		}
		if !meta.Indexed {
			return db.ensureRepoIndex(tx, &meta) // builds without the tag
		}
		if err := db.unindexTag(tx, &meta, tag, m.Created); err != nil {
			return err
		}
		return put(tx, tMeta, "", meta)
	})
	if err == nil {
		db.dropOwned(ctx, repo, gone)
	}
	return err
}

// Tags implements Manifests: one Range; an empty page reads the meta
// record too, to tell an unknown repository from an untagged one.
func (db *DB) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	rs := shardRepo(repo)
	kvs, more, err := db.d.Range(ctx, rs, tTag, "", last, n)
	if err != nil {
		return nil, false, mapErr(err)
	}
	if len(kvs) == 0 {
		meta, _, err := getRec[repoMeta](ctx, db, rs, tMeta, "")
		if err != nil {
			return nil, false, err
		}
		if meta.Listed == "" {
			return nil, false, notFound("repository %s", repo)
		}
	}
	return keys(kvs), more, nil
}

// Referrers implements Manifests with one Range.
func (db *DB) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	kvs, _, err := db.d.Range(ctx, shardRepo(repo), tReferrer, string(d)+"\x00", "", -1)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]v1.Descriptor, 0, len(kvs))
	for _, kv := range kvs {
		var desc v1.Descriptor
		if err := decode(kv.Value, &desc); err != nil {
			return nil, err
		}
		out = append(out, desc)
	}
	return out, nil
}

// Repositories implements Manifests with one Range of the catalog.
func (db *DB) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	kvs, more, err := db.d.Range(ctx, shardCatalog, tRepos, "", last, n)
	if err != nil {
		return nil, false, mapErr(err)
	}
	return keys(kvs), more, nil
}

// AllRepositories implements GC with one Range of the catalog's list of
// every repository that ever held data.
func (db *DB) AllRepositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	kvs, more, err := db.d.Range(ctx, shardCatalog, tAll, "", last, n)
	if err != nil {
		return nil, false, mapErr(err)
	}
	return keys(kvs), more, nil
}

// DeleteRepository implements Manifests: the repository's shard is
// emptied in one transaction, then its catalog entry goes, provided it is
// still the entry of the incarnation just deleted (a PutManifest racing
// the delete writes a fresh one). The list of all repositories keeps it.
func (db *DB) DeleteRepository(ctx context.Context, repo string) error {
	var (
		token string
		gone  []tagState
	)
	err := db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
		meta, err := db.meta(tx)
		if err != nil {
			return err
		}
		token = meta.Listed
		var empty = true
		for _, t := range []driver.Table{tManifest, tLink} {
			kvs, _, err := tx.Range(t, "", "", 1)
			if err != nil {
				return err
			}
			empty = empty && len(kvs) == 0
		}
		if empty && token == "" {
			return notFound("repository %s", repo)
		}
		if gone, err = tagStates(tx, "", time.Time{}); err != nil {
			return err
		}
		for _, t := range repoTables {
			kvs := []driver.KV{{Key: ""}} // tMeta
			if t.Ordered {
				if kvs, err = rangeAll(tx, t, ""); err != nil {
					return err
				}
			}
			for _, kv := range kvs {
				if err := tx.Delete(t, kv.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.dropOwned(ctx, repo, gone)
	if token == "" {
		return nil
	}
	return db.update(ctx, shardCatalog, func(tx driver.Tx) error {
		v, ok, err := tx.Get(tRepos, repo)
		if err != nil || !ok || string(v) != token {
			return err
		}
		return tx.Delete(tRepos, repo)
	})
}

// ManifestReferences implements GC: one Range of the repository's
// manifests per page; the cursor is the last manifest digest of a page.
func (db *DB) ManifestReferences(ctx context.Context, repo, cursor string, n int) ([]digest.Digest, string, error) {
	if n <= 0 {
		n = defaultRefsPage
	}
	kvs, more, err := db.d.Range(ctx, shardRepo(repo), tManifest, "", cursor, n)
	if err != nil {
		return nil, "", mapErr(err)
	}
	var refs []digest.Digest
	for _, kv := range kvs {
		var m Manifest
		if err := decode(kv.Value, &m); err != nil {
			return nil, "", err
		}
		refs = append(refs, m.References...)
		if m.Subject != "" {
			refs = append(refs, m.Subject)
		}
	}
	next := ""
	if more && len(kvs) > 0 {
		next = kvs[len(kvs)-1].Key
	}
	return refs, next, nil
}

// ManifestReferencesMany implements BatchGC: the first page of the
// manifests of every repository of repos in one RangeMany (one round
// trip on Redis; one Range each on other drivers), then the further
// pages of the rare repositories with more, one Range each.
func (db *DB) ManifestReferencesMany(ctx context.Context, repos []string, keep func(digest.Digest)) error {
	qs := make([]driver.RangeQuery, len(repos))
	for i, repo := range repos {
		qs[i] = driver.RangeQuery{Shard: shardRepo(repo), Table: tManifest, N: defaultRefsPage}
	}
	var res []driver.RangeResult
	if rm, ok := db.d.(driver.RangeManyer); ok {
		var err error
		if res, err = rm.RangeMany(ctx, qs); err != nil {
			return mapErr(err)
		}
	} else {
		res = make([]driver.RangeResult, len(qs))
		for i, q := range qs {
			kvs, more, err := db.d.Range(ctx, q.Shard, q.Table, q.Prefix, q.After, q.N)
			if err != nil {
				return mapErr(err)
			}
			res[i] = driver.RangeResult{KVs: kvs, More: more}
		}
	}
	for i, r := range res {
		for _, kv := range r.KVs {
			var m Manifest
			if err := decode(kv.Value, &m); err != nil {
				return err
			}
			for _, d := range m.References {
				keep(d)
			}
			if m.Subject != "" {
				keep(m.Subject)
			}
		}
		if !r.More || len(r.KVs) == 0 {
			continue
		}
		cursor := r.KVs[len(r.KVs)-1].Key
		for cursor != "" {
			refs, next, err := db.ManifestReferences(ctx, repos[i], cursor, 0)
			if err != nil {
				return err
			}
			for _, d := range refs {
				keep(d)
			}
			cursor = next
		}
	}
	return nil
}
