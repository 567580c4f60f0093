package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Upload leases on a local store (driver.Local: bbolt, memory) live in
// the driver's lease table, not in the session record: only this process
// can open the store, so the table excludes every writer there is, and a
// crash, which ends every writer, ends every lease with them. A lease
// operation holds the session's stripe of the table across its check and
// its write, as the stored form does inside one transaction. What must
// survive a crash is still written: the session's offset and hash states
// (ReleaseUpload) and a takeover's Epoch (AcquireUpload over a lease that
// another token still holds), which fences the stale holder's staging
// bytes out.

// localLeases returns the driver's lease table, nil when leases are
// stored in the session records.
func (db *DB) localLeases() *driver.LeaseTable {
	if l, ok := db.d.(driver.Local); ok {
		return l.LocalLeases()
	}
	return nil
}

// acquireLocal is AcquireUpload with the lease in t: one read, and a
// write only for a takeover.
func (db *DB) acquireLocal(ctx context.Context, t *driver.LeaseTable, id string, offset int64, token string, ttl time.Duration) (Upload, error) {
	defer t.Lock(id)()
	rs := shardUpload(id)
	rec, ok, err := getRec[uploadRec](ctx, db, rs, tUpload, "")
	if err != nil {
		return Upload{}, err
	}
	if !ok {
		t.Delete(id)
		return Upload{}, notFound("upload %s", id)
	}
	now, err := db.d.Now(ctx)
	if err != nil {
		return Upload{}, mapErr(err)
	}
	l := t.Get(id)
	takeover, err := grantLease(rec, l.Holder, l.Expires, now, offset, token)
	if err != nil {
		return normUpload(rec.Upload), err
	}
	if takeover {
		// The new Epoch must be stored before the new holder writes, or a
		// crash could hand the stale holder's epoch out again.
		err := db.update(ctx, rs, func(tx driver.Tx) error {
			cur, ok, err := get[uploadRec](tx, tUpload, "")
			if err != nil {
				return err
			} else if !ok {
				return notFound("upload %s", id)
			}
			rec = cur
			if _, err := grantLease(rec, "", time.Time{}, now, offset, token); err != nil {
				return err // the offset moved meanwhile
			}
			rec.Epoch++
			return put(tx, tUpload, "", rec)
		})
		if err != nil {
			return normUpload(rec.Upload), err
		}
	}
	t.Set(id, driver.Lease{Holder: token, Expires: now.Add(ttl)})
	return normUpload(rec.Upload), nil
}

// releaseLocal is ReleaseUpload with the lease in t: one transaction,
// which stores the session.
func (db *DB) releaseLocal(ctx context.Context, t *driver.LeaseTable, u Upload, token string) error {
	defer t.Lock(u.ID)()
	err := db.update(ctx, shardUpload(u.ID), func(tx driver.Tx) error {
		return releaseTx(tx, u, func(uploadRec) bool { return t.Get(u.ID).Holder == token })
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Delete(u.ID)
	}
	return err
}
