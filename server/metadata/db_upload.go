package metadata

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// uploadRec is an upload session with its write lease, in upload:<id>.
type uploadRec struct {
	Upload
	// Holder is the token holding the lease ("" none), Expires its end
	// by the store's clock.
	Holder  string    `json:"tok,omitempty"`
	Expires time.Time `json:"exp,omitzero"`
}

// errEmptyToken is returned for a lease operation without a token.
var errEmptyToken = errors.New("metadata: empty lease token")

func normUpload(u Upload) Upload {
	if len(u.State) == 0 {
		u.State = nil
	}
	return u
}

// CreateUpload implements Uploads: the session's ID enters the upload
// index (for ExpiredUploads) before the session is stored.
func (db *DB) CreateUpload(ctx context.Context, u Upload) error {
	err := db.update(ctx, shardUploadIdx, func(tx driver.Tx) error { return tx.Put(tIndex, u.ID, nil) })
	if err != nil {
		return err
	}
	return db.update(ctx, shardUpload(u.ID), func(tx driver.Tx) error {
		if _, ok, err := tx.Get(tUpload, ""); err != nil || ok {
			if ok {
				return errorf(ErrExists, "upload %s", u.ID)
			}
			return err
		}
		u = normUpload(u)
		u.Epoch = 0
		u.Started, u.Updated = utc(u.Started), utc(u.Updated)
		if u.Started.IsZero() {
			u.Started = utc(tx.Now())
		}
		if u.Updated.IsZero() {
			u.Updated = u.Started
		}
		return put(tx, tUpload, "", uploadRec{Upload: u})
	})
}

// GetUpload implements Uploads with one Get.
func (db *DB) GetUpload(ctx context.Context, id string) (Upload, error) {
	rec, ok, err := getRec[uploadRec](ctx, db, shardUpload(id), tUpload, "")
	if err != nil {
		return Upload{}, err
	}
	if !ok {
		return Upload{}, notFound("upload %s", id)
	}
	return normUpload(rec.Upload), nil
}

// AcquireUpload implements Uploads in one transaction (on a local store,
// one read: see db_uploadlease.go).
func (db *DB) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (Upload, error) {
	if token == "" {
		return Upload{}, errEmptyToken
	}
	if t := db.localLeases(); t != nil {
		return db.acquireLocal(ctx, t, id, offset, token, ttl)
	}
	var rec uploadRec
	err := db.update(ctx, shardUpload(id), func(tx driver.Tx) error {
		var (
			ok  bool
			err error
		)
		if rec, ok, err = get[uploadRec](tx, tUpload, ""); err != nil {
			return err
		} else if !ok {
			return notFound("upload %s", id)
		}
		now := tx.Now()
		takeover, err := grantLease(rec, rec.Holder, rec.Expires, now, offset, token)
		if err != nil {
			return err
		}
		if takeover {
			rec.Epoch++
		}
		rec.Holder, rec.Expires = token, utc(now.Add(ttl))
		return put(tx, tUpload, "", rec)
	})
	return normUpload(rec.Upload), err
}

// grantLease is AcquireUpload's decision over session rec, whose lease
// holder holds until expires: ErrConflict when another token holds it at
// now or the session is not at offset (< 0: any), else whether granting
// it to token is a takeover (another token held it: the Epoch goes up).
func grantLease(rec uploadRec, holder string, expires, now time.Time, offset int64, token string) (takeover bool, err error) {
	if holder != "" && holder != token && now.Before(expires) {
		return false, conflict("upload %s: leased by another writer", rec.ID)
	}
	if offset >= 0 && offset != rec.Offset {
		return false, conflict("upload %s: offset %d, want %d", rec.ID, rec.Offset, offset)
	}
	return holder != "" && holder != token, nil
}

// ReleaseUpload implements Uploads in one transaction.
func (db *DB) ReleaseUpload(ctx context.Context, u Upload, token string) error {
	if token == "" {
		return errEmptyToken
	}
	if t := db.localLeases(); t != nil {
		return db.releaseLocal(ctx, t, u, token)
	}
	return db.update(ctx, shardUpload(u.ID), func(tx driver.Tx) error {
		return releaseTx(tx, u, func(rec uploadRec) bool { return rec.Holder == token })
	})
}

// releaseTx is ReleaseUpload's transaction: it stores u in its session
// record, without a lease, when held says the caller holds it.
func releaseTx(tx driver.Tx, u Upload, held func(uploadRec) bool) error {
	rec, ok, err := get[uploadRec](tx, tUpload, "")
	if err != nil {
		return err
	} else if !ok {
		return notFound("upload %s", u.ID)
	}
	if !held(rec) {
		return conflict("upload %s: lease not held", u.ID)
	}
	rec.Offset, rec.State = u.Offset, slices.Clone(u.State)
	rec.Updated = utc(u.Updated)
	if rec.Updated.IsZero() {
		rec.Updated = utc(tx.Now())
	}
	rec.Upload = normUpload(rec.Upload)
	rec.Holder, rec.Expires = "", time.Time{} // (local stores: as an older binary may have left them)
	return put(tx, tUpload, "", rec)
}

// DeleteUpload implements Uploads: the session and its package upload
// record in one transaction, then its index entry.
func (db *DB) DeleteUpload(ctx context.Context, id string) error {
	t := db.localLeases()
	if t != nil {
		defer t.Lock(id)()
	}
	missing := false
	err := db.update(ctx, shardUpload(id), func(tx driver.Tx) error {
		_, ok, err := tx.Get(tUpload, "")
		if err != nil {
			return err
		}
		missing = !ok
		if err := tx.Delete(tPkgUpload, ""); err != nil {
			return err
		}
		return tx.Delete(tUpload, "")
	})
	if err == nil {
		err = db.update(ctx, shardUploadIdx, func(tx driver.Tx) error { return tx.Delete(tIndex, id) })
	}
	if err == nil && missing {
		err = notFound("upload %s", id)
	}
	if t != nil && (err == nil || errors.Is(err, ErrNotFound)) {
		t.Delete(id)
	}
	return err
}

// ExpiredUploads implements Uploads: one Range of the upload index and
// one GetMany of the sessions.
func (db *DB) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]Upload, error) {
	kvs, _, err := db.d.Range(ctx, shardUploadIdx, tIndex, "", "", -1)
	if err != nil {
		return nil, mapErr(err)
	}
	refs := make([]driver.Ref, len(kvs))
	for i, kv := range kvs {
		refs[i] = driver.Ref{Shard: shardUpload(kv.Key), Table: tUpload}
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return nil, mapErr(err)
	}
	out := []Upload{}
	for _, v := range vals {
		if v == nil {
			continue // a session being created or deleted
		}
		var rec uploadRec
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		if rec.Updated.Before(before) {
			out = append(out, normUpload(rec.Upload))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.Before(out[j].Updated)
		}
		return out[i].ID < out[j].ID
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// CreatePackageUpload implements Packages: the record lives in the shard
// of the storage session of the same ID, so DeleteUpload removes both.
func (db *DB) CreatePackageUpload(ctx context.Context, u PackageUpload) error {
	return db.update(ctx, shardUpload(u.ID), func(tx driver.Tx) error {
		if _, ok, err := tx.Get(tPkgUpload, ""); err != nil || ok {
			if ok {
				return errorf(ErrExists, "package upload %s", u.ID)
			}
			return err
		}
		u.Started = utc(u.Started)
		if u.Started.IsZero() {
			u.Started = utc(tx.Now())
		}
		return put(tx, tPkgUpload, "", u)
	})
}

// GetPackageUpload implements Packages with one Get.
func (db *DB) GetPackageUpload(ctx context.Context, id string) (PackageUpload, error) {
	u, ok, err := getRec[PackageUpload](ctx, db, shardUpload(id), tPkgUpload, "")
	if err == nil && !ok {
		err = notFound("package upload %s", id)
	}
	return u, err
}

// UpdatePackageUpload implements Packages.
func (db *DB) UpdatePackageUpload(ctx context.Context, u PackageUpload, prevOffset int64) error {
	return db.update(ctx, shardUpload(u.ID), func(tx driver.Tx) error {
		cur, ok, err := get[PackageUpload](tx, tPkgUpload, "")
		if err != nil {
			return err
		} else if !ok {
			return notFound("package upload %s", u.ID)
		}
		if cur.Offset != prevOffset {
			return conflict("package upload %s at offset %d, not %d", u.ID, cur.Offset, prevOffset)
		}
		cur.Offset, cur.MD5, cur.SHA1 = u.Offset, u.MD5, u.SHA1
		return put(tx, tPkgUpload, "", cur)
	})
}

// DeletePackageUpload implements Packages.
func (db *DB) DeletePackageUpload(ctx context.Context, id string) error {
	return db.update(ctx, shardUpload(id), func(tx driver.Tx) error {
		if _, ok, err := tx.Get(tPkgUpload, ""); err != nil || !ok {
			if err == nil {
				err = notFound("package upload %s", id)
			}
			return err
		}
		return tx.Delete(tPkgUpload, "")
	})
}
