package metadata

import (
	"context"
	"slices"
	"strings"

	"github.com/regkit/regkit/server/metadata/driver"
)

// The catalog of the repositories of some owners. With authentication a
// catalog lists only the repositories of the owners the caller may read:
// public accounts, limited ones for signed-in users, and a few owners of
// the caller's own (itself, its organizations). So that hidden owners
// cost nothing, the identity shard keeps tVisible: for every public or
// limited account k, the entries visibility NUL k and visibility NUL k/,
// changed in the transactions that change the account. These are the
// account's repository prefixes, and in byte order they are the order of
// the catalog: the repository named k sorts where k does, and the
// repositories k/... right after k/ (owner keys have no '/'), so the
// catalog of a set of owners is the catalog read prefix by prefix, in the
// prefixes' order. Stores written before tVisible have no marker (tSeq
// "visible"): the first identity write, or the first RepositoriesOf,
// builds it in one transaction.
var tVisible = driver.Table{Name: "visible", Ordered: true} // visibility NUL prefix → ""

const visibleMarker = "visible"

// indexed reports whether accounts of v are in tVisible.
func indexed(v Visibility) bool { return v == VisibilityPublic || v == VisibilityLimited }

func visibleKeys(a Account) []string {
	if !indexed(a.Visibility) {
		return nil
	}
	p := string(a.Visibility) + "\x00" + NameKey(a.Name)
	return []string{p, p + "/"}
}

// indexAccount moves account a in tVisible from its old state (nil: new)
// to its new one (nil: deleted).
func (db *DB) indexAccount(tx driver.Tx, old, new *Account) error {
	if db.noIndex {
		return nil
	}
	if old != nil {
		for _, k := range visibleKeys(*old) {
			if err := tx.Delete(tVisible, k); err != nil {
				return err
			}
		}
	}
	if new != nil {
		for _, k := range visibleKeys(*new) {
			if err := tx.Put(tVisible, k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureVisible builds tVisible in tx when the identity shard has none.
func (db *DB) ensureVisible(tx driver.Tx) error {
	if db.noIndex {
		return nil
	}
	if _, ok, err := tx.Get(tSeq, visibleMarker); err != nil || ok {
		return err
	}
	accounts, err := rangeAll(tx, tAccount, "")
	if err != nil {
		return err
	}
	for _, kv := range accounts {
		var a Account
		if err := decode(kv.Value, &a); err != nil {
			return err
		}
		if err := db.indexAccount(tx, nil, &a); err != nil {
			return err
		}
	}
	return put(tx, tSeq, visibleMarker, 1)
}

// OwnerSet names the owners whose repositories RepositoriesOf lists.
type OwnerSet struct {
	// All lists every repository.
	All bool
	// Visibilities lists the repositories of the accounts of these
	// visibilities (public and limited only).
	Visibilities []Visibility
	// Owners lists the repositories of these owners too (names).
	Owners []string
}

// OwnerCatalog lists the catalog of some owners without reading the
// repositories of the others. *DB implements it.
type OwnerCatalog interface {
	// RepositoriesOf lists the created repositories whose owner (first
	// path component) is in s, in catalog order, strictly after last, at
	// most n (n < 0: all); more reports whether others follow. The
	// owners outside s cost nothing: a page reads the identity shard's
	// entries of the owners of s it passes (two per owner, 128 a Range)
	// and the catalog prefix by prefix of those (per batch of up to 128
	// prefixes, doubling from 2: one GetMany of the names k and one
	// RangeMany of the prefixes k/, each at most the rest of the page),
	// so O(page + owners of s passed) records in O(1 + owners passed /
	// 64) round trips.
	RepositoriesOf(ctx context.Context, s OwnerSet, last string, n int) (repos []string, more bool, err error)
	// Memberships returns the organizations user is a member of (name
	// keys), in one Range.
	Memberships(ctx context.Context, user string) ([]string, error)
}

var _ OwnerCatalog = (*DB)(nil)

// Memberships implements OwnerCatalog.
func (db *DB) Memberships(ctx context.Context, user string) ([]string, error) {
	uk := NameKey(user) + "\x00"
	kvs, _, err := db.d.Range(ctx, shardIdentity, tMemberOf, uk, "", -1)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key[len(uk):]
	}
	return out, nil
}

// prefixStream yields repository prefixes in order: from tVisible (one
// visibility, read 128 at a time) or from a sorted list.
type prefixStream struct {
	db    *DB
	vis   string // tVisible prefix; "" for a list
	buf   []string
	after string
	done  bool
}

const prefixBatch = 128

func (p *prefixStream) peek(ctx context.Context) (string, bool, error) {
	for len(p.buf) == 0 && !p.done {
		kvs, more, err := p.db.d.Range(ctx, shardIdentity, tVisible, p.vis, p.vis+p.after, prefixBatch)
		if err != nil {
			return "", false, mapErr(err)
		}
		for _, kv := range kvs {
			p.buf = append(p.buf, kv.Key[len(p.vis):])
		}
		p.done = !more || len(kvs) == 0
		if len(kvs) > 0 {
			p.after = p.buf[len(p.buf)-1]
		}
	}
	if len(p.buf) == 0 {
		return "", false, nil
	}
	return p.buf[0], true, nil
}

// RepositoriesOf implements OwnerCatalog.
func (db *DB) RepositoriesOf(ctx context.Context, s OwnerSet, last string, n int) ([]string, bool, error) {
	if s.All {
		return db.Repositories(ctx, last, n)
	}
	if err := db.ensureVisibleIndex(ctx); err != nil {
		return nil, false, err
	}
	var streams []*prefixStream
	var named []string
	for _, o := range s.Owners {
		k := NameKey(o)
		named = append(named, k, k+"/")
	}
	slices.Sort(named)
	named = slices.Compact(named)
	list := &prefixStream{done: true}
	for _, p := range named {
		if p > last {
			list.buf = append(list.buf, p)
		}
	}
	streams = append(streams, list)
	for _, v := range slices.Compact(slices.Clone(s.Visibilities)) {
		if indexed(v) {
			streams = append(streams, &prefixStream{db: db, vis: string(v) + "\x00", after: last})
		}
	}
	need := -1
	if n >= 0 {
		need = n + 1
	}
	out := []string{}
	// The owner of last may have repositories after it.
	if i := strings.IndexByte(last, '/'); i > 0 {
		in, err := db.inSet(ctx, s, named, last[:i])
		if err != nil {
			return nil, false, err
		}
		if in {
			kvs, _, err := db.d.Range(ctx, shardCatalog, tRepos, last[:i+1], last, need)
			if err != nil {
				return nil, false, mapErr(err)
			}
			out = append(out, keys(kvs)...)
		}
	}
	batch, prev := 2, ""
	for need < 0 || len(out) < need {
		var qs []driver.RangeQuery
		for len(qs) < batch {
			best := -1
			var head string
			for i, st := range streams {
				h, ok, err := st.peek(ctx)
				if err != nil {
					return nil, false, err
				}
				if ok && (best < 0 || h < head) {
					best, head = i, h
				}
			}
			if best < 0 {
				break
			}
			streams[best].buf = streams[best].buf[1:]
			if head == prev {
				continue // in several streams
			}
			prev = head
			q := driver.RangeQuery{Shard: shardCatalog, Table: tRepos, Prefix: head, N: need}
			if need >= 0 {
				q.N = need - len(out)
			}
			qs = append(qs, q)
		}
		if len(qs) == 0 {
			break
		}
		// Bare names (a repository named like its owner) in one GetMany,
		// the prefixes k/ in one RangeMany.
		var (
			refs   []driver.Ref
			blocks []driver.RangeQuery
		)
		for _, q := range qs {
			if strings.HasSuffix(q.Prefix, "/") {
				blocks = append(blocks, q)
			} else {
				refs = append(refs, driver.Ref{Shard: shardCatalog, Table: tRepos, Key: q.Prefix})
			}
		}
		bare, err := db.d.GetMany(ctx, refs)
		if err != nil {
			return nil, false, mapErr(err)
		}
		res, err := db.rangeMany(ctx, blocks)
		if err != nil {
			return nil, false, err
		}
		for _, q := range qs {
			var found []string
			if strings.HasSuffix(q.Prefix, "/") {
				found, res = keys(res[0].KVs), res[1:]
			} else {
				if bare[0] != nil {
					found = []string{q.Prefix}
				}
				bare = bare[1:]
			}
			for _, k := range found {
				if need < 0 || len(out) < need {
					out = append(out, k)
				}
			}
		}
		batch = min(2*batch, prefixBatch)
	}
	if n >= 0 && len(out) > n {
		return out[:n], true, nil
	}
	return out, false, nil
}

// inSet reports whether owner key o is in s (named holds the prefixes of
// its Owners).
func (db *DB) inSet(ctx context.Context, s OwnerSet, named []string, o string) (bool, error) {
	if _, ok := slices.BinarySearch(named, o+"/"); ok {
		return true, nil
	}
	var refs []driver.Ref
	for _, v := range s.Visibilities {
		if indexed(v) {
			refs = append(refs, driver.Ref{Shard: shardIdentity, Table: tVisible, Key: string(v) + "\x00" + o + "/"})
		}
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return false, mapErr(err)
	}
	for _, v := range vals {
		if v != nil {
			return true, nil
		}
	}
	return false, nil
}

// ensureVisibleIndex builds tVisible when it was never built (one Get).
func (db *DB) ensureVisibleIndex(ctx context.Context) error {
	if db.noIndex {
		return nil
	}
	_, ok, err := getRec[int](ctx, db, shardIdentity, tSeq, visibleMarker)
	if err != nil || ok {
		return err
	}
	return db.update(ctx, shardIdentity, db.ensureVisible)
}

// rangeMany runs qs in one RangeMany where the driver has it, else one
// Range each.
func (db *DB) rangeMany(ctx context.Context, qs []driver.RangeQuery) ([]driver.RangeResult, error) {
	if rm, ok := db.d.(driver.RangeManyer); ok {
		res, err := rm.RangeMany(ctx, qs)
		return res, mapErr(err)
	}
	res := make([]driver.RangeResult, len(qs))
	for i, q := range qs {
		kvs, more, err := db.d.Range(ctx, q.Shard, q.Table, q.Prefix, q.After, q.N)
		if err != nil {
			return nil, mapErr(err)
		}
		res[i] = driver.RangeResult{KVs: kvs, More: more}
	}
	return res, nil
}
