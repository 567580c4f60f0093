package metadata

import (
	"slices"
	"strings"

	"github.com/regkit/regkit/server/metadata/driver"
)

// A sorted index: entries ordered by a sort key that can be read by rank
// (offset and count) in a constant number of driver Ranges, whatever the
// offset. It lives in the shard whose records it indexes and is changed
// in the same transaction as they are, so it never drifts from them.
//
// Entries are the records name NUL sortKey → value of tIdx. Beside them,
// tIdxDir divides the entries of an index into chunks of consecutive
// sort keys and counts them: the chunk record name NUL upper NUL →
// {count, lower} holds the entries with lower < sortKey <= upper (lower
// "" is the start; the last chunk's upper is idxTop, above every sort
// key). A page at offset k reads the index's chunk records (one Range:
// the totals and where each chunk starts), then the entries from the
// chunk that holds rank k (one Range of at most idxChunkMax+n entries).
// Chunks are split when they grow past idxChunkMax and removed when they
// become empty, so the chunk records number about entries/(idxChunkMax/2).
//
// Dir keys end in NUL so that one Range(after = name NUL k, n = 1) finds
// the chunk of sort key k: upper NUL is the immediate successor of upper,
// so it sorts after k exactly when upper >= k.
var (
	tIdx    = driver.Table{Name: "idx", Ordered: true}    // index NUL sort key → value
	tIdxDir = driver.Table{Name: "idxdir", Ordered: true} // index NUL upper NUL → idxChunk
)

// idxTop is the upper bound of an index's last chunk: sort keys are
// below it (none starts with 0xff).
const idxTop = "\xff"

// idxChunkMax is the largest chunk; a chunk that grows past it is split
// in two halves.
const idxChunkMax = 512

// idxChunk is a chunk record.
type idxChunk struct {
	N  int    `json:"n"`
	Lo []byte `json:"lo,omitempty"` // bytes: sort keys need not be UTF-8
	// Min and Max are the smallest and largest sort keys of the chunk's
	// entries, kept by bounded indexes (Max left out when it is Min; both
	// left out when unknown: chunks written before them, or empty).
	Min []byte `json:"mn,omitempty"`
	Max []byte `json:"mx,omitempty"`
}

// bounds returns the chunk's smallest and largest sort keys, when known.
func (c idxChunk) bounds() (lo, hi string, known bool) {
	if len(c.Min) == 0 {
		return "", "", false
	}
	if len(c.Max) == 0 {
		return string(c.Min), string(c.Min), true
	}
	return string(c.Min), string(c.Max), true
}

func (c *idxChunk) setBounds(lo, hi string) {
	c.Min, c.Max = []byte(lo), nil
	if hi != lo {
		c.Max = []byte(hi)
	}
}

// index is one sorted index of a shard, named by its parts (any strings;
// they are escaped so that no name is a prefix of another's entries). Its
// entries and chunk records live in the tables t and dir (tIdx and
// tIdxDir, or tOIdx and tOIdxDir for the owner-level indexes that take
// container tags, see db_ownertags.go).
type index struct {
	prefix string
	t, dir driver.Table
	// bounded indexes keep the smallest and largest sort key of each
	// chunk in its record (for selectPage, selection.go).
	bounded bool
}

func newIndex(parts ...string) index { return newIndexIn(tIdx, tIdxDir, parts...) }

func newIndexIn(t, dir driver.Table, parts ...string) index {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(1)
			b.WriteByte(1)
		}
		for j := 0; j < len(p); j++ {
			switch c := p[j]; c {
			case 0:
				b.WriteString("\x01\x02")
			case 1:
				b.WriteString("\x01\x03")
			default:
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte(0)
	return index{prefix: b.String(), t: t, dir: dir}
}

// withBounds returns ix keeping the bounds of its chunks.
func (ix index) withBounds() index { ix.bounded = true; return ix }

func (ix index) dirKey(upper string) string { return ix.prefix + upper + "\x00" }

// chunkOf returns the chunk that holds (or would hold) sort key sk.
func (ix index) chunkOf(r driver.Reader, sk string) (key string, c idxChunk, ok bool, err error) {
	kvs, _, err := r.Range(ix.dir, ix.prefix, ix.prefix+sk, 1)
	if err != nil || len(kvs) == 0 {
		return "", c, false, err
	}
	return kvs[0].Key, c, true, decode(kvs[0].Value, &c)
}

// insert adds the entry sk with val. The caller knows from the records
// it indexes that sk is not in the index (so insert reads no entry).
func (ix index) insert(tx driver.Tx, sk string, val []byte) error {
	if sk == "" || sk >= idxTop {
		panic("metadata: index sort key out of range") // the callers' encodings never make one
	}
	if err := tx.Put(ix.t, ix.prefix+sk, val); err != nil {
		return err
	}
	dk, c, ok, err := ix.chunkOf(tx, sk)
	if err != nil {
		return err
	}
	if !ok {
		c = idxChunk{N: 1}
		if ix.bounded {
			c.setBounds(sk, sk)
		}
		return put(tx, ix.dir, ix.dirKey(idxTop), c)
	}
	if ix.bounded {
		if lo, hi, known := c.bounds(); known {
			c.setBounds(min(lo, sk), max(hi, sk))
		} else if c.N == 0 {
			c.setBounds(sk, sk)
		}
	}
	c.N++
	if c.N <= idxChunkMax {
		return put(tx, ix.dir, dk, c)
	}
	// Split: the lower half becomes a chunk of its own, ending at its
	// last entry (a bounded index reads the first entry of the upper half
	// too, its new Min).
	half, extra := c.N/2, 0
	if ix.bounded {
		extra = 1
	}
	kvs, _, err := tx.Range(ix.t, ix.prefix, ix.after(string(c.Lo)), half+extra)
	if err != nil {
		return err
	}
	kvs = ix.strip(kvs)
	var upMin string
	if len(kvs) > half {
		upMin, kvs = kvs[half].Key, kvs[:half]
	}
	mid := kvs[len(kvs)-1].Key
	low, up := idxChunk{N: len(kvs), Lo: c.Lo}, idxChunk{N: c.N - len(kvs), Lo: []byte(mid)}
	if ix.bounded {
		low.setBounds(kvs[0].Key, mid)
		if _, hi, known := c.bounds(); known && upMin != "" {
			up.setBounds(upMin, hi)
		}
	}
	if err := put(tx, ix.dir, ix.dirKey(mid), low); err != nil {
		return err
	}
	return put(tx, ix.dir, dk, up)
}

// after is the Range after-key of the entries above sort key lo.
func (ix index) after(lo string) string {
	if lo == "" {
		return ""
	}
	return ix.prefix + lo
}

// remove deletes the entry sk, which the caller knows is in the index.
func (ix index) remove(tx driver.Tx, sk string) error {
	if err := tx.Delete(ix.t, ix.prefix+sk); err != nil {
		return err
	}
	dk, c, ok, err := ix.chunkOf(tx, sk)
	if err != nil || !ok {
		return err
	}
	if c.N--; c.N > 0 {
		if ix.bounded {
			if err := ix.rebound(tx, &c, sk); err != nil {
				return err
			}
		}
		return put(tx, ix.dir, dk, c)
	}
	c.Min, c.Max = nil, nil
	if dk == ix.dirKey(idxTop) {
		if len(c.Lo) > 0 {
			return put(tx, ix.dir, dk, c) // the last chunk stays while others do
		}
		return tx.Delete(ix.dir, dk)
	}
	// An empty chunk goes; the next one takes over its lower bound (and
	// goes too when it is the empty last chunk, now the only one).
	if err := tx.Delete(ix.dir, dk); err != nil {
		return err
	}
	next, _, err := tx.Range(ix.dir, ix.prefix, dk, 1)
	if err != nil || len(next) == 0 {
		return err
	}
	var nc idxChunk
	if err := decode(next[0].Value, &nc); err != nil {
		return err
	}
	if nc.Lo = c.Lo; nc.N == 0 && len(nc.Lo) == 0 {
		return tx.Delete(ix.dir, next[0].Key)
	}
	return put(tx, ix.dir, next[0].Key, nc)
}

// rebound updates the bounds of chunk c (not empty) after its entry sk
// was removed: the next entry is its new Min (one Range of one entry),
// the last of its entries its new Max (one Range of the chunk).
func (ix index) rebound(tx driver.Tx, c *idxChunk, sk string) error {
	lo, hi, known := c.bounds()
	if !known || (sk != lo && sk != hi) {
		return nil
	}
	if sk == lo {
		next, _, err := tx.Range(ix.t, ix.prefix, ix.prefix+sk, 1)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			c.Min, c.Max = nil, nil // not as recorded: unknown
			return nil
		}
		lo = next[0].Key[len(ix.prefix):]
	} else {
		kvs, _, err := tx.Range(ix.t, ix.prefix, ix.after(string(c.Lo)), c.N)
		if err != nil {
			return err
		}
		if len(kvs) == 0 {
			c.Min, c.Max = nil, nil
			return nil
		}
		hi = kvs[len(kvs)-1].Key[len(ix.prefix):]
	}
	c.setBounds(lo, hi)
	return nil
}

// build writes the entries kvs (keys are sort keys, ascending, none
// present yet) into an empty index, in full chunks, reading nothing.
func (ix index) build(tx driver.Tx, kvs []driver.KV) error {
	const fill = idxChunkMax / 2
	lo := ""
	for i := 0; i < len(kvs); i += fill {
		end := min(i+fill, len(kvs))
		for _, kv := range kvs[i:end] {
			if err := tx.Put(ix.t, ix.prefix+kv.Key, kv.Value); err != nil {
				return err
			}
		}
		upper := kvs[end-1].Key
		if end == len(kvs) {
			upper = idxTop
		}
		c := idxChunk{N: end - i, Lo: []byte(lo)}
		if ix.bounded {
			c.setBounds(kvs[i].Key, kvs[end-1].Key)
		}
		if err := put(tx, ix.dir, ix.dirKey(upper), c); err != nil {
			return err
		}
		lo = upper
	}
	return nil
}

// rebuild adds the entries kvs (keys are sort keys, in any order) to
// the index, keeping the value of an entry already there, and writes its
// chunks anew: two Ranges, then writes only.
func (ix index) rebuild(tx driver.Tx, kvs []driver.KV) error {
	old, err := rangeAll(tx, ix.t, ix.prefix)
	if err != nil {
		return err
	}
	dir, err := rangeAll(tx, ix.dir, ix.prefix)
	if err != nil {
		return err
	}
	for _, kv := range dir {
		if err := tx.Delete(ix.dir, kv.Key); err != nil {
			return err
		}
	}
	all := map[string][]byte{}
	for _, kv := range kvs {
		all[kv.Key] = kv.Value
	}
	for _, kv := range ix.strip(old) {
		all[kv.Key] = kv.Value
	}
	merged := make([]driver.KV, 0, len(all))
	for k, v := range all {
		merged = append(merged, driver.KV{Key: k, Value: v})
	}
	sortKVs(merged)
	return ix.build(tx, merged)
}

// page returns at most n entries (n < 0: all) from rank offset, with
// their sort keys as Key, and the number of entries. Two Ranges.
func (ix index) page(r driver.Reader, offset, n int) ([]driver.KV, int, error) {
	dir, _, err := r.Range(ix.dir, ix.prefix, "", -1)
	if err != nil {
		return nil, 0, err
	}
	total, start, skip, found := 0, "", 0, false
	for _, kv := range dir {
		var c idxChunk
		if err := decode(kv.Value, &c); err != nil {
			return nil, 0, err
		}
		if !found && offset < total+c.N {
			start, skip, found = string(c.Lo), offset-total, true
		}
		total += c.N
	}
	if !found || n == 0 {
		return []driver.KV{}, total, nil
	}
	want := -1
	if n > 0 {
		want = skip + n
	}
	kvs, _, err := r.Range(ix.t, ix.prefix, ix.after(start), want)
	if err != nil {
		return nil, 0, err
	}
	kvs = kvs[min(skip, len(kvs)):]
	return ix.strip(kvs), total, nil
}

// first returns the first n entries (n < 0: all) in one Range, and
// whether more follow.
func (ix index) first(r driver.Reader, after string, n int) ([]driver.KV, bool, error) {
	kvs, more, err := r.Range(ix.t, ix.prefix, ix.after(after), n)
	if err != nil {
		return nil, false, err
	}
	return ix.strip(kvs), more, nil
}

func (ix index) strip(kvs []driver.KV) []driver.KV {
	out := make([]driver.KV, len(kvs))
	for i, kv := range kvs {
		out[i] = driver.KV{Key: kv.Key[len(ix.prefix):], Value: kv.Value}
	}
	return out
}

// sortKVs sorts kvs by key.
func sortKVs(kvs []driver.KV) {
	slices.SortFunc(kvs, func(a, b driver.KV) int { return strings.Compare(a.Key, b.Key) })
}
