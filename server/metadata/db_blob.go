package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Blob record states.
const (
	stateLive    = 0
	statePending = 1
	stateTomb    = 2
)

// blobRec is the global record of a blob in its shard blob:<digest>
// (stored by putBlobRec, record_blob.go).
type blobRec struct {
	Blob
	State uint8
}

// repoMeta is the record "" of table meta in repo:<name>.
type repoMeta struct {
	// Usage is the repository's usage in bytes.
	Usage int64 `json:"u,omitempty"`
	// Listed is the catalog token of a created repository ("" when
	// PutManifest never created it or DeleteRepository removed it).
	Listed string `json:"l,omitempty"`
	// All reports that the catalog's list of every repository has it.
	All bool `json:"a,omitempty"`
	// Indexed reports that the tag indexes are built (db_taglist.go);
	// NonSemVer counts the tags that are not SemVer.
	Indexed   bool `json:"x,omitempty"`
	NonSemVer int  `json:"ns,omitempty"`
}

// errAbsent stops a transaction that found no record where the caller
// must first write an index entry in another shard.
var errAbsent = errors.New("metadata: record absent")

func (db *DB) meta(r driver.Reader) (repoMeta, error) {
	m, _, err := get[repoMeta](r, tMeta, "")
	return m, err
}

// use refreshes the use (Used, Gen) of rec by the transaction's clock.
func use(tx driver.Tx, rec *blobRec) {
	rec.Used = utc(tx.Now())
	rec.Gen++
}

// claimTx is ClaimBlob's transaction on blob:<d>. A missing record is
// created pending with inc, or errAbsent when inc is "".
func claimTx(tx driver.Tx, b Blob, inc string, rec *blobRec, live *bool) error {
	cur, ok, err := getBlobRec(tx, b.Digest)
	switch {
	case err != nil:
		return err
	case ok && cur.State == stateTomb:
		return conflict("claim blob %s: being deleted", b.Digest)
	case !ok && inc == "":
		return errAbsent
	case !ok:
		cur = blobRec{Blob: Blob{Digest: b.Digest, Key: b.Key, Created: utc(tx.Now()), Inc: inc}, State: statePending}
	}
	use(tx, &cur)
	*rec, *live = cur, cur.State == stateLive
	return putBlobRec(tx, cur)
}

// ClaimBlob implements Blobs. A digest without a record is entered in the
// blob index before its record is created.
func (db *DB) ClaimBlob(ctx context.Context, b Blob) (Blob, bool, error) {
	var (
		rec  blobRec
		live bool
	)
	shard := shardBlob(string(b.Digest))
	err := db.update(ctx, shard, func(tx driver.Tx) error { return claimTx(tx, b, "", &rec, &live) })
	if errors.Is(err, errAbsent) {
		inc := NewInc()
		if err = db.indexBlob(ctx, b.Digest, inc); err == nil {
			err = db.update(ctx, shard, func(tx driver.Tx) error { return claimTx(tx, b, inc, &rec, &live) })
		}
		if err == nil && rec.Inc != inc {
			err = db.reindexBlob(ctx, b.Digest, inc, rec.Inc)
		}
	}
	if err != nil {
		return Blob{}, false, err
	}
	return rec.Blob, live, nil
}

// indexBlob enters d in the blob index, for ListBlobs, before its record
// is created (the value is the Inc the record will have).
func (db *DB) indexBlob(ctx context.Context, d digest.Digest, inc string) error {
	return db.update(ctx, shardBlobIndex, func(tx driver.Tx) error { return tx.Put(tIndex, string(d), []byte(inc)) })
}

// reindexBlob gives d's index entry the Inc of the record a concurrent
// writer created (the entry holds ours, which no record has), so that
// PurgeBlob of that record removes the entry.
func (db *DB) reindexBlob(ctx context.Context, d digest.Digest, ours, theirs string) error {
	return db.update(ctx, shardBlobIndex, func(tx driver.Tx) error {
		v, ok, err := tx.Get(tIndex, string(d))
		if err != nil || !ok || string(v) != ours {
			return err
		}
		return tx.Put(tIndex, string(d), []byte(theirs))
	})
}

// putTx is PutBlob's transaction on blob:<d>; a missing record is created
// live with inc, or errAbsent when inc is "".
func putTx(tx driver.Tx, b Blob, inc string, rec *blobRec) error {
	cur, ok, err := getBlobRec(tx, b.Digest)
	switch {
	case err != nil:
		return err
	case ok && cur.State == stateTomb:
		return conflict("put blob %s: being deleted", b.Digest)
	case ok && b.Inc != "" && cur.Inc != b.Inc, !ok && b.Inc != "":
		return conflict("put blob %s: claim lost", b.Digest)
	case !ok && inc == "":
		return errAbsent
	case !ok:
		cur = blobRec{Blob: Blob{Digest: b.Digest, Created: utc(tx.Now()), Inc: inc}, State: statePending}
	}
	if cur.State == statePending {
		cur.State, cur.Size, cur.Key = stateLive, b.Size, b.Key
		if c := utc(b.Created); !c.IsZero() {
			cur.Created = c
		}
	}
	use(tx, &cur)
	*rec = cur
	return putBlobRec(tx, cur)
}

// PutBlob implements Blobs.
func (db *DB) PutBlob(ctx context.Context, b Blob) (Blob, error) {
	var rec blobRec
	shard := shardBlob(string(b.Digest))
	err := db.update(ctx, shard, func(tx driver.Tx) error { return putTx(tx, b, "", &rec) })
	if errors.Is(err, errAbsent) {
		inc := NewInc()
		if err = db.indexBlob(ctx, b.Digest, inc); err == nil {
			err = db.update(ctx, shard, func(tx driver.Tx) error { return putTx(tx, b, inc, &rec) })
		}
		if err == nil && rec.Inc != inc {
			err = db.reindexBlob(ctx, b.Digest, inc, rec.Inc)
		}
	}
	if err != nil {
		return Blob{}, err
	}
	return rec.Blob, nil
}

// GetBlob implements Blobs with one Get.
func (db *DB) GetBlob(ctx context.Context, d digest.Digest) (Blob, error) {
	b, st, ok, err := db.readBlob(ctx, driver.Ref{Shard: shardBlob(string(d)), Table: tBlob}, d)
	if err == nil && (!ok || st != stateLive) {
		err = notFound("blob %s", d)
	}
	return b, err
}

// readBlob reads and decodes the blob record (global or link) of d at ref
// with one Get; false when absent.
func (db *DB) readBlob(ctx context.Context, ref driver.Ref, d digest.Digest) (Blob, uint8, bool, error) {
	v, ok, err := db.d.Get(ctx, ref)
	if err != nil || !ok {
		return Blob{}, 0, false, mapErr(err)
	}
	b, st, err := decodeBlob(v, d)
	return b, st, true, err
}

// touchTx refreshes the live record of d; errors as TouchBlob.
func touchTx(tx driver.Tx, d digest.Digest) (blobRec, error) {
	rec, ok, err := getBlobRec(tx, d)
	switch {
	case err != nil:
		return rec, err
	case ok && rec.State == stateTomb:
		return rec, conflict("blob %s being deleted", d)
	case !ok || rec.State != stateLive:
		return rec, notFound("blob %s", d)
	}
	use(tx, &rec)
	return rec, putBlobRec(tx, rec)
}

// TouchBlob implements GC.
func (db *DB) TouchBlob(ctx context.Context, d digest.Digest) (Blob, error) {
	var rec blobRec
	err := db.update(ctx, shardBlob(string(d)), func(tx driver.Tx) (err error) {
		rec, err = touchTx(tx, d)
		return err
	})
	if err != nil {
		return Blob{}, err
	}
	return rec.Blob, nil
}

// LinkBlob implements Blobs in up to four steps (see doc.go): an intent
// in the repository, the use and the linker entry in the blob's shard, the
// repository in the catalog's list of all repositories (first link only),
// and the link itself, written only while the intent survives (garbage
// collection removes intents when it deletes the blob).
func (db *DB) LinkBlob(ctx context.Context, repo string, b Blob) error {
	rs, d := shardRepo(repo), b.Digest
	nonce := NewInc()
	var known bool
	err := db.update(ctx, rs, func(tx driver.Tx) error {
		m, err := db.meta(tx)
		known = m.All
		if err != nil {
			return err
		}
		return tx.Put(tIntent, intentKey(d, nonce), nil)
	})
	if err != nil {
		return err
	}
	var rec blobRec
	err = db.update(ctx, shardBlob(string(d)), func(tx driver.Tx) (err error) {
		if rec, err = touchTx(tx, d); err != nil {
			return err
		}
		return tx.Put(tLinkers, repo, nil)
	})
	if err == nil && !known {
		err = db.update(ctx, shardCatalog, func(tx driver.Tx) error { return tx.Put(tAll, repo, nil) })
	}
	if err != nil {
		_ = db.update(ctx, rs, func(tx driver.Tx) error { return dropIntent(tx, d, nonce) })
		return err
	}
	return db.update(ctx, rs, func(tx driver.Tx) error {
		_, ok, err := tx.Get(tIntent, intentKey(d, nonce))
		if err != nil {
			return err
		}
		if !ok {
			return conflict("link %s into %s: deleted while linking", d, repo)
		}
		if err := tx.Delete(tIntent, intentKey(d, nonce)); err != nil {
			return err
		}
		m, err := db.meta(tx)
		if err != nil {
			return err
		}
		old, had, err := getLink(tx, d)
		if err != nil {
			return err
		}
		if had {
			m.Usage -= old.Size
		}
		l := Blob{Digest: d, Size: b.Size, Key: b.Key, Created: utc(b.Created), Inc: rec.Inc}
		m.Usage += l.Size
		m.All = true
		if err := putLink(tx, l); err != nil {
			return err
		}
		return put(tx, tMeta, "", m)
	})
}

// intentKey is the key of the link intent of one LinkBlob call: linkers
// of one digest into one repository each have their own.
func intentKey(d digest.Digest, nonce string) string { return string(d) + "\x00" + nonce }

func dropIntent(tx driver.Tx, d digest.Digest, nonce string) error {
	return tx.Delete(tIntent, intentKey(d, nonce))
}

// RepoBlob implements Blobs with one Get.
func (db *DB) RepoBlob(ctx context.Context, repo string, d digest.Digest) (Blob, error) {
	b, _, ok, err := db.readBlob(ctx, driver.Ref{Shard: shardRepo(repo), Table: tLink, Key: string(d)}, d)
	if err == nil && !ok {
		err = notFound("blob %s in %s", d, repo)
	}
	return b, err
}

// UnlinkBlob implements Blobs. The blob's linker entry stays until the
// blob is purged (removing it could race a LinkBlob of the same digest).
func (db *DB) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	return db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
		return unlinkTx(tx, db, d, "", repo, true)
	})
}

// unlinkTx removes the link of d (only of incarnation inc when inc is not
// "") and updates the usage; ErrNotFound when strict and not linked.
func unlinkTx(tx driver.Tx, db *DB, d digest.Digest, inc, repo string, strict bool) error {
	l, ok, err := getLink(tx, d)
	if err != nil {
		return err
	}
	if !ok || (inc != "" && l.Inc != "" && l.Inc != inc) {
		if strict {
			return notFound("blob %s in %s", d, repo)
		}
		return nil
	}
	m, err := db.meta(tx)
	if err != nil {
		return err
	}
	m.Usage -= l.Size
	if err := tx.Delete(tLink, string(d)); err != nil {
		return err
	}
	return put(tx, tMeta, "", m)
}

// ListBlobs implements GC: one Range of the blob index and one GetMany
// of the records per page. Index entries without a record (left by a
// crash between the two steps of a claim or a purge) are skipped.
func (db *DB) ListBlobs(ctx context.Context, after digest.Digest, n int) ([]BlobInfo, bool, error) {
	out := []BlobInfo{}
	cursor := string(after)
	for {
		kvs, more, err := db.d.Range(ctx, shardBlobIndex, tIndex, "", cursor, n)
		if err != nil {
			return nil, false, mapErr(err)
		}
		if len(kvs) == 0 {
			return out, more, nil
		}
		refs := make([]driver.Ref, len(kvs))
		for i, kv := range kvs {
			refs[i] = driver.Ref{Shard: shardBlob(kv.Key), Table: tBlob}
		}
		vals, err := db.d.GetMany(ctx, refs)
		if err != nil {
			return nil, false, mapErr(err)
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			b, st, err := decodeBlob(v, digest.Digest(kvs[i].Key))
			if err != nil {
				return nil, false, err
			}
			out = append(out, BlobInfo{Blob: b, Deleting: st == stateTomb, Pending: st == statePending})
		}
		if len(out) > 0 || !more {
			return out, more, nil
		}
		cursor = kvs[len(kvs)-1].Key
	}
}

// DeleteBlobIfUnused implements GC: the tombstone first (in the blob's
// shard, where the Gen check is atomic with it), then the links of every
// repository that ever linked the blob, one repository at a time.
func (db *DB) DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (Blob, error) {
	var (
		rec     blobRec
		linkers []string
	)
	err := db.update(ctx, shardBlob(string(d)), func(tx driver.Tx) error {
		var (
			ok  bool
			err error
		)
		if rec, ok, err = getBlobRec(tx, d); err != nil {
			return err
		} else if !ok {
			return notFound("delete blob %s", d)
		}
		if rec.State != stateTomb {
			if rec.Gen != gen || !rec.LastUsed().Before(usedBefore) {
				return conflict("delete blob %s: used since (gen %d, at %v)", d, rec.Gen, rec.LastUsed())
			}
			rec.State = stateTomb
			if err := putBlobRec(tx, rec); err != nil {
				return err
			}
		}
		kvs, err := rangeAll(tx, tLinkers, "")
		linkers = keys(kvs)
		return err
	})
	if errors.Is(err, ErrConflict) {
		return rec.Blob, err
	}
	if err != nil {
		return Blob{}, err
	}
	for _, repo := range linkers {
		err := db.update(ctx, shardRepo(repo), func(tx driver.Tx) error {
			if _, err := deleteAll(tx, tIntent, string(d)+"\x00"); err != nil {
				return err
			}
			return unlinkTx(tx, db, d, rec.Inc, repo, false)
		})
		if err != nil {
			return Blob{}, err
		}
	}
	return rec.Blob, nil
}

// PurgeBlob implements GC: the record and its linker entries, then its
// blob index entry (if it is still the one of this incarnation).
func (db *DB) PurgeBlob(ctx context.Context, d digest.Digest) error {
	var rec blobRec
	err := db.update(ctx, shardBlob(string(d)), func(tx driver.Tx) error {
		var (
			ok  bool
			err error
		)
		if rec, ok, err = getBlobRec(tx, d); err != nil {
			return err
		} else if !ok || rec.State != stateTomb {
			return notFound("purge blob %s: no tombstone", d)
		}
		kvs, err := rangeAll(tx, tLinkers, "")
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := tx.Delete(tLinkers, kv.Key); err != nil {
				return err
			}
		}
		return tx.Delete(tBlob, "")
	})
	if err != nil {
		return err
	}
	return db.update(ctx, shardBlobIndex, func(tx driver.Tx) error {
		v, ok, err := tx.Get(tIndex, string(d))
		if err != nil || !ok || string(v) != rec.Inc {
			return err
		}
		return tx.Delete(tIndex, string(d))
	})
}
