package metadata

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Package tables: in owner:<owner key> every package, version and file
// of the owner (so that each method is one transaction); in pkgindex the
// owners (for PackageBlobs) and the ID sequence.
var (
	tPackage   = driver.Table{Name: "package", Ordered: true} // pkgKey → Package
	tVersion   = driver.Table{Name: "version", Ordered: true} // pkgKey NUL version key → verRec
	tFile      = driver.Table{Name: "file", Ordered: true}    // pkgKey NUL version key NUL file key → PackageFile
	tOwnerMeta = driver.Table{Name: "ownermeta"}              // "" → ownerMeta
	tOwners    = driver.Table{Name: "owners", Ordered: true}  // owner key → ""
)

// verRec is a stored version: PackageVersion without its package and
// files, with its download count.
type verRec struct {
	PackageVersion
	Count int64 `json:"dl,omitempty"`
}

// ownerMeta is an owner's package usage.
type ownerMeta struct {
	Usage int64 `json:"u,omitempty"`
	// Indexed reports that the owner's list indexes are built (stores
	// written before them are indexed on first use, ensureOwnerIndex).
	Indexed bool `json:"x,omitempty"`
	// Mixed reports that the versions are in the owner index m too, Tags
	// that the tags of the owner's repositories are in m and k
	// (db_ownertags.go).
	Mixed bool `json:"xm,omitempty"`
	Tags  bool `json:"xt,omitempty"`
	// Sel reports that the selection indexes are built (selection.go).
	Sel bool `json:"xs,omitempty"`
}

// pkgRec is a stored package: Package with the counts of its versions.
type pkgRec struct {
	Package
	// Versions counts the package's versions, NonSemVer those that are
	// not SemVer (latest is by SemVer while it is 0).
	Versions  int `json:"nv,omitempty"`
	NonSemVer int `json:"ns,omitempty"`
}

func pkgKey(ref PackageRef) string { return PackageKey(ref.Type) + "\x00" + PackageKey(ref.Name) }
func verKey(ref PackageRef) string { return pkgKey(ref) + "\x00" + PackageKey(ref.Version) }

func (db *DB) owner(ctx context.Context, ref PackageRef, fn func(tx driver.Tx) error) error {
	return db.update(ctx, shardOwner(PackageKey(ref.Owner)), fn)
}

// files returns the files of the version at vk, by ID.
func files(r driver.Reader, vk string) ([]PackageFile, error) {
	kvs, err := rangeAll(r, tFile, vk+"\x00")
	if err != nil {
		return nil, err
	}
	out := make([]PackageFile, len(kvs))
	for i, kv := range kvs {
		if err := decode(kv.Value, &out[i]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b PackageFile) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// lookup reads the package and version of ref.
func lookup(r driver.Reader, ref PackageRef) (p pkgRec, pok bool, v verRec, vok bool, err error) {
	if p, pok, err = get[pkgRec](r, tPackage, pkgKey(ref)); err != nil || !pok {
		return
	}
	v, vok, err = get[verRec](r, tVersion, verKey(ref))
	return
}

// full returns v with its package, count and (when withFiles) files.
func full(r driver.Reader, p Package, v verRec, vk string, withFiles bool) (PackageVersion, error) {
	pv := v.PackageVersion
	pv.Package, pv.Downloads = p, v.Count
	if withFiles {
		fs, err := files(r, vk)
		if err != nil {
			return PackageVersion{}, err
		}
		pv.Files = fs
	}
	return pv, nil
}

// PutPackageFile implements Packages: the owner enters the owner index
// (and IDs are drawn) first, then the file is stored in the owner's shard.
func (db *DB) PutPackageFile(ctx context.Context, ref PackageRef, f PackageFile, opts PutFileOptions) (PackageVersion, error) {
	var base int64
	err := db.update(ctx, shardPkgIndex, func(tx driver.Tx) (err error) {
		if err := tx.Put(tOwners, PackageKey(ref.Owner), nil); err != nil {
			return err
		}
		base, err = nextID(tx, 3)
		return err
	})
	if err != nil {
		return PackageVersion{}, err
	}
	var out PackageVersion
	err = db.owner(ctx, ref, func(tx driver.Tx) error {
		if err := db.ensureOwnerIndex(tx); err != nil {
			return err
		}
		p, pok, v, vok, err := lookup(tx, ref)
		if err != nil {
			return err
		}
		fk := verKey(ref) + "\x00" + PackageKey(f.Name)
		if vok {
			if _, ok, err := tx.Get(tFile, fk); err != nil || ok {
				if ok {
					return errorf(ErrExists, "file %s of %s/%s/%s", f.Name, ref.Owner, ref.Name, ref.Version)
				}
				return err
			}
		} else if pok && p.SemVer && !opts.SemVer {
			return conflict("version %s of SemVer package %s", ref.Version, ref.Name)
		}
		now := utc(tx.Now())
		if !pok {
			p = pkgRec{Package: Package{ID: base, Owner: ref.Owner, Type: ref.Type, Name: ref.Name, SemVer: opts.SemVer, Creator: opts.Creator, Created: now}}
		}
		if !vok {
			v = verRec{PackageVersion: PackageVersion{ID: base + 1, Version: ref.Version, Creator: opts.Creator, Created: now}}
			if err := put(tx, tVersion, verKey(ref), v); err != nil {
				return err
			}
			if err := db.indexVersion(tx, &p, ref, v.PackageVersion, true); err != nil {
				return err
			}
			if err := put(tx, tPackage, pkgKey(ref), p); err != nil {
				return err
			}
		}
		f.ID = base + 2
		if f.Created = utc(f.Created); f.Created.IsZero() {
			f.Created = now
		}
		if err := put(tx, tFile, fk, f); err != nil {
			return err
		}
		if err := addOwnerUsage(tx, f.Size); err != nil {
			return err
		}
		out, err = full(tx, p.Package, v, verKey(ref), true)
		return err
	})
	return out, err
}

func addOwnerUsage(tx driver.Tx, n int64) error {
	m, _, err := get[ownerMeta](tx, tOwnerMeta, "")
	if err != nil {
		return err
	}
	m.Usage += n
	return put(tx, tOwnerMeta, "", m)
}

// GetPackage implements Packages with one Get.
func (db *DB) GetPackage(ctx context.Context, ref PackageRef) (Package, error) {
	p, ok, err := getRec[Package](ctx, db, shardOwner(PackageKey(ref.Owner)), tPackage, pkgKey(ref))
	if err == nil && !ok {
		err = notFound("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
	}
	return p, err
}

// GetPackageVersion implements Packages.
func (db *DB) GetPackageVersion(ctx context.Context, ref PackageRef) (PackageVersion, error) {
	var out PackageVersion
	err := db.view(ctx, shardOwner(PackageKey(ref.Owner)), func(r driver.Reader) error {
		p, _, v, vok, err := lookup(r, ref)
		if err != nil {
			return err
		} else if !vok {
			return notFound("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
		}
		out, err = full(r, p.Package, v, verKey(ref), true)
		return err
	})
	return out, err
}

// GetPackageFile implements Packages with one Get.
func (db *DB) GetPackageFile(ctx context.Context, ref PackageRef, filename string) (PackageFile, error) {
	f, ok, err := getRec[PackageFile](ctx, db, shardOwner(PackageKey(ref.Owner)), tFile, verKey(ref)+"\x00"+PackageKey(filename))
	if err == nil && !ok {
		err = notFound("file %s of %s/%s/%s", filename, ref.Owner, ref.Name, ref.Version)
	}
	return f, err
}

// dropVersion deletes version v of ref (its files already gone) from
// the package p and its indexes, and the package when it was its last
// version.
func (db *DB) dropVersion(tx driver.Tx, p pkgRec, ref PackageRef, v verRec) error {
	if err := tx.Delete(tVersion, verKey(ref)); err != nil {
		return err
	}
	if err := db.indexVersion(tx, &p, ref, v.PackageVersion, false); err != nil {
		return err
	}
	rest, _, err := tx.Range(tVersion, pkgKey(ref)+"\x00", "", 1)
	if err != nil {
		return err
	} else if len(rest) > 0 {
		return put(tx, tPackage, pkgKey(ref), p)
	}
	return tx.Delete(tPackage, pkgKey(ref))
}

// DeletePackageFile implements Packages.
func (db *DB) DeletePackageFile(ctx context.Context, ref PackageRef, filename string) (PackageFile, bool, error) {
	var (
		f       PackageFile
		dropped bool
	)
	err := db.owner(ctx, ref, func(tx driver.Tx) error {
		if err := db.ensureOwnerIndex(tx); err != nil {
			return err
		}
		fk := verKey(ref) + "\x00" + PackageKey(filename)
		var (
			ok  bool
			err error
		)
		if f, ok, err = get[PackageFile](tx, tFile, fk); err != nil {
			return err
		} else if !ok {
			return notFound("file %s of %s/%s/%s", filename, ref.Owner, ref.Name, ref.Version)
		}
		if err := tx.Delete(tFile, fk); err != nil {
			return err
		}
		if err := addOwnerUsage(tx, -f.Size); err != nil {
			return err
		}
		rest, _, err := tx.Range(tFile, verKey(ref)+"\x00", "", 1)
		if dropped = err == nil && len(rest) == 0; !dropped {
			return err
		}
		p, _, v, _, err := lookup(tx, ref)
		if err != nil {
			return err
		}
		return db.dropVersion(tx, p, ref, v)
	})
	return f, dropped, err
}

// DeletePackageVersion implements Packages.
func (db *DB) DeletePackageVersion(ctx context.Context, ref PackageRef) (PackageVersion, error) {
	var out PackageVersion
	err := db.owner(ctx, ref, func(tx driver.Tx) error {
		if err := db.ensureOwnerIndex(tx); err != nil {
			return err
		}
		p, _, v, vok, err := lookup(tx, ref)
		if err != nil {
			return err
		} else if !vok {
			return notFound("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
		}
		if out, err = full(tx, p.Package, v, verKey(ref), true); err != nil {
			return err
		}
		var size int64
		for _, f := range out.Files {
			size += f.Size
			if err := tx.Delete(tFile, verKey(ref)+"\x00"+PackageKey(f.Name)); err != nil {
				return err
			}
		}
		if err := addOwnerUsage(tx, -size); err != nil {
			return err
		}
		return db.dropVersion(tx, p, ref, v)
	})
	return out, err
}

// CountPackageDownload implements Packages.
func (db *DB) CountPackageDownload(ctx context.Context, ref PackageRef) error {
	return db.owner(ctx, ref, func(tx driver.Tx) error {
		v, ok, err := get[verRec](tx, tVersion, verKey(ref))
		if err != nil {
			return err
		} else if !ok {
			return notFound("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
		}
		v.Count++
		return put(tx, tVersion, verKey(ref), v)
	})
}

// AddPackageDownloads implements DownloadCounter: one transaction for
// all of counts (which have one owner).
func (db *DB) AddPackageDownloads(ctx context.Context, counts map[PackageRef]int64) error {
	var first PackageRef
	for ref := range counts {
		first = ref
		break
	}
	if len(counts) == 0 {
		return nil
	}
	return db.owner(ctx, first, func(tx driver.Tx) error {
		for ref, n := range counts {
			if PackageKey(ref.Owner) != PackageKey(first.Owner) {
				return fmt.Errorf("metadata: download counts of owners %s and %s in one call", first.Owner, ref.Owner)
			}
			v, ok, err := get[verRec](tx, tVersion, verKey(ref))
			if err != nil {
				return err
			} else if !ok {
				continue
			}
			v.Count += n
			if err := put(tx, tVersion, verKey(ref), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// LinkPackage implements Packages.
func (db *DB) LinkPackage(ctx context.Context, ref PackageRef, repository string) error {
	return db.owner(ctx, ref, func(tx driver.Tx) error {
		p, ok, err := get[pkgRec](tx, tPackage, pkgKey(ref))
		if err != nil {
			return err
		} else if !ok {
			return notFound("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
		}
		p.Repository = repository
		return put(tx, tPackage, pkgKey(ref), p)
	})
}

// PackageBlobs implements Packages: one owner per page (the owner index
// lists every owner before its first file is stored); the cursor is the
// owner key of the previous page.
func (db *DB) PackageBlobs(ctx context.Context, cursor string) ([]digest.Digest, string, error) {
	owners, more, err := db.d.Range(ctx, shardPkgIndex, tOwners, "", cursor, 1)
	if err != nil {
		return nil, "", mapErr(err)
	}
	out := []digest.Digest{}
	if len(owners) == 0 {
		return out, "", nil
	}
	o := owners[0].Key
	kvs, _, err := db.d.Range(ctx, shardOwner(o), tFile, "", "", -1)
	if err != nil {
		return nil, "", mapErr(err)
	}
	for _, kv := range kvs {
		var f PackageFile
		if err := decode(kv.Value, &f); err != nil {
			return nil, "", err
		}
		out = append(out, f.Digest())
	}
	if !more {
		o = ""
	}
	return out, o, nil
}
