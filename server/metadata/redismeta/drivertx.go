package redismeta

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// tx is one attempt of a transaction: reads go to Redis (each validating
// the ones before), writes are buffered until commit.
type tx struct {
	ctx    context.Context
	d      *Driver
	tag    string
	tables []*txTable // in first-use order: the commit's KEYS
	byName map[string]*txTable
	now    time.Time
	hasNow bool
	stale  bool  // a read saw a table move: rerun fn
	err    error // Redis failed: Update returns it
}

// txTable is what a transaction did with one table.
type txTable struct {
	t       driver.Table
	h, z, v string
	read    bool
	version string             // as read
	writes  map[string]*[]byte // key → value; nil: deleted
	cache   map[string]*[]byte // key → value read; nil: absent
}

func newTx(ctx context.Context, d *Driver, shard string) *tx {
	return &tx{ctx: ctx, d: d, tag: d.tag(shard), byName: map[string]*txTable{}}
}

func (x *tx) table(t driver.Table) *txTable {
	tt := x.byName[t.Name]
	if tt == nil {
		tt = &txTable{t: t, writes: map[string]*[]byte{}, cache: map[string]*[]byte{}}
		tt.h, tt.z, tt.v = tableKeys(x.tag, t)
		x.byName[t.Name] = tt
		x.tables = append(x.tables, tt)
	}
	return tt
}

// readSet returns the version keys and versions of the tables read.
func (x *tx) readSet() (keys []string, versions []any) {
	for _, tt := range x.tables {
		if tt.read {
			keys = append(keys, tt.v)
			versions = append(versions, tt.version)
		}
	}
	return keys, versions
}

// observe records a read's version and time; false when the table
// moved since it was last read.
func (x *tx) observe(tt *txTable, version string, now time.Time) bool {
	if tt.read && tt.version != version {
		return false
	}
	tt.read, tt.version = true, version
	if !x.hasNow {
		x.now, x.hasNow = now, true
	}
	return true
}

// failed records a Redis error for Update and returns it.
func (x *tx) failed(err error) error {
	x.err = fail(err)
	return x.err
}

// done returns the error that ends this attempt, if any.
func (x *tx) done() error {
	if x.err != nil {
		return x.err
	}
	if x.stale {
		return errStale
	}
	return nil
}

func (x *tx) staleRead() error {
	x.stale = true
	return errStale
}

// Get implements driver.Reader: a buffered write, or one script.
func (x *tx) Get(t driver.Table, key string) ([]byte, bool, error) {
	if err := x.done(); err != nil {
		return nil, false, err
	}
	tt := x.table(t)
	for _, m := range []map[string]*[]byte{tt.writes, tt.cache} {
		if w, ok := m[key]; ok { // a snapshot reads the same again
			if w == nil {
				return nil, false, nil
			}
			return slices.Clone(*w), true, nil
		}
	}
	vkeys, versions := x.readSet()
	r, moved, err := reply(getScript.Run(x.ctx, x.d.c, append([]string{tt.h, tt.v}, vkeys...), append([]any{key}, versions...)...))
	if moved {
		return nil, false, x.staleRead()
	}
	if err != nil {
		return nil, false, x.failed(err)
	}
	if len(r) != 4 {
		return nil, false, x.failed(fmt.Errorf("redismeta: malformed read reply"))
	}
	version, _ := r[0].(string)
	if !x.observe(tt, version, scriptTime(r[2], r[3])) {
		return nil, false, x.staleRead()
	}
	v, ok := bulk(r[1])
	tt.cache[key] = nil
	if ok {
		tt.cache[key] = &v
		v = slices.Clone(v)
	}
	return v, ok, nil
}

// Range implements driver.Reader: one script, merged with the buffered
// writes.
func (x *tx) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	if !t.Ordered {
		return nil, false, fmt.Errorf("redismeta: range over unordered table %s", t.Name)
	}
	if err := x.done(); err != nil {
		return nil, false, err
	}
	tt := x.table(t)
	// Fetch enough that, after dropping own deletes, n+1 remain.
	fetch := n
	if n >= 0 {
		for _, w := range tt.writes {
			if w == nil {
				fetch++
			}
		}
	}
	lo, hi, count := lexBounds(prefix, after, fetch)
	vkeys, versions := x.readSet()
	r, moved, err := reply(txRangeScript.Run(x.ctx, x.d.c, append([]string{tt.h, tt.z, tt.v}, vkeys...),
		append([]any{lo, hi, count}, versions...)...))
	if moved {
		return nil, false, x.staleRead()
	}
	if err != nil {
		return nil, false, x.failed(err)
	}
	if len(r) != 5 {
		return nil, false, x.failed(fmt.Errorf("redismeta: malformed range reply"))
	}
	version, _ := r[0].(string)
	if !x.observe(tt, version, scriptTime(r[3], r[4])) {
		return nil, false, x.staleRead()
	}
	got, err := kvs(r[1], r[2])
	if err != nil {
		return nil, false, x.failed(err)
	}
	if len(tt.writes) > 0 {
		got = merge(got, tt.writes, prefix, after, count >= 0 && len(got) >= count)
	}
	out, more := cut(got, n)
	return out, more, nil
}

// merge applies a table's buffered writes to a fetched range. When
// truncated, keys beyond the last fetched one are unknown and dropped.
func merge(got []driver.KV, writes map[string]*[]byte, prefix, after string, truncated bool) []driver.KV {
	last := ""
	if truncated && len(got) > 0 {
		last = got[len(got)-1].Key
	}
	out := got[:0:0]
	for _, kv := range got {
		if _, ok := writes[kv.Key]; !ok {
			out = append(out, kv)
		}
	}
	for k, w := range writes {
		if w == nil || !strings.HasPrefix(k, prefix) || (after != "" && k <= after) || (truncated && k > last) {
			continue
		}
		out = append(out, driver.KV{Key: k, Value: slices.Clone(*w)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Put implements driver.Tx.
func (x *tx) Put(t driver.Table, key string, value []byte) error {
	v := slices.Clone(value)
	if v == nil {
		v = []byte{}
	}
	x.table(t).writes[key] = &v
	return nil
}

// Delete implements driver.Tx.
func (x *tx) Delete(t driver.Table, key string) error {
	x.table(t).writes[key] = nil
	return nil
}

// Now implements driver.Tx: the TIME of the transaction's first read,
// or of one TIME command when Now comes first.
func (x *tx) Now() time.Time {
	if !x.hasNow {
		now, err := x.d.Now(x.ctx)
		if err != nil {
			x.err = err
			now = time.Now().UTC()
		}
		x.now, x.hasNow = now, true
	}
	return x.now
}

// commit runs the commit script; false when a table read has moved.
func (x *tx) commit() (bool, error) {
	keys := make([]string, 0, 3*len(x.tables))
	args := []any{newToken(), 0}
	nt := 0
	for _, tt := range x.tables {
		if !tt.read && len(tt.writes) == 0 {
			continue
		}
		nt++
		keys = append(keys, tt.h, tt.z, tt.v)
		var puts, dels []any
		for k, w := range tt.writes {
			if w == nil {
				dels = append(dels, k)
			} else {
				puts = append(puts, k, *w)
			}
		}
		args = append(args, flag(tt.read), tt.version, flag(tt.t.Ordered), len(puts)/2, len(dels))
		args = append(append(args, puts...), dels...)
	}
	if nt == 0 || !x.wrote() {
		return true, nil // read-only: every read was validated by the next
	}
	args[1] = nt
	n, err := commitScript.Run(x.ctx, x.d.c, keys, args...).Int()
	if err != nil {
		return false, fail(err)
	}
	return n == 1, nil
}

func (x *tx) wrote() bool {
	for _, tt := range x.tables {
		if len(tt.writes) > 0 {
			return true
		}
	}
	return false
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
