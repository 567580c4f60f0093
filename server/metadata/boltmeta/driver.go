package boltmeta

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Driver is a driver.Driver in one bbolt database file (layout in tx.go,
// format marker in format.go). Updates are serialized across all shards,
// concurrent ones share a bolt write transaction and its fsync (group
// commit, group.go) and, unless WithNoSync, each is on disk when Update
// returns. View, Get, GetMany, Follow and
// Range each read one consistent snapshot.
type Driver struct {
	db    *bolt.DB
	clock func() time.Time
	last  atomic.Int64 // the latest time handed out, in Unix nanoseconds
	group group        // writers waiting for a commit (group.go)
	lease driver.LeaseTable
}

var (
	_ driver.Driver = (*Driver)(nil)
	_ driver.Local  = (*Driver)(nil)
)

// LocalLeases implements driver.Local: the file is locked to this
// process, so upload leases live in its memory.
func (d *Driver) LocalLeases() *driver.LeaseTable { return &d.lease }

// OpenDriver opens or creates the metadata file at path. A file that
// another process (or another Driver in this process) holds fails after
// the lock timeout (WithTimeout) with an error saying so; a file in
// another format (among them, one written by the boltmeta Store before the
// driver) fails with ErrFormat.
func OpenDriver(path string, opts ...Option) (*Driver, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.timeout, NoSync: o.noSync})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltmeta: open %s: the file is locked by another process or store (waited %v): %w", path, o.timeout, err)
	}
	if err != nil {
		return nil, openError(path, err)
	}
	if err := checkFormat(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltmeta: open %s: %w", path, err)
	}
	return &Driver{db: db, clock: time.Now}, nil
}

// Path returns the database file's path.
func (d *Driver) Path() string { return d.db.Path() }

// now returns the wall clock, never earlier than (and never equal to) a
// time it returned before in this process.
func (d *Driver) now() time.Time {
	for {
		last := d.last.Load()
		n := d.clock().UnixNano()
		if n <= last {
			n = last + 1
		}
		if d.last.CompareAndSwap(last, n) {
			return time.Unix(0, n).UTC()
		}
	}
}

// Update implements driver.Driver: fn runs in a bolt write transaction,
// possibly shared with concurrent updates (group.go), whose writes of fn
// commit when fn returns nil and are rolled back otherwise.
func (d *Driver) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.update(ctx, shard, fn)
}

// View implements driver.Driver.
func (d *Driver) View(ctx context.Context, shard string, fn func(driver.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.db.View(func(tx *bolt.Tx) error {
		return fn(&txn{tx: tx, prefix: shardPrefix(shard), now: d.now()})
	})
}

// Get implements driver.Driver.
func (d *Driver) Get(ctx context.Context, ref driver.Ref) (v []byte, ok bool, err error) {
	err = d.View(ctx, ref.Shard, func(r driver.Reader) error {
		v, ok, err = r.Get(ref.Table, ref.Key)
		return err
	})
	return v, ok, err
}

// GetMany implements driver.Driver: all refs are read in one snapshot.
func (d *Driver) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(refs))
	err := d.db.View(func(tx *bolt.Tx) error {
		for i, ref := range refs {
			x := txn{tx: tx, prefix: shardPrefix(ref.Shard)}
			v, _, err := x.Get(ref.Table, ref.Key)
			if err != nil {
				return err
			}
			out[i] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Follow implements driver.Driver: both records are read in one snapshot.
func (d *Driver) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) (v []byte, ok bool, err error) {
	err = d.View(ctx, shard, func(r driver.Reader) error {
		next, found, err := r.Get(from, key)
		if err != nil || !found {
			return err
		}
		v, ok, err = r.Get(to, string(next))
		return err
	})
	return v, ok, err
}

// Range implements driver.Driver.
func (d *Driver) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) (kvs []driver.KV, more bool, err error) {
	err = d.View(ctx, shard, func(r driver.Reader) error {
		kvs, more, err = r.Range(t, prefix, after, n)
		return err
	})
	return kvs, more, err
}

// Now implements driver.Driver: the wall clock of this process, strictly
// increasing across calls (and across transactions, in commit order).
func (d *Driver) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	return d.now(), nil
}

// Close implements driver.Driver: it closes the file (and releases its
// lock).
func (d *Driver) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("boltmeta: close: %w", err)
	}
	return nil
}
