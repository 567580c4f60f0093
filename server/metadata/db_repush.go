package metadata

import (
	"context"

	"github.com/regkit/regkit/server/metadata/driver"
)

// A push of tags that already name the manifest (a CI job pushing the
// same image again, a client retrying) changes nothing, yet the tag write
// of a repository with an owner costs a read and two transactions (the
// owner entries, then the repository). putOwnedManifest first reads, in
// one GetMany, what decides whether anything would change; when nothing
// would, it checks the tags' owner entries in a second and returns
// without writing. The reads are not one snapshot on Redis; every fact
// checked is one that only a concurrent write can undo, and such a write
// is then simply ordered after this push.

// ownedState is what putOwnedManifest reads first: the stored manifest
// and whether the repository already holds m under every tag.
type ownedState struct {
	stored    Manifest
	exists    bool
	unchanged bool // listed, indexed, m stored, every tag names it
}

// readOwned reads the repository side of a tag write of m in one GetMany.
func (db *DB) readOwned(ctx context.Context, repo string, m Manifest, tags []string) (ownedState, error) {
	rs := shardRepo(repo)
	refs := make([]driver.Ref, 0, 2+len(tags))
	refs = append(refs, driver.Ref{Shard: rs, Table: tManifest, Key: string(m.Digest)}, driver.Ref{Shard: rs, Table: tMeta})
	for _, t := range tags {
		refs = append(refs, driver.Ref{Shard: rs, Table: tTag, Key: t})
	}
	got, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return ownedState{}, mapErr(err)
	}
	var st ownedState
	if got[0] == nil {
		return st, nil
	}
	if err := decode(got[0], &st.stored); err != nil {
		return st, err
	}
	st.exists = true
	if got[1] == nil {
		return st, nil
	}
	var meta repoMeta
	if err := decode(got[1], &meta); err != nil {
		return st, err
	}
	if meta.Listed == "" || !meta.Indexed {
		return st, nil
	}
	for _, d := range got[2:] {
		if string(d) != string(m.Digest) {
			return st, nil
		}
	}
	st.unchanged = true
	return st, nil
}

// entriesInPlace reports whether each tag of repo has its entries in the
// owner indexes on manifest st.stored (one GetMany): then listings show
// the tags as they are, and the push has nothing to write. A tag written
// without them (by an older binary: no entries, or no selection entry)
// takes the write, which enters them.
func (db *DB) entriesInPlace(ctx context.Context, owner, repo string, st ownedState, tags []string) (bool, error) {
	// Per tag: its entries in k and m (with the digest), and in its
	// repository's selection index (no value; selection.go).
	const per = 3
	refs := make([]driver.Ref, 0, per*len(tags))
	sks := make([]string, len(tags))
	shard := ownerShard(owner)
	sel := ixRepoTags(repo)
	for i, t := range tags {
		sk := tagSortKey(st.stored.Created, repo, t)
		sks[i] = sk
		for _, ix := range []index{ixOwnerTags(), ixMixed()} {
			refs = append(refs, driver.Ref{Shard: shard, Table: ix.t, Key: ix.prefix + sk})
		}
		refs = append(refs, driver.Ref{Shard: shard, Table: sel.t, Key: sel.prefix + repoTagKey(sk, repo)})
	}
	got, err := db.d.GetMany(ctx, refs)
	if err != nil {
		return false, mapErr(err)
	}
	for i, v := range got {
		if v == nil {
			return false, nil
		}
		if i%per == per-1 {
			continue // present is all it needs to be
		}
		if e, ok := parseTagEntry(driver.KV{Key: sks[i/per], Value: v}); !ok || e.digest != st.stored.Digest {
			return false, nil
		}
	}
	return true, nil
}
