package metadata

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/pkgversion"
)

// The list indexes of an owner's shard (see index.go), changed in the
// transactions that change the versions:
//
//   - o: every version of the owner, newest first (descending ID);
//   - t <type>: the versions of one package type, newest first;
//   - v <package>: the versions of one package, newest first;
//   - s <package>: the SemVer versions of one package, latest first
//     (pkgversion.LatestKey).
//
// Each entry's value is the version's key (type NUL name NUL version).
// The package record counts its versions and its non-SemVer ones.
func ixOwner() index                 { return newIndex("o") }
func ixType(typ string) index        { return newIndex("t", PackageKey(typ)) }
func ixVersions(pk string) index     { return newIndex("v", pk) }
func ixPkgSemVer(pk string) index    { return newIndex("s", pk) }
func descID(id int64) string         { return fmt.Sprintf("%016x", math.MaxInt64-id) }
func ownerShard(owner string) string { return shardOwner(PackageKey(owner)) }

// WithoutListIndexes makes db write records as stores did before the
// list indexes existed (no index entries, no index marker): for tests of
// the indexing of such stores on first use.
func WithoutListIndexes() Option { return func(db *DB) { db.noIndex = true } }

// indexVersion enters (add) or removes version v of ref in the indexes
// and counts of its package p, and in the owner index m.
func (db *DB) indexVersion(tx driver.Tx, p *pkgRec, ref PackageRef, v PackageVersion, add bool) error {
	id := v.ID
	d := 1
	if !add {
		d = -1
	}
	p.Versions += d
	sk, semver := pkgversion.LatestKey(ref.Version)
	if !semver {
		p.NonSemVer += d
	}
	if db.noIndex {
		return nil
	}
	pk, vk := pkgKey(ref), []byte(verKey(ref))
	type entry struct {
		ix index
		sk string
	}
	es := []entry{{ixOwner(), descID(id)}, {ixType(ref.Type), descID(id)}, {ixVersions(pk), descID(id)}, {ixMixed(), verSortKey(v.Created, id)}}
	if semver {
		es = append(es, entry{ixPkgSemVer(pk), sk})
	}
	for _, e := range es {
		var err error
		if add {
			err = e.ix.insert(tx, e.sk, vk)
		} else {
			err = e.ix.remove(tx, e.sk)
		}
		if err != nil {
			return err
		}
	}
	return db.selVersion(tx, string(vk), verSortKey(v.Created, id), add)
}

// ensureOwnerIndex builds the owner's indexes and package counts when
// the shard has none yet (a store written before them), and its
// versions' entries in the owner index m when they are not there, in tx.
func (db *DB) ensureOwnerIndex(tx driver.Tx) error {
	m, existed, err := get[ownerMeta](tx, tOwnerMeta, "")
	if err != nil || (m.Indexed && m.Mixed) || db.noIndex {
		return err
	}
	if !existed && !db.noSel {
		// A new owner has no versions; its selection indexes are
		// complete when k is empty too (else ensureSelection builds them).
		k, _, err := tx.Range(tOIdxDir, ixOwnerTags().prefix, "", 1)
		if err != nil {
			return err
		}
		m.Sel = len(k) == 0
	}
	pkgs, err := rangeAll(tx, tPackage, "")
	if err != nil {
		return err
	}
	var owner, mixed []driver.KV
	byType := map[string][]driver.KV{}
	for _, pkv := range pkgs {
		var p pkgRec
		if err := decode(pkv.Value, &p); err != nil {
			return err
		}
		vkvs, err := rangeAll(tx, tVersion, pkv.Key+"\x00")
		if err != nil {
			return err
		}
		p.Versions, p.NonSemVer = len(vkvs), 0
		var byID, bySemVer []driver.KV
		for _, vkv := range vkvs {
			var v verRec
			if err := decode(vkv.Value, &v); err != nil {
				return err
			}
			e := driver.KV{Key: descID(v.ID), Value: []byte(vkv.Key)}
			byID = append(byID, e)
			mixed = append(mixed, driver.KV{Key: verSortKey(v.Created, v.ID), Value: e.Value})
			if sk, ok := pkgversion.LatestKey(v.Version); ok {
				bySemVer = append(bySemVer, driver.KV{Key: sk, Value: e.Value})
			} else {
				p.NonSemVer++
			}
		}
		if m.Indexed {
			continue
		}
		sortKVs(byID)
		sortKVs(bySemVer)
		if err := ixVersions(pkv.Key).build(tx, byID); err != nil {
			return err
		}
		if err := ixPkgSemVer(pkv.Key).build(tx, bySemVer); err != nil {
			return err
		}
		owner = append(owner, byID...)
		typ := PackageKey(p.Type)
		byType[typ] = append(byType[typ], byID...)
		if err := put(tx, tPackage, pkv.Key, p); err != nil {
			return err
		}
	}
	if !m.Indexed {
		sortKVs(owner)
		if err := ixOwner().build(tx, owner); err != nil {
			return err
		}
		for typ, kvs := range byType {
			sortKVs(kvs)
			if err := ixType(typ).build(tx, kvs); err != nil {
				return err
			}
		}
	}
	if !m.Mixed {
		if err := ixMixed().rebuild(tx, mixed); err != nil {
			return err
		}
	}
	m.Indexed, m.Mixed = true, true
	return put(tx, tOwnerMeta, "", m)
}

// indexOwner builds the owner's indexes if it has none (one transaction,
// once per owner written before them).
func (db *DB) indexOwner(ctx context.Context, owner string) (bool, error) {
	m, ok, err := getRec[ownerMeta](ctx, db, ownerShard(owner), tOwnerMeta, "")
	if err != nil || !ok || m.Indexed || db.noIndex {
		return false, err // no record: the owner never stored a file
	}
	return true, db.update(ctx, ownerShard(owner), db.ensureOwnerIndex)
}

// versionsAt reads the versions whose keys are the values of kvs, with
// their packages, in two GetMany.
func (db *DB) versionsAt(ctx context.Context, owner string, kvs []driver.KV) ([]PackageVersion, error) {
	shard := ownerShard(owner)
	refs := make([]driver.Ref, 0, 2*len(kvs))
	for _, kv := range kvs {
		refs = append(refs, driver.Ref{Shard: shard, Table: tVersion, Key: string(kv.Value)})
	}
	pkgAt := map[string]int{}
	for _, kv := range kvs {
		pk := pkgOfVerKey(string(kv.Value))
		if _, ok := pkgAt[pk]; !ok {
			pkgAt[pk] = len(refs)
			refs = append(refs, driver.Ref{Shard: shard, Table: tPackage, Key: pk})
		}
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]PackageVersion, 0, len(kvs))
	for i, kv := range kvs {
		pb := vals[pkgAt[pkgOfVerKey(string(kv.Value))]]
		if vals[i] == nil || pb == nil {
			continue // deleted between the reads (no snapshot on Redis)
		}
		var (
			v verRec
			p Package
		)
		if err := decode(vals[i], &v); err != nil {
			return nil, err
		}
		if err := decode(pb, &p); err != nil {
			return nil, err
		}
		pv, _ := full(nil, p, v, "", false)
		out = append(out, pv)
	}
	return out, nil
}

// pkgOfVerKey returns the package key of a version key.
func pkgOfVerKey(vk string) string {
	i := strings.LastIndexByte(vk, 0)
	if i < 0 {
		return vk
	}
	return vk[:i]
}

// PackageVersions implements Packages: the package record, one page of
// its version index (two Ranges) and the versions (one GetMany).
func (db *DB) PackageVersions(ctx context.Context, ref PackageRef, offset, limit int) ([]PackageVersion, int, error) {
	shard := ownerShard(ref.Owner)
	for attempt := 0; ; attempt++ {
		if _, ok, err := getRec[Package](ctx, db, shard, tPackage, pkgKey(ref)); err != nil {
			return nil, 0, err
		} else if !ok {
			return nil, 0, notFound("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
		}
		var (
			kvs   []driver.KV
			total int
		)
		err := db.view(ctx, shard, func(r driver.Reader) (err error) {
			kvs, total, err = ixVersions(pkgKey(ref)).page(r, max(offset, 0), limit)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		if total == 0 && attempt == 0 {
			// A package has a version: an empty index is one not built.
			if built, err := db.indexOwner(ctx, ref.Owner); err != nil {
				return nil, 0, err
			} else if built {
				continue
			}
		}
		vs, err := db.versionsAt(ctx, ref.Owner, kvs)
		return vs, total, err
	}
}

// ListPackageVersions implements Packages. Without a query it reads one
// page of the owner's (or the type's) index; with one it merges the
// version indexes of the matching packages (searchVersions). Either
// costs the same at any offset.
func (db *DB) ListPackageVersions(ctx context.Context, owner string, filter PackageFilter, offset, limit int) ([]PackageVersion, int, error) {
	ix := ixOwner()
	if filter.Type != "" {
		ix = ixType(filter.Type)
	}
	offset = max(offset, 0)
	for attempt := 0; ; attempt++ {
		var (
			kvs   []driver.KV
			total int
			err   error
		)
		if filter.Query == "" {
			err = db.view(ctx, ownerShard(owner), func(r driver.Reader) (err error) {
				kvs, total, err = ix.page(r, offset, limit)
				return err
			})
		} else {
			kvs, total, err = db.searchVersions(ctx, owner, filter, offset, limit)
		}
		if err != nil {
			return nil, 0, err
		}
		if len(kvs) == 0 && attempt == 0 {
			if built, err := db.indexOwner(ctx, owner); err != nil {
				return nil, 0, err
			} else if built {
				continue
			}
		}
		vs, err := db.versionsAt(ctx, owner, kvs)
		return vs, total, err
	}
}

// searchVersions returns the entries of the versions of the packages
// that pass filter, from rank offset, at most limit (< 0: all), and
// their number: the package records, then the merged version indexes of
// the matching packages (selectPage).
func (db *DB) searchVersions(ctx context.Context, owner string, filter PackageFilter, offset, limit int) ([]driver.KV, int, error) {
	shard := ownerShard(owner)
	pkgs, _, err := db.d.Range(ctx, shard, tPackage, "", "", -1)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	var srcs []source
	for _, kv := range pkgs {
		if typ, name, _ := strings.Cut(kv.Key, "\x00"); filter.Match(typ, name) {
			srcs = append(srcs, source{ix: ixVersions(kv.Key)})
		}
	}
	return db.selectPage(ctx, shard, srcs, offset, limit)
}

// LatestPackageVersion implements Packages: the package record, the first
// entry of one of its indexes (SemVer while every version is SemVer,
// else newest) and the version with its files.
func (db *DB) LatestPackageVersion(ctx context.Context, ref PackageRef) (PackageVersion, bool, error) {
	shard := ownerShard(ref.Owner)
	for attempt := 0; ; attempt++ {
		p, ok, err := getRec[pkgRec](ctx, db, shard, tPackage, pkgKey(ref))
		if err != nil {
			return PackageVersion{}, false, err
		} else if !ok {
			return PackageVersion{}, false, notFound("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
		}
		bySemVer := p.NonSemVer == 0
		ix := ixVersions(pkgKey(ref))
		if bySemVer {
			ix = ixPkgSemVer(pkgKey(ref))
		}
		var kvs []driver.KV
		err = db.view(ctx, shard, func(r driver.Reader) (err error) {
			kvs, _, err = ix.first(r, "", 1)
			return err
		})
		if err != nil {
			return PackageVersion{}, false, err
		}
		if len(kvs) == 0 {
			if attempt == 0 {
				if built, err := db.indexOwner(ctx, ref.Owner); err != nil {
					return PackageVersion{}, false, err
				} else if built {
					continue
				}
			}
			return PackageVersion{}, false, notFound("versions of %s/%s/%s", ref.Owner, ref.Type, ref.Name)
		}
		vk := string(kvs[0].Value)
		latest := ref
		latest.Version = vk[strings.LastIndexByte(vk, 0)+1:]
		v, err := db.GetPackageVersion(ctx, latest)
		return v, bySemVer, err
	}
}
