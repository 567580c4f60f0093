package metadata

import (
	"context"
	"strings"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// OwnerItem is one entry of an owner listing: a package version, or a tag
// of one of the owner's repositories.
type OwnerItem struct {
	// Version is the package version (with its package and download
	// count, without files); nil for a tag.
	Version *PackageVersion
	// Repository is the tag's repository (<owner>/<name>).
	Repository string
	// Tag is the tag with its manifest; nil for a version.
	Tag *TaggedManifest
}

// OwnerFilter selects the entries of ListOwner.
type OwnerFilter struct {
	// Packages lists package versions, of Type only when it is not "".
	Packages bool
	Type     string
	// Containers lists the tags of the repositories <owner>/...
	Containers bool
	// Query keeps the versions of packages and the tags of repositories
	// whose name (without "<owner>/") contains it, case-insensitively.
	Query string
	// Repository, when set, keeps only the tags of repositories it
	// accepts.
	Repository func(repo string) bool
}

// OwnerLister lists an owner's package versions and container tags
// together, newest first, by rank. *DB implements it.
type OwnerLister interface {
	// ListOwner returns the entries of owner that pass f, newest first
	// (package versions by Created then newest ID; tags by their
	// manifest's Created then tag then repository; at one instant tags
	// before versions), skipping offset and returning at most limit
	// (limit < 0: all), and their number. Without Containers it is
	// ListPackageVersions (ordered by ID). A page costs the same at any
	// offset: without a Query, a Repository filter or other package
	// types than Type, the owner meta record, two Ranges and one GetMany;
	// with them, the package and repository records and two RangeMany
	// over the selection indexes of the names that match (selection.go),
	// and two GetMany.
	ListOwner(ctx context.Context, owner string, f OwnerFilter, offset, limit int) ([]OwnerItem, int, error)
}

var _ OwnerLister = (*DB)(nil)

// listAttempts bounds how often ListOwner reads a page again after
// repairing invalid entries (each pass removes those it met).
const listAttempts = 4

// ListOwner implements OwnerLister.
func (db *DB) ListOwner(ctx context.Context, owner string, f OwnerFilter, offset, limit int) ([]OwnerItem, int, error) {
	offset = max(offset, 0)
	pf := PackageFilter{Type: f.Type, Query: f.Query}
	if !f.Containers || db.noIndex {
		return db.packageItems(ctx, owner, pf, offset, limit)
	}
	if err := db.ensureOwnerTags(ctx, owner); err != nil {
		return nil, 0, err
	}
	shard := ownerShard(owner)
	ix := ixOwnerTags()
	var tags, others int
	err := db.view(ctx, shard, func(r driver.Reader) (err error) {
		if _, tags, err = ix.page(r, 0, 0); err != nil || !f.Packages {
			return err
		}
		ix = ixMixed()
		if f.Type == "" {
			return nil
		}
		// Versions of other types than f.Type would have to be skipped.
		_, all, err := ixOwner().page(r, 0, 0)
		if err != nil {
			return err
		}
		_, typed, err := ixType(f.Type).page(r, 0, 0)
		others = all - typed
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if f.Packages && tags == 0 {
		return db.packageItems(ctx, owner, pf, offset, limit) // as without containers
	}
	filtered := f.Query != "" || f.Repository != nil || others > 0
	for attempt := 0; ; attempt++ {
		var (
			kvs   []driver.KV
			total int
		)
		if !filtered {
			err = db.view(ctx, shard, func(r driver.Reader) (err error) {
				kvs, total, err = ix.page(r, offset, limit)
				return err
			})
		} else {
			kvs, total, err = db.selectOwner(ctx, owner, f, offset, limit)
		}
		if err != nil {
			return nil, 0, err
		}
		items, stale, err := db.ownerItems(ctx, owner, kvs)
		if err != nil || len(stale) == 0 || attempt == listAttempts-1 {
			return items, total, err
		}
		repaired, err := db.repairTags(ctx, owner, stale)
		if err != nil || !repaired {
			return items, total, err
		}
	}
}

// packageItems is ListOwner of package versions only.
func (db *DB) packageItems(ctx context.Context, owner string, f PackageFilter, offset, limit int) ([]OwnerItem, int, error) {
	vs, total, err := db.ListPackageVersions(ctx, owner, f, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]OwnerItem, len(vs))
	for i := range vs {
		out[i] = OwnerItem{Version: &vs[i]}
	}
	return out, total, nil
}

// selectOwner returns the entries of f from rank offset, at most limit,
// and their number, from the selection indexes of the names that match
// (selectPage): the versions of the matching packages (of the type, when
// there is no query), and the tags of the matching repositories (of
// every one, from k, when nothing filters them).
func (db *DB) selectOwner(ctx context.Context, owner string, f OwnerFilter, offset, limit int) ([]driver.KV, int, error) {
	shard := ownerShard(owner)
	var srcs []source
	if f.Packages && f.Query == "" && f.Type != "" {
		srcs = append(srcs, source{ix: ixTypeMixed(f.Type)})
	} else if f.Packages {
		pkgs, _, err := db.d.Range(ctx, shard, tPackage, "", "", -1)
		if err != nil {
			return nil, 0, mapErr(err)
		}
		types := map[string]bool{}
		for _, kv := range pkgs {
			typ, name, _ := strings.Cut(kv.Key, "\x00")
			switch {
			case f.Query != "" && (PackageFilter{Type: f.Type, Query: f.Query}).Match(typ, name):
				srcs = append(srcs, source{ix: ixPkgMixed(kv.Key)})
			case f.Query == "" && !types[typ]: // every type: the Repository filter
				types[typ] = true
				srcs = append(srcs, source{ix: ixTypeMixed(typ)})
			}
		}
	}
	if f.Query == "" && f.Repository == nil {
		srcs = append(srcs, source{ix: ixOwnerTags()})
	} else {
		repos, _, err := db.d.Range(ctx, shard, tOwnRepo, "", "", -1)
		if err != nil {
			return nil, 0, mapErr(err)
		}
		prefix := PackageKey(owner) + "/"
		for _, kv := range repos {
			if strings.Contains(strings.TrimPrefix(kv.Key, prefix), PackageKey(f.Query)) && (f.Repository == nil || f.Repository(kv.Key)) {
				srcs = append(srcs, source{ix: ixRepoTags(kv.Key), suffix: "\x00" + kv.Key})
			}
		}
	}
	return db.selectPage(ctx, shard, srcs, offset, limit)
}

// ownerItems reads the versions and tags of the entries kvs in one
// GetMany (versions with their packages from the owner shard, tags and
// their manifests from the repository shards), and returns the invalid
// tag entries apart.
func (db *DB) ownerItems(ctx context.Context, owner string, kvs []driver.KV) ([]OwnerItem, []tagEntry, error) {
	shard := ownerShard(owner)
	kvs, err := db.tagValues(ctx, shard, kvs)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]driver.Ref, 0, 2*len(kvs))
	pkgAt := map[string]int{}
	for _, kv := range kvs {
		if e, ok := parseTagEntry(kv); ok {
			rs := shardRepo(e.repo)
			refs = append(refs, driver.Ref{Shard: rs, Table: tTag, Key: e.tag}, driver.Ref{Shard: rs, Table: tManifest, Key: string(e.digest)})
			continue
		}
		vk := string(kv.Value)
		refs = append(refs, driver.Ref{Shard: shard, Table: tVersion, Key: vk}, driver.Ref{})
		if pk := pkgOfVerKey(vk); pkgAt[pk] == 0 {
			pkgAt[pk] = -1
		}
	}
	for pk := range pkgAt {
		pkgAt[pk] = len(refs)
		refs = append(refs, driver.Ref{Shard: shard, Table: tPackage, Key: pk})
	}
	want := refs[:0:0]
	at := make([]int, len(refs))
	for i, r := range refs {
		at[i] = -1
		if r.Shard != "" {
			at[i] = len(want)
			want = append(want, r)
		}
	}
	got, err := db.d.GetMany(ctx, want)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	val := func(i int) []byte {
		if at[i] < 0 {
			return nil
		}
		return got[at[i]]
	}
	out := make([]OwnerItem, 0, len(kvs))
	var stale []tagEntry
	for i, kv := range kvs {
		if e, ok := parseTagEntry(kv); ok {
			m, valid, err := e.valid(val(2*i), val(2*i+1))
			if err != nil {
				return nil, nil, err
			}
			if !valid {
				stale = append(stale, e)
				continue
			}
			out = append(out, OwnerItem{Repository: e.repo, Tag: &TaggedManifest{Tag: e.tag, Manifest: m}})
			continue
		}
		vb, pb := val(2*i), val(pkgAt[pkgOfVerKey(string(kv.Value))])
		if vb == nil || pb == nil {
			continue // deleted between the reads (no snapshot on Redis)
		}
		var (
			v verRec
			p Package
		)
		if err := decode(vb, &v); err != nil {
			return nil, nil, err
		}
		if err := decode(pb, &p); err != nil {
			return nil, nil, err
		}
		pv, _ := full(nil, p, v, "", false)
		out = append(out, OwnerItem{Version: &pv})
	}
	return out, stale, nil
}

// tagValues gives the tag entries of kvs without a value (from the
// repositories' selection indexes) the value of their entry in k, in one
// GetMany, and leaves out those that have none (removed meanwhile).
func (db *DB) tagValues(ctx context.Context, shard string, kvs []driver.KV) ([]driver.KV, error) {
	var refs []driver.Ref
	for _, kv := range kvs {
		if len(kv.Value) == 0 && isTagSortKey(kv.Key) {
			refs = append(refs, driver.Ref{Shard: shard, Table: tOIdx, Key: ixOwnerTags().prefix + kv.Key})
		}
	}
	if len(refs) == 0 {
		return kvs, nil
	}
	vals, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]driver.KV, 0, len(kvs))
	i := 0
	for _, kv := range kvs {
		if len(kv.Value) == 0 && isTagSortKey(kv.Key) {
			kv.Value = vals[i]
			if i++; kv.Value == nil {
				continue
			}
		}
		out = append(out, kv)
	}
	return out, nil
}

// repairTags repairs the entries of stale older than the grace, and
// reports whether it repaired any.
func (db *DB) repairTags(ctx context.Context, owner string, stale []tagEntry) (bool, error) {
	var now int64
	if db.grace > 0 {
		t, err := db.d.Now(ctx)
		if err != nil {
			return false, mapErr(err)
		}
		now = t.UnixNano()
	}
	repaired := false
	for _, e := range stale {
		if db.grace > 0 && now-e.entered < int64(db.grace) {
			continue // most likely a write in flight
		}
		if err := db.repairTag(ctx, owner, e); err != nil {
			return false, err
		}
		repaired = true
	}
	return repaired, nil
}

// repairTag removes the invalid entry e (see db_ownertags.go): in the
// repository shard, unless the entry became valid, its nonce is refused;
// then the entry goes if it still has that nonce.
func (db *DB) repairTag(ctx context.Context, owner string, e tagEntry) error {
	valid := false
	err := db.update(ctx, shardRepo(e.repo), func(tx driver.Tx) error {
		d, _, err := tx.Get(tTag, e.tag)
		if err != nil {
			return err
		}
		var mb []byte
		if string(d) == string(e.digest) {
			b, ok, err := tx.Get(tManifest, string(e.digest))
			if err != nil {
				return err
			} else if ok {
				mb = b
			}
		}
		if _, valid, err = e.valid(d, mb); err != nil || valid || e.nonce == "" {
			return err
		}
		return tx.Put(tRefused, e.nonce, nil)
	})
	if err != nil || valid {
		return err
	}
	return db.update(ctx, ownerShard(owner), func(tx driver.Tx) error { return db.dropTagEntry(tx, e.repo, e.sk, e.nonce) })
}

// ensureOwnerTags enters the tags of every repository of owner in its
// indexes when they are not there yet (Tags marker; see db_ownertags.go),
// and the versions when they are not (ensureOwnerIndex).
func (db *DB) ensureOwnerTags(ctx context.Context, owner string) error {
	shard := ownerShard(owner)
	m, ok, err := getRec[ownerMeta](ctx, db, shard, tOwnerMeta, "")
	if err != nil || (m.Tags && m.Indexed && m.Mixed && (m.Sel || db.noSel)) {
		return err
	}
	repos, _, err := db.d.Range(ctx, shardCatalog, tRepos, PackageKey(owner)+"/", "", -1)
	if err != nil {
		return mapErr(err)
	}
	if !ok && len(repos) == 0 {
		return nil // nothing stored: nothing to list, nothing to write
	}
	var entries []driver.KV
	if !m.Tags {
		for _, kv := range repos {
			var states []tagState
			err := db.view(ctx, shardRepo(kv.Key), func(r driver.Reader) (err error) {
				states, err = tagStates(r, "", time.Time{})
				return err
			})
			if err != nil {
				return err
			}
			for _, s := range states {
				entries = append(entries, driver.KV{Key: tagSortKey(s.created, kv.Key, s.tag), Value: tagValue(s.digest, s.nonce, time.Time{})})
			}
		}
	}
	return db.update(ctx, shard, func(tx driver.Tx) error {
		if err := db.ensureOwnerIndex(tx); err != nil {
			return err
		}
		m, _, err := get[ownerMeta](tx, tOwnerMeta, "")
		if err != nil || m.Tags {
			if err == nil && !m.Sel && !db.noSel {
				if err = db.ensureSelection(tx, &m); err == nil {
					err = put(tx, tOwnerMeta, "", m)
				}
			}
			return err
		}
		for _, ix := range []index{ixOwnerTags(), ixMixed()} {
			if err := ix.rebuild(tx, entries); err != nil {
				return err
			}
		}
		counts := map[string]int{}
		all, err := rangeAll(tx, tOIdx, ixOwnerTags().prefix)
		if err != nil {
			return err
		}
		for _, kv := range ixOwnerTags().strip(all) {
			if e, ok := parseTagEntry(kv); ok {
				counts[e.repo]++
			}
		}
		for repo, n := range counts {
			if err := put(tx, tOwnRepo, repo, n); err != nil {
				return err
			}
		}
		if m.Sel {
			// Built before the tags were entered: enter them.
			byRepo := map[string][]driver.KV{}
			for _, kv := range entries {
				if e, ok := parseTagEntry(kv); ok {
					byRepo[e.repo] = append(byRepo[e.repo], driver.KV{Key: repoTagKey(e.sk, e.repo)})
				}
			}
			for repo, kvs := range byRepo {
				if err := ixRepoTags(repo).rebuild(tx, kvs); err != nil {
					return err
				}
			}
		}
		m.Tags = true
		if err := db.ensureSelection(tx, &m); err != nil {
			return err
		}
		return put(tx, tOwnerMeta, "", m)
	})
}
