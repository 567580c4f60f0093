package boltmeta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Layout: each table is one top-level bucket named after it; a record's
// bolt key is its shard's prefix (the shard's length as a uvarint, then
// the shard) followed by the record's key. The length keeps shards whose
// names share a prefix apart ("a" and "ab"), all records of one shard
// and table are adjacent and sorted by key, so Range is one cursor walk,
// and neither empty shards nor empty keys need special cases. Buckets are
// never nested, so a deleted shard leaves nothing behind.

// shardPrefix returns the bolt key prefix of shard.
func shardPrefix(shard string) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(shard)), uint64(len(shard)))
	return append(p, shard...)
}

// recordKey returns a new slice: prefix then key.
func recordKey(prefix []byte, key string) []byte {
	k := make([]byte, 0, len(prefix)+len(key))
	return append(append(k, prefix...), key...)
}

// checkTable rejects table names outside driver.Table's alphabet, which
// also keeps them apart from the format bucket.
func checkTable(t driver.Table) error {
	if t.Name == "" {
		return fmt.Errorf("boltmeta: empty table name")
	}
	for _, c := range []byte(t.Name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("boltmeta: table name %q: only letters, digits, '-' and '_'", t.Name)
		}
	}
	return nil
}

// txn is a driver.Tx (and driver.Reader) over one bolt transaction,
// scoped to one shard.
type txn struct {
	tx     *bolt.Tx
	prefix []byte
	now    time.Time
}

var _ driver.Tx = (*txn)(nil)

func (x *txn) bucket(t driver.Table) (*bolt.Bucket, error) {
	if err := checkTable(t); err != nil {
		return nil, err
	}
	return x.tx.Bucket([]byte(t.Name)), nil
}

// Get implements driver.Reader. The value is a copy, valid after the
// transaction.
func (x *txn) Get(t driver.Table, key string) ([]byte, bool, error) {
	b, err := x.bucket(t)
	if err != nil || b == nil {
		return nil, false, err
	}
	k := recordKey(x.prefix, key)
	got, v := b.Cursor().Seek(k)
	if !bytes.Equal(got, k) {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}

// Range implements driver.Reader.
func (x *txn) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	if !t.Ordered {
		return nil, false, fmt.Errorf("boltmeta: range over unordered table %s", t.Name)
	}
	out := []driver.KV{}
	b, err := x.bucket(t)
	if err != nil || b == nil {
		return out, false, err
	}
	from := prefix
	if after > from {
		from = after
	}
	all := recordKey(x.prefix, prefix)
	c := b.Cursor()
	k, v := c.Seek(recordKey(x.prefix, from))
	if after != "" && bytes.Equal(k, recordKey(x.prefix, after)) {
		k, v = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, all); k, v = c.Next() {
		if n >= 0 && len(out) == n {
			return out, true, nil
		}
		out = append(out, driver.KV{Key: string(k[len(x.prefix):]), Value: append([]byte{}, v...)})
	}
	return out, false, nil
}

// Put implements driver.Tx.
func (x *txn) Put(t driver.Table, key string, value []byte) error {
	if err := checkTable(t); err != nil {
		return err
	}
	b, err := x.tx.CreateBucketIfNotExists([]byte(t.Name))
	if err != nil {
		return fmt.Errorf("boltmeta: table %s: %w", t.Name, err)
	}
	// bolt keeps both slices until the commit: give it copies.
	if err := b.Put(recordKey(x.prefix, key), append([]byte{}, value...)); err != nil {
		return fmt.Errorf("boltmeta: put %s/%q: %w", t.Name, key, err)
	}
	return nil
}

// Delete implements driver.Tx.
func (x *txn) Delete(t driver.Table, key string) error {
	b, err := x.bucket(t)
	if err != nil || b == nil {
		return err
	}
	if err := b.Delete(recordKey(x.prefix, key)); err != nil {
		return fmt.Errorf("boltmeta: delete %s/%q: %w", t.Name, key, err)
	}
	return nil
}

// Now implements driver.Tx.
func (x *txn) Now() time.Time { return x.now }
