package metadata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/pkgversion"
)

// The tag indexes of a repository's shard (see index.go), changed in the
// transactions that change its tags:
//
//   - c: every tag, newest manifest first (descending Created, then by
//     tag), for the management API's container view;
//   - s: the SemVer tags, latest first (pkgversion.LatestKey).
//
// The value of a c entry is the tag's manifest digest, that of an s
// entry the tag, NUL and the digest. The meta record counts the tags that
// are not SemVer.
var (
	ixTagsNewest = newIndex("c")
	ixTagsSemVer = newIndex("s")
)

// newestKey is the sort key of tag on a manifest created at created.
func newestKey(created time.Time, tag string) string {
	return fmt.Sprintf("%016x", ^(uint64(created.UnixNano())^1<<63)) + tag
}

// TaggedManifest is a tag with its manifest.
type TaggedManifest struct {
	Tag string
	Manifest
}

// TagLister lists a repository's tags with their manifests by rank and
// answers its latest tag, from indexes kept with the tags. *DB
// implements it.
type TagLister interface {
	// TagPage returns the tags of repo with their manifests, newest
	// manifest first (ties by tag), skipping offset and returning at most
	// n (n < 0: all), and the number of tags. The cost does not depend on
	// offset. ErrNotFound when the repository was never created.
	TagPage(ctx context.Context, repo string, offset, n int) (tags []TaggedManifest, total int, err error)
	// LatestTag returns the latest tag of repo: when every tag is SemVer
	// the highest by the SemVer rule (semver true), else the one of the
	// newest manifest. ErrNotFound when the repository does not exist or
	// has no tags.
	LatestTag(ctx context.Context, repo string) (tag TaggedManifest, semver bool, err error)
}

var _ TagLister = (*DB)(nil)

// moveTag updates the indexes for tag t pointing at m (from where it
// pointed before, if anywhere).
func (db *DB) moveTag(tx driver.Tx, meta *repoMeta, t string, m Manifest) error {
	if db.noIndex {
		return nil
	}
	old, ok, err := tx.Get(tTag, t)
	if err != nil || (ok && string(old) == string(m.Digest)) {
		return err
	}
	sk, semver := pkgversion.LatestKey(t)
	if ok {
		prev, _, err := get[Manifest](tx, tManifest, string(old))
		if err != nil {
			return err
		}
		if err := ixTagsNewest.remove(tx, newestKey(prev.Created, t)); err != nil {
			return err
		}
		if semver {
			if err := tx.Put(ixTagsSemVer.t, ixTagsSemVer.prefix+sk, semverVal(t, string(m.Digest))); err != nil {
				return err
			}
		}
	} else if semver {
		if err := ixTagsSemVer.insert(tx, sk, semverVal(t, string(m.Digest))); err != nil {
			return err
		}
	} else {
		meta.NonSemVer++
	}
	return ixTagsNewest.insert(tx, newestKey(m.Created, t), []byte(m.Digest))
}

// unindexTag removes tag t, whose manifest was created at created, from
// the indexes.
func (db *DB) unindexTag(tx driver.Tx, meta *repoMeta, t string, created time.Time) error {
	if db.noIndex {
		return nil
	}
	if err := ixTagsNewest.remove(tx, newestKey(created, t)); err != nil {
		return err
	}
	if sk, ok := pkgversion.LatestKey(t); ok {
		return ixTagsSemVer.remove(tx, sk)
	}
	meta.NonSemVer--
	return nil
}

// ensureRepoIndex builds the tag indexes of the repository in tx when it
// has none yet (a store written before them), and stores meta.
func (db *DB) ensureRepoIndex(tx driver.Tx, meta *repoMeta) error {
	if meta.Indexed || db.noIndex {
		return nil
	}
	tags, err := rangeAll(tx, tTag, "")
	if err != nil {
		return err
	}
	created := map[string]time.Time{}
	if len(tags) > 0 {
		ms, err := rangeAll(tx, tManifest, "")
		if err != nil {
			return err
		}
		for _, kv := range ms {
			var m Manifest
			if err := decode(kv.Value, &m); err != nil {
				return err
			}
			created[kv.Key] = m.Created
		}
	}
	var newest, semver []driver.KV
	meta.NonSemVer = 0
	for _, kv := range tags {
		c, ok := created[string(kv.Value)]
		if !ok {
			continue // a tag without its manifest is not served either
		}
		newest = append(newest, driver.KV{Key: newestKey(c, kv.Key), Value: kv.Value})
		if sk, ok := pkgversion.LatestKey(kv.Key); ok {
			semver = append(semver, driver.KV{Key: sk, Value: semverVal(kv.Key, string(kv.Value))})
		} else {
			meta.NonSemVer++
		}
	}
	sortKVs(newest)
	sortKVs(semver)
	if err := ixTagsNewest.build(tx, newest); err != nil {
		return err
	}
	if err := ixTagsSemVer.build(tx, semver); err != nil {
		return err
	}
	meta.Indexed = true
	return put(tx, tMeta, "", *meta)
}

// indexRepo builds the tag indexes of repo if it has none; false when it
// has them or was never created (ErrNotFound).
func (db *DB) indexRepo(ctx context.Context, repo string) (repoMeta, bool, error) {
	meta, _, err := getRec[repoMeta](ctx, db, shardRepo(repo), tMeta, "")
	if err != nil {
		return meta, false, err
	}
	if meta.Listed == "" {
		return meta, false, notFound("repository %s", repo)
	}
	if meta.Indexed || db.noIndex {
		return meta, false, nil
	}
	err = db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
		m, err := db.meta(tx)
		if err != nil {
			return err
		}
		return db.ensureRepoIndex(tx, &m)
	})
	return meta, err == nil, err
}

func semverVal(tag, d string) []byte { return []byte(tag + "\x00" + d) }

// newestEntry and semverEntry return the tag and digest of an entry.
func newestEntry(kv driver.KV) (string, string) { return kv.Key[16:], string(kv.Value) }
func semverEntry(kv driver.KV) (string, string) {
	tag, d, _ := strings.Cut(string(kv.Value), "\x00")
	return tag, d
}

// manifestsAt reads the manifests of the index entries kvs in one
// GetMany; entry returns an entry's tag and digest.
func (db *DB) manifestsAt(ctx context.Context, repo string, kvs []driver.KV, entry func(driver.KV) (string, string)) ([]TaggedManifest, error) {
	refs := make([]driver.Ref, len(kvs))
	tags := make([]string, len(kvs))
	for i, kv := range kvs {
		var d string
		tags[i], d = entry(kv)
		refs[i] = driver.Ref{Shard: shardRepo(repo), Table: tManifest, Key: d}
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]TaggedManifest, 0, len(kvs))
	for i := range kvs {
		if vals[i] == nil {
			continue // deleted between the reads (no snapshot on Redis)
		}
		tm := TaggedManifest{Tag: tags[i]}
		if err := decode(vals[i], &tm.Manifest); err != nil {
			return nil, err
		}
		out = append(out, tm)
	}
	return out, nil
}

// TagPage implements TagLister: two Ranges and one GetMany (an empty
// page reads the meta record too).
func (db *DB) TagPage(ctx context.Context, repo string, offset, n int) ([]TaggedManifest, int, error) {
	for attempt := 0; ; attempt++ {
		var (
			kvs   []driver.KV
			total int
		)
		err := db.view(ctx, shardRepo(repo), func(r driver.Reader) (err error) {
			kvs, total, err = ixTagsNewest.page(r, max(offset, 0), n)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		if total == 0 {
			if _, built, err := db.indexRepo(ctx, repo); err != nil {
				return nil, 0, err
			} else if built && attempt == 0 {
				continue
			}
		}
		tms, err := db.manifestsAt(ctx, repo, kvs, newestEntry)
		return tms, total, err
	}
}

// LatestTag implements TagLister: the meta record, one Range and one
// GetMany.
func (db *DB) LatestTag(ctx context.Context, repo string) (TaggedManifest, bool, error) {
	for attempt := 0; ; attempt++ {
		meta, built, err := db.indexRepo(ctx, repo)
		if err != nil {
			return TaggedManifest{}, false, err
		} else if built && attempt == 0 {
			continue
		}
		bySemVer := meta.NonSemVer == 0
		ix := ixTagsNewest
		if bySemVer {
			ix = ixTagsSemVer
		}
		var kvs []driver.KV
		err = db.view(ctx, shardRepo(repo), func(r driver.Reader) (err error) {
			kvs, _, err = ix.first(r, "", 1)
			return err
		})
		if err != nil {
			return TaggedManifest{}, false, err
		}
		if len(kvs) == 0 {
			return TaggedManifest{}, false, notFound("tags of %s", repo)
		}
		entry := newestEntry
		if bySemVer {
			entry = semverEntry
		}
		tms, err := db.manifestsAt(ctx, repo, kvs, entry)
		if err != nil {
			return TaggedManifest{}, false, err
		}
		if len(tms) == 0 {
			return TaggedManifest{}, false, notFound("tags of %s", repo)
		}
		return tms[0], bySemVer, nil
	}
}
