// Package memdriver is an in-memory metadata driver (driver.Driver) for
// tests: every transaction runs under one mutex, its writes applied at
// once and undone when it fails. Close drops everything.
package memdriver

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Driver is an in-memory driver.Driver. The zero value is not usable;
// call New.
type Driver struct {
	mu     sync.Mutex
	shards map[string]map[string]*table
	now    func() time.Time
	lease  driver.LeaseTable
}

type table struct {
	vals map[string][]byte
	keys []string // sorted; maintained for ordered tables only
}

var (
	_ driver.Driver = (*Driver)(nil)
	_ driver.Local  = (*Driver)(nil)
)

// LocalLeases implements driver.Local (memory is one process's).
func (d *Driver) LocalLeases() *driver.LeaseTable { return &d.lease }

// New returns an empty driver.
func New() *Driver {
	return &Driver{shards: map[string]map[string]*table{}, now: time.Now}
}

// SetClock replaces the driver's clock (for tests of expiry).
func (d *Driver) SetClock(now func() time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = now
}

func (d *Driver) clock() time.Time { return time.Unix(0, d.now().UnixNano()).UTC() }

func (d *Driver) table(shard string, t driver.Table, create bool) *table {
	s := d.shards[shard]
	if s == nil {
		if !create {
			return nil
		}
		s = map[string]*table{}
		d.shards[shard] = s
	}
	tb := s[t.Name]
	if tb == nil && create {
		tb = &table{vals: map[string][]byte{}}
		s[t.Name] = tb
	}
	return tb
}

// tx is a transaction under d.mu: writes apply at once, undo reverts
// them.
type tx struct {
	d     *Driver
	shard string
	now   time.Time
	undo  []func()
	write bool
}

func (x *tx) Get(t driver.Table, key string) ([]byte, bool, error) {
	tb := x.d.table(x.shard, t, false)
	if tb == nil {
		return nil, false, nil
	}
	v, ok := tb.vals[key]
	return slices.Clone(v), ok, nil
}

func (x *tx) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	if !t.Ordered {
		return nil, false, fmt.Errorf("memdriver: range over unordered table %s", t.Name)
	}
	out := []driver.KV{}
	tb := x.d.table(x.shard, t, false)
	if tb == nil {
		return out, false, nil
	}
	from := prefix
	if after > from {
		from = after
	}
	i := sort.SearchStrings(tb.keys, from)
	if i < len(tb.keys) && tb.keys[i] == after {
		i++
	}
	for ; i < len(tb.keys) && strings.HasPrefix(tb.keys[i], prefix); i++ {
		if n >= 0 && len(out) == n {
			return out, true, nil
		}
		k := tb.keys[i]
		out = append(out, driver.KV{Key: k, Value: slices.Clone(tb.vals[k])})
	}
	return out, false, nil
}

func (x *tx) Put(t driver.Table, key string, value []byte) error {
	if !x.write {
		return fmt.Errorf("memdriver: write in a view")
	}
	tb := x.d.table(x.shard, t, true)
	old, had := tb.vals[key]
	tb.vals[key] = slices.Clone(value)
	if t.Ordered && !had {
		i := sort.SearchStrings(tb.keys, key)
		tb.keys = slices.Insert(tb.keys, i, key)
	}
	x.undo = append(x.undo, func() {
		if had {
			tb.vals[key] = old
			return
		}
		delete(tb.vals, key)
		if t.Ordered {
			i := sort.SearchStrings(tb.keys, key)
			tb.keys = slices.Delete(tb.keys, i, i+1)
		}
	})
	return nil
}

func (x *tx) Delete(t driver.Table, key string) error {
	if !x.write {
		return fmt.Errorf("memdriver: write in a view")
	}
	tb := x.d.table(x.shard, t, false)
	if tb == nil {
		return nil
	}
	old, had := tb.vals[key]
	if !had {
		return nil
	}
	delete(tb.vals, key)
	if t.Ordered {
		i := sort.SearchStrings(tb.keys, key)
		tb.keys = slices.Delete(tb.keys, i, i+1)
	}
	x.undo = append(x.undo, func() {
		tb.vals[key] = old
		if t.Ordered {
			i := sort.SearchStrings(tb.keys, key)
			tb.keys = slices.Insert(tb.keys, i, key)
		}
	})
	return nil
}

func (x *tx) Now() time.Time { return x.now }

// Update implements driver.Driver.
func (d *Driver) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	x := &tx{d: d, shard: shard, now: d.clock(), write: true}
	err := fn(x)
	if err != nil {
		for i := len(x.undo) - 1; i >= 0; i-- {
			x.undo[i]()
		}
	}
	return err
}

// View implements driver.Driver.
func (d *Driver) View(ctx context.Context, shard string, fn func(driver.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return fn(&tx{d: d, shard: shard, now: d.clock()})
}

// Get implements driver.Driver.
func (d *Driver) Get(ctx context.Context, ref driver.Ref) ([]byte, bool, error) {
	var (
		v  []byte
		ok bool
	)
	err := d.View(ctx, ref.Shard, func(r driver.Reader) error {
		var err error
		v, ok, err = r.Get(ref.Table, ref.Key)
		return err
	})
	return v, ok, err
}

// GetMany implements driver.Driver.
func (d *Driver) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([][]byte, len(refs))
	for i, ref := range refs {
		if tb := d.table(ref.Shard, ref.Table, false); tb != nil {
			if v, ok := tb.vals[ref.Key]; ok {
				out[i] = slices.Clone(v)
				if out[i] == nil {
					out[i] = []byte{}
				}
			}
		}
	}
	return out, nil
}

// Follow implements driver.Driver.
func (d *Driver) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) ([]byte, bool, error) {
	var (
		v  []byte
		ok bool
	)
	err := d.View(ctx, shard, func(r driver.Reader) error {
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
func (d *Driver) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	var (
		kvs  []driver.KV
		more bool
	)
	err := d.View(ctx, shard, func(r driver.Reader) error {
		var err error
		kvs, more, err = r.Range(t, prefix, after, n)
		return err
	})
	return kvs, more, err
}

// Now implements driver.Driver.
func (d *Driver) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock(), nil
}

// Close implements driver.Driver: it drops all data.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shards = map[string]map[string]*table{}
	return nil
}
