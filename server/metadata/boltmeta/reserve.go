package boltmeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
)

// bucketReserved holds reservations: key pair(namespace, holder), value
// the reserved bytes as 8 bytes big endian.
var bucketReserved = []byte("reservations")

var _ metadata.Reservations = (*Store)(nil)

// holders reads the reservations of ns.
func holders(tx *bolt.Tx, ns string) map[string]int64 {
	out := map[string]int64{}
	b := tx.Bucket(bucketReserved)
	if b == nil {
		return out
	}
	prefix := pair(ns, "")
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) == 8 {
			out[string(k[len(prefix):])] = int64(binary.BigEndian.Uint64(v))
		}
	}
	return out
}

// Reserve implements metadata.Reservations in one transaction.
func (s *Store) Reserve(ctx context.Context, ns, holder string, n, base, limit int64, maxHolders int) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketReserved)
		if err != nil {
			return err
		}
		hs := holders(tx, ns)
		cur, ok := hs[holder]
		if !ok && maxHolders > 0 && len(hs) >= maxHolders {
			return &metadata.LimitError{Holders: true, Count: len(hs)}
		}
		var sum int64
		for _, v := range hs {
			sum += v
		}
		if n > cur && limit > 0 && base+sum-cur+n > limit {
			return &metadata.LimitError{Count: len(hs), Reserved: sum}
		}
		if ok && n <= cur {
			return nil
		}
		return b.Put(pair(ns, holder), binary.BigEndian.AppendUint64(nil, uint64(max(cur, n))))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: reserve in %s: %w", ns, err)
	}
	return nil
}

// Release implements metadata.Reservations.
func (s *Store) Release(ctx context.Context, ns, holder string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReserved)
		if b == nil {
			return nil
		}
		return b.Delete(pair(ns, holder))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: release in %s: %w", ns, err)
	}
	return nil
}

// Holders implements metadata.Reservations.
func (s *Store) Holders(ctx context.Context, ns string) (map[string]int64, error) {
	var out map[string]int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		out = holders(tx, ns)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltmeta: holders of %s: %w", ns, err)
	}
	return out, nil
}
