package metadata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/driver"
)

// The owner-level indexes of container tags. An owner's listing mixes its
// package versions (owner shard) with the tags of its repositories
// <owner>/... (repository shards), newest first. So that a page costs the
// same at any offset, the owner shard keeps, besides the package indexes
// of db_pkglist.go, two indexes (index.go) in the tables tOIdx and
// tOIdxDir:
//
//   - k: every tag of every repository <owner>/..., newest manifest first;
//   - m: the same tags and every package version, newest first.
//
// A tag's sort key is its manifest's Created (descending, as newestKey),
// 'c', the tag, NUL and the repository; a version's is its Created, 'g'
// and descID(ID). So at one instant tags sort before versions, tags by
// tag then repository, versions newest ID first. A tag entry's value is
// the manifest digest, NUL and the nonce of the write that entered it; a
// version entry's value is its version key (as in the package indexes).
// tOwnRepo counts the k entries per repository.
//
// The tags are the truth; the entries follow them across shards, so they
// may be wrong for a while and every reader checks them:
//
//   - Entries before data. A tag write (PutManifest with tags) reads the
//     manifest's Created if it exists, enters the entries with a fresh
//     nonce in the owner shard, then commits the tags in the repository
//     shard — refused if a repair refused its nonce, or if the manifest
//     exists with another Created — recording each tag's nonce (tTagW).
//     Then it removes the entries of the tags' previous manifests whose
//     nonce is the one tTagW recorded for them. A refused write starts
//     again with a new nonce (bounded).
//   - Data before removal. DeleteTag, DeleteManifest and DeleteRepository
//     commit in the repository shard first, then remove the entries of the
//     tags they deleted (again only those with the recorded nonce).
//   - Readers verify. A page's tag entries are checked against the tag
//     and its manifest (in the same GetMany that reads them): an entry is
//     valid when the tag names its digest and the manifest has its
//     Created. An invalid entry is not listed. When it is older than the
//     repair grace (by the store's clock; entries carry the time they
//     were entered) it is repaired: in the repository shard, if it is
//     still invalid, its nonce is refused (tRefused), so the write that
//     entered it can never commit; then, in the owner shard, the entry is
//     removed if it still has that nonce (a write that entered the same
//     key since carries another). The page is read again. A younger one
//     is most likely a write in flight, which readers leave alone so
//     that a listing polled all along cannot starve writers; until it
//     commits or is repaired it counts in the total but is not shown.
//     The grace decides only when a repair happens, never whether the
//     listing ends right: a write slower than the grace is refused and
//     starts again.
//
// So an entry is removed only when no write can make it valid again, and
// every committed tag has its entry: its write entered it before
// committing and nobody removed it without refusing that write. A crash
// leaves invalid entries (removed by the first reader whose page holds
// them) and refusal records (a few bytes in the repository shard), never
// a missing one. No argument rests on timing.
//
// Owners whose tags predate these indexes (no Tags marker in ownerMeta)
// get them on their first listing: the tags of every repository of the
// owner are read and entered in one owner transaction together with the
// marker (entries written meanwhile are kept). An owner whose first
// repository is created by PutManifest gets the marker then.
var (
	tOIdx    = driver.Table{Name: "oidx", Ordered: true}    // owner shard: index NUL sort key → value
	tOIdxDir = driver.Table{Name: "oidxdir", Ordered: true} // owner shard: index NUL upper NUL → idxChunk
	tOwnRepo = driver.Table{Name: "ownrepo", Ordered: true} // owner shard: repository → its k entries (int)
	tTagW    = driver.Table{Name: "tagw", Ordered: true}    // repository shard: tag → nonce of its write
	tRefused = driver.Table{Name: "refused", Ordered: true} // repository shard: refused nonce → ""
)

func ixOwnerTags() index { return newIndexIn(tOIdx, tOIdxDir, "k") }
func ixMixed() index     { return newIndexIn(tOIdx, tOIdxDir, "m") }

// errRefused and errRecreated make a tag write start again: its nonce was
// refused, or the manifest exists with another Created than its entries.
var (
	errRefused   = errors.New("metadata: tag write refused by a repair")
	errRecreated = errors.New("metadata: manifest created meanwhile")
)

// repoOwner returns the owner key of repository repo (its first path
// component) when it has one below it.
func repoOwner(repo string) (string, bool) {
	i := strings.IndexByte(repo, '/')
	if i <= 0 {
		return "", false
	}
	return PackageKey(repo[:i]), true
}

// defaultRepairGrace is how old an invalid owner entry must be before a
// reader repairs it (WithRepairGrace).
const defaultRepairGrace = 10 * time.Second

// WithRepairGrace sets how old (by the store's clock) an owner entry
// that does not match its tag must be before a reader repairs it
// (default 10s; see db_ownertags.go). It decides when, never whether, a
// listing is repaired: 0 repairs at once (tests of crashes).
func WithRepairGrace(d time.Duration) Option { return func(db *DB) { db.grace = max(d, 0) } }

// timeKey is the descending key of t (the first 16 bytes of newestKey).
func timeKey(t time.Time) string { return newestKey(t, "") }

func tagSortKey(created time.Time, repo, tag string) string {
	return timeKey(created) + "c" + tag + "\x00" + repo
}

func verSortKey(created time.Time, id int64) string { return timeKey(created) + "g" + descID(id) }

// tagEntry is a tag entry of the owner indexes.
type tagEntry struct {
	sk, repo, tag string
	digest        digest.Digest
	nonce         string
	entered       int64 // unix nanoseconds of the store's clock (0: unknown)
}

// isTagSortKey tells a tag entry's sort key (tagSortKey: the time key,
// then 'c') from a version's (verSortKey: then 'g').
func isTagSortKey(sk string) bool { return len(sk) > 16 && sk[16] == 'c' }

// parseTagEntry reads the entry kv (sort key as Key); false for a
// version entry.
func parseTagEntry(kv driver.KV) (tagEntry, bool) {
	if !isTagSortKey(kv.Key) {
		return tagEntry{}, false
	}
	tag, repo, _ := strings.Cut(kv.Key[17:], "\x00")
	parts := strings.SplitN(string(kv.Value), "\x00", 3)
	e := tagEntry{sk: kv.Key, repo: repo, tag: tag, digest: digest.Digest(parts[0])}
	if len(parts) > 1 {
		e.nonce = parts[1]
	}
	if len(parts) > 2 {
		e.entered, _ = strconv.ParseInt(parts[2], 16, 64)
	}
	return e, true
}

// tagValue is the value of a tag entry.
func tagValue(d digest.Digest, nonce string, entered time.Time) []byte {
	v := string(d) + "\x00" + nonce
	if !entered.IsZero() {
		v += "\x00" + strconv.FormatInt(entered.UnixNano(), 16)
	}
	return []byte(v)
}

// valid reports whether the entry matches the tag's digest and manifest
// (nil when absent).
func (e tagEntry) valid(tagDigest, manifest []byte) (Manifest, bool, error) {
	if manifest == nil || string(tagDigest) != string(e.digest) {
		return Manifest{}, false, nil
	}
	var m Manifest
	if err := decode(manifest, &m); err != nil {
		return m, false, err
	}
	return m, timeKey(m.Created) == e.sk[:16], nil
}

// tagState is what a tag was before a write: its manifest and the nonce
// of the write that set it.
type tagState struct {
	tag     string
	digest  digest.Digest
	created time.Time
	nonce   string
}

// putTagEntry enters the entry of tag of repo on manifest d created at
// created, with nonce, in the owner shard of tx (an entry with that key
// keeps its place and takes the new value).
func (db *DB) putTagEntry(tx driver.Tx, repo, tag string, created time.Time, d digest.Digest, nonce string) error {
	sk, val := tagSortKey(created, repo, tag), tagValue(d, nonce, tx.Now())
	k := ixOwnerTags()
	if _, ok, err := tx.Get(k.t, k.prefix+sk); err != nil || ok {
		if err != nil {
			return err
		}
		for _, ix := range []index{k, ixMixed()} {
			if err := tx.Put(ix.t, ix.prefix+sk, val); err != nil {
				return err
			}
		}
		return db.selMissing(tx, repo, sk)
	}
	for _, ix := range []index{k, ixMixed()} {
		if err := ix.insert(tx, sk, val); err != nil {
			return err
		}
	}
	if err := db.selTag(tx, repo, sk, true); err != nil {
		return err
	}
	return addRepoCount(tx, repo, 1)
}

// dropTagEntry removes the entry sk of repo when it has nonce.
func (db *DB) dropTagEntry(tx driver.Tx, repo, sk, nonce string) error {
	k := ixOwnerTags()
	v, ok, err := tx.Get(k.t, k.prefix+sk)
	if err != nil || !ok {
		return err
	}
	if e, _ := parseTagEntry(driver.KV{Key: sk, Value: v}); e.nonce != nonce {
		return nil
	}
	for _, ix := range []index{k, ixMixed()} {
		if err := ix.remove(tx, sk); err != nil {
			return err
		}
	}
	if err := db.selTag(tx, repo, sk, false); err != nil {
		return err
	}
	return addRepoCount(tx, repo, -1)
}

func addRepoCount(tx driver.Tx, repo string, d int) error {
	n, _, err := get[int](tx, tOwnRepo, repo)
	if err != nil {
		return err
	}
	if n += d; n <= 0 {
		return tx.Delete(tOwnRepo, repo)
	}
	return put(tx, tOwnRepo, repo, n)
}

// dropTagStates removes the entries of the previous states of tags of
// repo (after a write or delete committed them away). Errors are not
// returned: the write is committed, and an entry left behind is invalid,
// which the first reader that meets it repairs.
func (db *DB) dropTagStates(ctx context.Context, owner, repo string, states []tagState, fresh bool) {
	if len(states) == 0 && !fresh {
		return
	}
	_ = db.update(ctx, ownerShard(owner), func(tx driver.Tx) error {
		for _, s := range states {
			if err := db.dropTagEntry(tx, repo, tagSortKey(s.created, repo, s.tag), s.nonce); err != nil {
				return err
			}
		}
		if !fresh {
			return nil
		}
		m, existed, err := get[ownerMeta](tx, tOwnerMeta, "")
		if err != nil || m.Tags {
			return err
		}
		if err := db.ensureOwnerIndex(tx); err != nil {
			return err
		}
		m, _, err = get[ownerMeta](tx, tOwnerMeta, "")
		if err != nil {
			return err
		}
		m.Tags = true
		if !existed && !db.noSel {
			// A new owner: its only entries are this repository's, entered
			// with their selection entries.
			m.Sel = true
		}
		if err := db.ensureSelection(tx, &m); err != nil {
			return err
		}
		return put(tx, tOwnerMeta, "", m)
	})
}

// tagWrite is how a PutManifest of an owned repository's tags goes with
// its owner entries (see above).
type tagWrite struct {
	nonce   string     // the nonce of its entries ("" none: no owner entries)
	refused []string   // its own earlier nonces that were refused: their records go
	created time.Time  // the Created its entries were made with
	moved   []tagState // out: the previous states of the tags it moved
}

// check runs in the repository transaction before the tags are written:
// it refuses a refused nonce and a manifest created with another time.
func (w *tagWrite) check(tx driver.Tx, stored Manifest, exists bool) error {
	if _, refused, err := tx.Get(tRefused, w.nonce); err != nil || refused {
		if refused {
			return errRefused
		}
		return err
	}
	for _, n := range w.refused {
		if err := tx.Delete(tRefused, n); err != nil {
			return err
		}
	}
	if exists && !stored.Created.Equal(w.created) {
		return errRecreated
	}
	return nil
}

// record notes tag's previous state and writes its nonce.
func (w *tagWrite) record(tx driver.Tx, tag string, d digest.Digest) error {
	old, ok, err := tx.Get(tTag, tag)
	if err != nil {
		return err
	}
	if ok && string(old) != string(d) {
		prev, pok, err := get[Manifest](tx, tManifest, string(old))
		if err != nil {
			return err
		}
		n, _, err := tx.Get(tTagW, tag)
		if err != nil {
			return err
		}
		if pok {
			w.moved = append(w.moved, tagState{tag: tag, digest: digest.Digest(old), created: prev.Created, nonce: string(n)})
		}
	}
	return tx.Put(tTagW, tag, []byte(w.nonce))
}

// putOwnedManifest is PutManifest of tags of a repository with an owner.
func (db *DB) putOwnedManifest(ctx context.Context, owner, repo string, m Manifest, tags []string) error {
	rs := shardRepo(repo)
	var (
		prev    []tagState // the entries of a refused attempt
		refused []string
	)
	for attempt := 0; attempt <= db.retries; attempt++ {
		created := utc(m.Created)
		st, err := db.readOwned(ctx, repo, m, tags)
		if err != nil {
			return err
		}
		if st.exists {
			created = st.stored.Created
		}
		if st.unchanged && attempt == 0 {
			if same, err := db.entriesInPlace(ctx, owner, repo, st, tags); err != nil || same {
				return err // a push of what is there: nothing to write (db_repush.go)
			}
		}
		w := &tagWrite{nonce: NewInc(), refused: refused}
		err = db.update(ctx, ownerShard(owner), func(tx driver.Tx) error {
			if w.created = created; w.created.IsZero() {
				w.created = utc(tx.Now())
			}
			for _, p := range prev {
				if err := db.dropTagEntry(tx, repo, tagSortKey(p.created, repo, p.tag), p.nonce); err != nil {
					return err
				}
			}
			for _, t := range tags {
				if err := db.putTagEntry(tx, repo, t, w.created, m.Digest, w.nonce); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		mc := m
		mc.Created = w.created
		fresh := false
		err = db.update(ctx, rs, func(tx driver.Tx) error { w.moved = nil; return putManifestTx(tx, db, mc, tags, "", w) })
		if errors.Is(err, errAbsent) {
			var token string
			if token, err = db.enterCatalog(ctx, repo); err != nil {
				return err
			}
			others, _, rerr := db.d.Range(ctx, shardCatalog, tRepos, owner+"/", "", 2)
			if rerr != nil {
				return mapErr(rerr)
			}
			fresh = len(others) == 1 && others[0].Key == repo
			err = db.update(ctx, rs, func(tx driver.Tx) error { w.moved = nil; return putManifestTx(tx, db, mc, tags, token, w) })
		}
		switch {
		case errors.Is(err, errRefused), errors.Is(err, errRecreated):
			if errors.Is(err, errRefused) {
				refused = append(refused, w.nonce)
			}
			prev = prev[:0]
			for _, t := range tags {
				prev = append(prev, tagState{tag: t, digest: m.Digest, created: w.created, nonce: w.nonce})
			}
			continue
		case err != nil:
			return err // entries left are invalid unless it committed: readers check
		}
		db.dropTagStates(ctx, owner, repo, w.moved, fresh)
		return nil
	}
	return fmt.Errorf("%w: tag write of %s refused %d times", ErrUnavailable, repo, db.retries+1)
}

// enterCatalog enters repo in the catalog with a fresh token (both lists).
func (db *DB) enterCatalog(ctx context.Context, repo string) (string, error) {
	token := NewInc()
	err := db.update(ctx, shardCatalog, func(tx driver.Tx) error {
		if err := tx.Put(tAll, repo, nil); err != nil {
			return err
		}
		return tx.Put(tRepos, repo, []byte(token))
	})
	return token, err
}

// tagStates returns the states of the tags of the repository in tx whose
// manifest is d ("" every tag).
func tagStates(tx driver.Reader, d digest.Digest, created time.Time) ([]tagState, error) {
	tags, err := rangeAll(tx, tTag, "")
	if err != nil {
		return nil, err
	}
	var out []tagState
	for _, kv := range tags {
		if d != "" && string(kv.Value) != string(d) {
			continue
		}
		c := created
		if d == "" {
			m, ok, err := get[Manifest](tx, tManifest, string(kv.Value))
			if err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			c = m.Created
		}
		n, _, err := tx.Get(tTagW, kv.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, tagState{tag: kv.Key, digest: digest.Digest(kv.Value), created: c, nonce: string(n)})
	}
	return out, nil
}
