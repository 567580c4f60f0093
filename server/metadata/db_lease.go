package metadata

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// leaseRec is a named lease in lease:<name>.
type leaseRec struct {
	Holder  string    `json:"tok"`
	Expires time.Time `json:"exp"`
}

// AcquireLease implements Leases in one transaction.
func (db *DB) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	if token == "" {
		return false, errors.New("metadata: acquire lease " + name + ": empty token")
	}
	won := false
	err := db.update(ctx, shardLease(name), func(tx driver.Tx) error {
		l, ok, err := get[leaseRec](tx, tLease, "")
		if err != nil {
			return err
		}
		now := tx.Now()
		if won = !ok || l.Holder == token || !now.Before(l.Expires); !won {
			return nil
		}
		return put(tx, tLease, "", leaseRec{Holder: token, Expires: utc(now.Add(ttl))})
	})
	return won && err == nil, err
}

// ReleaseLease implements Leases in one transaction.
func (db *DB) ReleaseLease(ctx context.Context, name, token string) error {
	return db.update(ctx, shardLease(name), func(tx driver.Tx) error {
		l, ok, err := get[leaseRec](tx, tLease, "")
		if err != nil || !ok || l.Holder != token {
			return err
		}
		return tx.Delete(tLease, "")
	})
}

// RepoUsage implements Usage with one Get.
func (db *DB) RepoUsage(ctx context.Context, repo string) (int64, error) {
	m, _, err := getRec[repoMeta](ctx, db, shardRepo(repo), tMeta, "")
	return m.Usage, err
}

// NamespaceUsage implements Usage: one Range of the repositories of ns in
// the catalog and one GetMany of their meta records and of the owner's
// package usage.
func (db *DB) NamespaceUsage(ctx context.Context, ns string) (int64, error) {
	kvs, _, err := db.d.Range(ctx, shardCatalog, tAll, ns+"/", "", -1)
	if err != nil {
		return 0, mapErr(err)
	}
	refs := []driver.Ref{
		{Shard: shardOwner(PackageKey(ns)), Table: tOwnerMeta},
		{Shard: shardRepo(ns), Table: tMeta},
	}
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, ns+"/") {
			refs = append(refs, driver.Ref{Shard: shardRepo(kv.Key), Table: tMeta})
		}
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return 0, mapErr(err)
	}
	var total int64
	for i, v := range vals {
		if v == nil {
			continue
		}
		if i == 0 {
			var o ownerMeta
			if err := decode(v, &o); err != nil {
				return 0, err
			}
			total += o.Usage
			continue
		}
		var m repoMeta
		if err := decode(v, &m); err != nil {
			return 0, err
		}
		total += m.Usage
	}
	return total, nil
}

// Reserve implements Reservations in one transaction on ns:<ns>.
func (db *DB) Reserve(ctx context.Context, ns, holder string, n, base, limit int64, maxHolders int) error {
	return db.update(ctx, shardNS(ns), func(tx driver.Tx) error {
		hs, err := holders(tx)
		if err != nil {
			return err
		}
		cur, ok := hs[holder]
		if !ok && maxHolders > 0 && len(hs) >= maxHolders {
			return &LimitError{Holders: true, Count: len(hs)}
		}
		var sum int64
		for _, v := range hs {
			sum += v
		}
		if n > cur && limit > 0 && base+sum-cur+n > limit {
			return &LimitError{Count: len(hs), Reserved: sum}
		}
		if ok && cur >= n {
			return nil
		}
		return put(tx, tReserve, holder, max(cur, n))
	})
}

func holders(r driver.Reader) (map[string]int64, error) {
	kvs, err := rangeAll(r, tReserve, "")
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(kvs))
	for _, kv := range kvs {
		var v int64
		if err := decode(kv.Value, &v); err != nil {
			return nil, err
		}
		out[kv.Key] = v
	}
	return out, nil
}

// Release implements Reservations.
func (db *DB) Release(ctx context.Context, ns, holder string) error {
	return db.update(ctx, shardNS(ns), func(tx driver.Tx) error { return tx.Delete(tReserve, holder) })
}

// Holders implements Reservations with one Range.
func (db *DB) Holders(ctx context.Context, ns string) (map[string]int64, error) {
	var out map[string]int64
	err := db.view(ctx, shardNS(ns), func(r driver.Reader) (err error) {
		out, err = holders(r)
		return err
	})
	return out, err
}

// counterRec is a fixed-window counter in counter:<key>.
type counterRec struct {
	N   int64     `json:"n"`
	End time.Time `json:"end"`
}

// Hit implements Counter in one transaction.
func (db *DB) Hit(ctx context.Context, key string, window time.Duration, n int64) (int64, time.Duration, error) {
	var c counterRec
	var left time.Duration
	err := db.update(ctx, shardCounter(key), func(tx driver.Tx) error {
		var (
			ok  bool
			err error
		)
		if c, ok, err = get[counterRec](tx, tCounter, ""); err != nil {
			return err
		}
		now := tx.Now()
		if !ok || !now.Before(c.End) {
			if n == 0 {
				c, left = counterRec{}, 0
				if ok {
					return tx.Delete(tCounter, "") // an ended window goes when read
				}
				return nil
			}
			c = counterRec{End: utc(now.Add(window))}
		}
		c.N += n
		left = c.End.Sub(now)
		if n == 0 {
			return nil
		}
		return put(tx, tCounter, "", c)
	})
	return c.N, left, err
}
