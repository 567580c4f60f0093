// Package driver defines the small interface that a metadata store
// implements: records grouped into shards, read and changed in atomic
// transactions scoped to one shard, and ordered ranges for pagination.
// Package metadata builds every rule of the registry (blobs, manifests,
// tags, referrers, uploads, garbage collection, quotas, packages,
// accounts and tokens) once over it; a driver holds no rule of its own.
// This is the shape of gocloud.dev/blob (a portable type over a small
// driver) applied to metadata.
//
// # Data model
//
// A shard is a named group of records that change together: one
// repository, one blob digest, one owner, one upload session, or a global
// index. Within a shard, records live in tables; a record is a key and a
// value of bytes. Tables whose Ordered is set also list their keys in
// ascending byte order (Range).
//
// A transaction (Update) reads and writes the records of one shard and
// either commits all its writes or none, as if no other transaction ran
// concurrently on that shard. On Redis a shard is one hash tag, so a
// transaction stays atomic on a cluster; on bbolt and in memory every
// transaction is serialized. Work that spans shards is done by the
// portable layer as a sequence of transactions in an order that keeps
// every invariant (see package metadata).
//
// The drivers are memdriver (tests), boltmeta (the embedded, durable
// store) and redisdriver (standalone, Sentinel or Cluster); all pass
// drivertest.
package driver

import (
	"context"
	"errors"
	"time"
)

// ErrConflict is returned by Update when the transaction kept losing to
// concurrent ones (optimistic drivers retry a bounded number of times).
var ErrConflict = errors.New("driver: transaction conflict")

// Table names a table of records. Tables are created on first write.
type Table struct {
	// Name is the table's name: letters, digits, '-' and '_'.
	Name string
	// Ordered tables keep their keys sorted for Range. Unordered tables
	// are cheaper on some drivers (one hash on Redis instead of a hash and
	// a sorted set); Range on them is an error.
	Ordered bool
}

// KV is one record of a Range.
type KV struct {
	Key   string
	Value []byte
}

// Ref names one record anywhere: its shard, table and key.
type Ref struct {
	Shard string
	Table Table
	Key   string
}

// Reader reads records of one shard.
type Reader interface {
	// Get returns the value of key in t, and false when there is none.
	Get(t Table, key string) ([]byte, bool, error)
	// Range returns the records of the ordered table t whose keys start
	// with prefix and sort strictly after after (when after is not
	// empty), in ascending key order, at most n of them (n < 0: all).
	// more reports whether records follow. The slice is non-nil.
	Range(t Table, prefix, after string, n int) (kvs []KV, more bool, err error)
}

// Tx is a transaction on one shard. Its reads see the shard as of the
// transaction's start plus its own writes.
type Tx interface {
	Reader
	// Put sets the value of key in t.
	Put(t Table, key string, value []byte) error
	// Delete removes key from t; deleting a missing key is not an error.
	Delete(t Table, key string) error
	// Now returns the store's clock at the start of the transaction (for
	// Redis, the server's TIME), the same for every call.
	Now() time.Time
}

// Driver is a metadata store's backend. Its methods are safe for
// concurrent use.
type Driver interface {
	// Update runs fn in a transaction on shard and commits its writes
	// when fn returns nil; when fn returns an error nothing is written
	// and the error is returned as is. fn may run more than once (an
	// optimistic driver reruns it after a conflicting commit), so it must
	// have no effects beyond its writes through tx, and must not keep tx.
	Update(ctx context.Context, shard string, fn func(tx Tx) error) error
	// View runs fn with a read-only view of shard. Reads of a single
	// record are atomic; on drivers without snapshots (Redis) two reads
	// may see different states.
	View(ctx context.Context, shard string, fn func(r Reader) error) error
	// Get returns one record in one round trip, and false when absent.
	Get(ctx context.Context, ref Ref) ([]byte, bool, error)
	// GetMany returns the values of refs (nil where absent), reading them
	// in one round trip where the driver can (a pipeline on Redis).
	GetMany(ctx context.Context, refs []Ref) ([][]byte, error)
	// Follow reads key in table from of shard and, when it exists, the
	// record of table to whose key is that value, in one round trip; it
	// returns the second value, and false when either record is missing.
	// (A tag resolves to its manifest with one Follow.)
	Follow(ctx context.Context, shard string, from Table, key string, to Table) ([]byte, bool, error)
	// Range is Reader.Range on shard in one round trip.
	Range(ctx context.Context, shard string, t Table, prefix, after string, n int) ([]KV, bool, error)
	// Now returns the store's clock.
	Now(ctx context.Context) (time.Time, error)
	// Close releases the driver's resources.
	Close() error
}

// ErrUnavailable is wrapped by drivers around errors that mean the store
// cannot be reached right now (network, timeouts, a cluster without a
// master); package metadata re-exports it as metadata.ErrUnavailable.
var ErrUnavailable = errors.New("metadata store unavailable")

// RangeQuery is one Range of a RangeMany.
type RangeQuery struct {
	// Shard, Table, Prefix, After and N are Range's arguments.
	Shard  string
	Table  Table
	Prefix string
	After  string
	N      int
}

// RangeResult is the answer to one RangeQuery.
type RangeResult struct {
	// KVs and More are Range's results.
	KVs  []KV
	More bool
}

// RangeManyer is implemented by drivers that run many Ranges, of any
// shards, in one round trip (a pipeline on Redis). Package metadata uses
// it where it walks many shards (garbage collection) and runs the Ranges
// one by one on drivers without it.
type RangeManyer interface {
	// RangeMany runs qs and returns their results in order.
	RangeMany(ctx context.Context, qs []RangeQuery) ([]RangeResult, error)
}
