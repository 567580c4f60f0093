package metadata

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/regkit/regkit/server/metadata/driver"
)

// The selection indexes: filtered owner listings (a query, a bearer
// token naming single repositories, one package type among others) and
// filtered package listings are read from the indexes of the names that
// match, merged by sort key (selectPage), so that a page costs the same
// at any offset. Besides the indexes of db_pkglist.go and
// db_ownertags.go, the owner shard keeps, in tOIdx and tOIdxDir:
//
//   - r <repository>: the tags of one repository, as in k (the sort key
//     without NUL and the repository; no value: the entry of k has it);
//   - p <package>: the versions of one package, as in m;
//   - y <type>: the versions of one package type, as in m.
//
// They change in the transactions that change k and m. Entries are
// always entered with those of k and m, and removed with them when they
// are there, so an index built once stays exact. Owners written before
// them (no Sel marker in ownerMeta) get them built from k and m in one
// owner transaction on their first container listing (ensureOwnerTags).
func ixRepoTags(repo string) index { return newIndexIn(tOIdx, tOIdxDir, "r", repo).withBounds() }
func ixPkgMixed(pk string) index   { return newIndexIn(tOIdx, tOIdxDir, "p", pk).withBounds() }
func ixTypeMixed(typ string) index {
	return newIndexIn(tOIdx, tOIdxDir, "y", PackageKey(typ)).withBounds()
}

// selPrefixes are the prefixes of every selection index's records.
var selPrefixes = []string{"r\x01\x01", "p\x01\x01", "y\x01\x01"}

// WithoutSelectionIndexes makes db write records as stores did before
// the selection indexes existed (no r, p or y entries, no Sel marker):
// for tests of the indexing of such stores on first use. Its own
// filtered listings are not meant to be read.
func WithoutSelectionIndexes() Option { return func(db *DB) { db.noSel = true } }

// repoTagKey is the key of tag entry sk of repo in ixRepoTags(repo).
func repoTagKey(sk, repo string) string { return strings.TrimSuffix(sk, "\x00"+repo) }

// selBuilt reports whether the owner of tx has its selection indexes.
func selBuilt(tx driver.Tx) (bool, error) {
	m, _, err := get[ownerMeta](tx, tOwnerMeta, "")
	return m.Sel, err
}

// selRemove removes sk from ix when it is there: at once when the
// indexes are built, else after a Get (an index not built yet lacks the
// entries written before it).
func selRemove(tx driver.Tx, ix index, sk string) error {
	if built, err := selBuilt(tx); err != nil {
		return err
	} else if !built {
		if _, ok, err := tx.Get(ix.t, ix.prefix+sk); err != nil || !ok {
			return err
		}
	}
	return ix.remove(tx, sk)
}

// selTag enters (add) or removes the entry sk of repo in its index.
func (db *DB) selTag(tx driver.Tx, repo, sk string, add bool) error {
	if db.noSel {
		return nil
	}
	ix := ixRepoTags(repo)
	if add {
		return ix.insert(tx, repoTagKey(sk, repo), nil)
	}
	return selRemove(tx, ix, repoTagKey(sk, repo))
}

// selMissing enters the entry sk of repo in its index when an entry of k
// is there without it (written by a binary older than the selection
// indexes after they were built): writing the tag again repairs it.
func (db *DB) selMissing(tx driver.Tx, repo, sk string) error {
	if db.noSel {
		return nil
	}
	ix := ixRepoTags(repo)
	if _, ok, err := tx.Get(ix.t, ix.prefix+repoTagKey(sk, repo)); err != nil || ok {
		return err
	}
	return ix.insert(tx, repoTagKey(sk, repo), nil)
}

// selVersion enters (add) or removes the version at vk with sort key sk
// (as in m) in the indexes of its package and type.
func (db *DB) selVersion(tx driver.Tx, vk, sk string, add bool) error {
	if db.noSel {
		return nil
	}
	pk := pkgOfVerKey(vk)
	typ, _, _ := strings.Cut(pk, "\x00")
	for _, ix := range []index{ixPkgMixed(pk), ixTypeMixed(typ)} {
		var err error
		if add {
			err = ix.insert(tx, sk, []byte(vk))
		} else {
			err = selRemove(tx, ix, sk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ensureSelection builds the selection indexes of the owner of tx from
// k and m, unless m says they are built, and marks them in m (which the
// caller puts).
func (db *DB) ensureSelection(tx driver.Tx, m *ownerMeta) error {
	if m.Sel || db.noSel || db.noIndex {
		return nil
	}
	for _, p := range selPrefixes {
		for _, t := range []driver.Table{tOIdx, tOIdxDir} {
			kvs, err := rangeAll(tx, t, p)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if err := tx.Delete(t, kv.Key); err != nil {
					return err
				}
			}
		}
	}
	built := map[string][]driver.KV{} // index prefix → entries, ascending
	byPrefix := map[string]index{}
	add := func(ix index, kv driver.KV) {
		if _, ok := byPrefix[ix.prefix]; !ok {
			byPrefix[ix.prefix] = ix
		}
		built[ix.prefix] = append(built[ix.prefix], kv)
	}
	k, err := rangeAll(tx, tOIdx, ixOwnerTags().prefix)
	if err != nil {
		return err
	}
	for _, kv := range ixOwnerTags().strip(k) {
		if e, ok := parseTagEntry(kv); ok {
			add(ixRepoTags(e.repo), driver.KV{Key: repoTagKey(e.sk, e.repo)})
		}
	}
	mixed, err := rangeAll(tx, tOIdx, ixMixed().prefix)
	if err != nil {
		return err
	}
	for _, kv := range ixMixed().strip(mixed) {
		if _, ok := parseTagEntry(kv); ok {
			continue
		}
		pk := pkgOfVerKey(string(kv.Value))
		typ, _, _ := strings.Cut(pk, "\x00")
		add(ixPkgMixed(pk), kv)
		add(ixTypeMixed(typ), kv)
	}
	for p, kvs := range built {
		if err := byPrefix[p].build(tx, kvs); err != nil {
			return err
		}
	}
	m.Sel = true
	return nil
}

// source is one index of a selection; suffix is appended to its sort
// keys (and chunk bounds) to give the listing's sort keys.
type source struct {
	ix     index
	suffix string
}

// selChunk is a chunk record of a source: the smallest and largest sort
// keys its entries may have in the listing's sort keys (from its bounds,
// else from its lower and upper bound; "" below every key, idxTop
// above), and its lower bound in the index's own.
type selChunk struct {
	lo, hi string
	rawLo  string
	n      int
}

// selectPage returns the entries (sort keys of the listing as Key, the
// values as stored) at ranks offset .. offset+limit-1 (limit < 0: all
// from offset) of the union of srcs (disjoint indexes of shard) in the
// order of their sort keys, and the size of the union. It reads every
// source's chunk records (one RangeMany), bounds by them, in memory,
// the sort keys of the page's first and last entries to chunks, and
// reads the entries between those bounds from each source (one
// RangeMany): at any offset, about limit entries and, of each source
// whose keys interleave with the page's, the chunks at the page's ends
// (of a bounded index, only chunks whose smallest and largest keys
// bracket a part of the page; of another, also its first and last
// chunks, which have no outer bound). The ranks are exact as far as the
// driver's reads agree (Redis: no snapshot).
func (db *DB) selectPage(ctx context.Context, shard string, srcs []source, offset, limit int) ([]driver.KV, int, error) {
	out := []driver.KV{}
	if len(srcs) == 0 {
		return out, 0, nil
	}
	qs := make([]driver.RangeQuery, len(srcs))
	for i, s := range srcs {
		qs[i] = driver.RangeQuery{Shard: shard, Table: s.ix.dir, Prefix: s.ix.prefix, N: -1}
	}
	res, err := db.rangeMany(ctx, qs)
	if err != nil {
		return nil, 0, err
	}
	chunks := make([][]selChunk, len(srcs))
	cums := make([][]int, len(srcs)) // cums[i][j]: entries of the chunks before j
	var cands []string
	total := 0
	for i, s := range srcs {
		cums[i] = []int{0}
		for _, kv := range res[i].KVs {
			var c idxChunk
			if err := decode(kv.Value, &c); err != nil {
				return nil, 0, err
			}
			up := strings.TrimSuffix(strings.TrimPrefix(kv.Key, s.ix.prefix), "\x00")
			sc := selChunk{lo: "", hi: idxTop, rawLo: string(c.Lo), n: c.N}
			if lo, hi, known := c.bounds(); known {
				sc.lo, sc.hi = lo+s.suffix, hi+s.suffix
			} else {
				if len(c.Lo) > 0 {
					sc.lo = string(c.Lo) + s.suffix + "\x00" // its successor: entries sort above Lo
				}
				if up != idxTop {
					sc.hi = up + s.suffix
				}
			}
			if sc.hi != idxTop {
				cands = append(cands, sc.hi)
			}
			chunks[i] = append(chunks[i], sc)
			total += c.N
			cums[i] = append(cums[i], cums[i][len(cums[i])-1]+c.N)
		}
	}
	if offset >= total || limit == 0 {
		return out, total, nil
	}
	// below(x) and upTo(x): the entries surely at or below x (in chunks
	// whose largest key is) and possibly (in chunks whose smallest is).
	count := func(x string, bound func(selChunk) string) int {
		n := 0
		for i, cs := range chunks {
			j := sort.Search(len(cs), func(j int) bool { return bound(cs[j]) > x })
			n += cums[i][j]
		}
		return n
	}
	below := func(x string) int { return count(x, func(c selChunk) string { return c.hi }) }
	upTo := func(x string) int { return count(x, func(c selChunk) string { return c.lo }) }
	slices.Sort(cands)
	// The entry at rank offset sorts above a, the last of the page at or
	// below b.
	a := ""
	if j := sort.Search(len(cands), func(j int) bool { return upTo(cands[j]) > offset }); j > 0 {
		a = cands[j-1]
	}
	b := idxTop
	if limit > 0 {
		if j := sort.Search(len(cands), func(j int) bool { return below(cands[j]) >= offset+limit }); j < len(cands) {
			b = cands[j]
		}
	}
	base := 0 // entries before the ones read
	var reads []int
	qs = qs[:0]
	for i, s := range srcs {
		cs := chunks[i]
		first := sort.Search(len(cs), func(j int) bool { return cs[j].hi > a })
		last := sort.Search(len(cs), func(j int) bool { return cs[j].lo > b }) // chunks first..last-1
		base += cums[i][first]
		if first >= len(cs) || last <= first {
			continue
		}
		n := cums[i][last] - cums[i][first]
		if b == idxTop && last == len(cs) {
			n = -1
		} else if n == 0 {
			continue
		}
		reads = append(reads, i)
		qs = append(qs, driver.RangeQuery{Shard: shard, Table: s.ix.t, Prefix: s.ix.prefix, After: s.ix.after(cs[first].rawLo), N: n})
	}
	if res, err = db.rangeMany(ctx, qs); err != nil {
		return nil, 0, err
	}
	var window []driver.KV
	for q, i := range reads {
		for _, kv := range srcs[i].ix.strip(res[q].KVs) {
			kv.Key += srcs[i].suffix
			switch {
			case kv.Key <= a:
				base++
			case kv.Key <= b:
				window = append(window, kv)
			}
		}
	}
	sortKVs(window)
	from := min(max(offset-base, 0), len(window))
	to := len(window)
	if limit > 0 {
		to = min(from+limit, to)
	}
	return append(out, window[from:to]...), total, nil
}
