package boltmeta

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
)

// Packages layout (metadata.Packages), in top-level buckets created on
// first write:
//
//	pkg-owners        one nested bucket per owner key; its sequence numbers
//	                  packages, versions and files
//	  <owner>/pkgs    type NUL name key → package (JSON)
//	  <owner>/vers    type NUL name key NUL version key → version (JSON,
//	                  with the download count)
//	  <owner>/files   type NUL name key NUL version key NUL file key → file (JSON)
//	  <owner>/order   8-byte big-endian version ID → type NUL name key NUL
//	                  version key, for newest-first listing
//	  <owner> "usage" 8-byte big-endian sum of the sizes of the owner's
//	                  files (metadata.Usage.NamespaceUsage)
//	pkg-uploads       upload ID → package upload record (JSON)
var (
	bucketPkgOwners  = []byte("pkg-owners")
	bucketPkgUploads = []byte("pkg-uploads")

	bucketPkgs     = []byte("pkgs")
	bucketPkgVers  = []byte("vers")
	bucketPkgFiles = []byte("files")
	bucketPkgOrder = []byte("order")
)

var _ metadata.Packages = (*Store)(nil)

// versionRecord is the stored form of a version (its package and files
// live in their own buckets).
type versionRecord struct {
	ID        int64     `json:"id"`
	Version   string    `json:"version"`
	Creator   string    `json:"creator,omitempty"`
	Created   time.Time `json:"created"`
	Downloads int64     `json:"downloads"`
}

func (r versionRecord) version(p metadata.Package) metadata.PackageVersion {
	return metadata.PackageVersion{ID: r.ID, Package: p, Version: r.Version, Creator: r.Creator, Created: r.Created, Downloads: r.Downloads}
}

type ownerBuckets struct {
	root, pkgs, vers, files, order *bolt.Bucket
}

// ownerBuckets returns the buckets of owner; nil when they do not exist
// and create is false (or the transaction is read-only).
func ownerBucketsOf(tx *bolt.Tx, owner string, create bool) (*ownerBuckets, error) {
	key := []byte(metadata.PackageKey(owner))
	var top, root *bolt.Bucket
	var err error
	if create {
		if top, err = tx.CreateBucketIfNotExists(bucketPkgOwners); err != nil {
			return nil, err
		}
		if root, err = top.CreateBucketIfNotExists(key); err != nil {
			return nil, err
		}
	} else {
		if top = tx.Bucket(bucketPkgOwners); top == nil {
			return nil, nil
		}
		if root = top.Bucket(key); root == nil {
			return nil, nil
		}
	}
	ob := &ownerBuckets{root: root}
	for _, b := range []struct {
		name []byte
		dst  **bolt.Bucket
	}{{bucketPkgs, &ob.pkgs}, {bucketPkgVers, &ob.vers}, {bucketPkgFiles, &ob.files}, {bucketPkgOrder, &ob.order}} {
		if create {
			if *b.dst, err = root.CreateBucketIfNotExists(b.name); err != nil {
				return nil, err
			}
		} else if *b.dst = root.Bucket(b.name); *b.dst == nil {
			return nil, nil
		}
	}
	return ob, nil
}

func pkgKeyOf(ref metadata.PackageRef) []byte {
	return join([]byte(metadata.PackageKey(ref.Type)), []byte(metadata.PackageKey(ref.Name)))
}

func verKeyOf(ref metadata.PackageRef) []byte {
	return join(pkgKeyOf(ref), []byte(metadata.PackageKey(ref.Version)))
}

func fileKeyOf(ref metadata.PackageRef, name string) []byte {
	return join(verKeyOf(ref), []byte(metadata.PackageKey(name)))
}

// pkgUsage returns the package usage of the owner at root (nil: none).
func pkgUsage(root *bolt.Bucket) int64 {
	if root == nil {
		return 0
	}
	if v := root.Get(keyUsage); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// addPkgUsage adds delta to the package usage of ob's owner.
func addPkgUsage(ob *ownerBuckets, delta int64) error {
	if delta == 0 {
		return nil
	}
	return ob.root.Put(keyUsage, binary.BigEndian.AppendUint64(nil, uint64(pkgUsage(ob.root)+delta)))
}

// ownerUsage returns the package usage of owner (any case) in tx.
func ownerUsage(tx *bolt.Tx, owner string) int64 {
	top := tx.Bucket(bucketPkgOwners)
	if top == nil {
		return 0
	}
	return pkgUsage(top.Bucket([]byte(metadata.PackageKey(owner))))
}

// nextID returns the next ID of the pkg-owners sequence.
func nextPkgID(tx *bolt.Tx) (int64, error) {
	top, err := tx.CreateBucketIfNotExists(bucketPkgOwners)
	if err != nil {
		return 0, err
	}
	seq, err := top.NextSequence()
	return int64(seq), err
}

// versionFiles returns the files of the version at vk, by ID.
func versionFiles(ob *ownerBuckets, vk []byte) ([]metadata.PackageFile, error) {
	files := []metadata.PackageFile{}
	prefix := append(slices.Clone(vk), 0)
	c := ob.files.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var f metadata.PackageFile
		if err := json.Unmarshal(v, &f); err != nil {
			return nil, fmt.Errorf("decode file %q: %w", k, err)
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b metadata.PackageFile) int { return cmp.Compare(a.ID, b.ID) })
	return files, nil
}

// PutPackageFile implements metadata.Packages.
func (s *Store) PutPackageFile(ctx context.Context, ref metadata.PackageRef, f metadata.PackageFile, opts metadata.PutFileOptions) (metadata.PackageVersion, error) {
	var out metadata.PackageVersion
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, true)
		if err != nil {
			return err
		}
		now := s.nowTime()
		pk, vk, fk := pkgKeyOf(ref), verKeyOf(ref), fileKeyOf(ref, f.Name)
		p, pok, err := getJSON[metadata.Package](ob.pkgs, pk)
		if err != nil {
			return err
		}
		vr, vok, err := getJSON[versionRecord](ob.vers, vk)
		if err != nil {
			return err
		}
		if vok && ob.files.Get(fk) != nil {
			return fmt.Errorf("file %s: %w", f.Name, metadata.ErrExists)
		}
		if !vok && pok && p.SemVer && !opts.SemVer {
			return fmt.Errorf("version %s of SemVer package %s: %w", ref.Version, p.Name, metadata.ErrConflict)
		}
		if !pok {
			id, err := nextPkgID(tx)
			if err != nil {
				return err
			}
			p = metadata.Package{ID: id, Owner: ref.Owner, Type: ref.Type, Name: ref.Name, SemVer: opts.SemVer, Creator: opts.Creator, Created: now}
			if err := putJSON(ob.pkgs, pk, p); err != nil {
				return err
			}
		}
		if !vok {
			id, err := nextPkgID(tx)
			if err != nil {
				return err
			}
			vr = versionRecord{ID: id, Version: ref.Version, Creator: opts.Creator, Created: now}
			if err := putJSON(ob.vers, vk, vr); err != nil {
				return err
			}
			if err := ob.order.Put(idKey(id), vk); err != nil {
				return err
			}
		}
		id, err := nextPkgID(tx)
		if err != nil {
			return err
		}
		f.ID = id
		if f.Created.IsZero() {
			f.Created = now
		}
		f.Created = utc(f.Created)
		if err := putJSON(ob.files, fk, f); err != nil {
			return err
		}
		if err := addPkgUsage(ob, f.Size); err != nil {
			return err
		}
		out = vr.version(p)
		out.Files, err = versionFiles(ob, vk)
		return err
	})
	if err != nil {
		return metadata.PackageVersion{}, fmt.Errorf("boltmeta: put file %s into %s/%s/%s: %w", f.Name, ref.Owner, ref.Name, ref.Version, err)
	}
	return out, nil
}

// GetPackage implements metadata.Packages.
func (s *Store) GetPackage(ctx context.Context, ref metadata.PackageRef) (metadata.Package, error) {
	var p metadata.Package
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		var ok bool
		if p, ok, err = getJSON[metadata.Package](ob.pkgs, pkgKeyOf(ref)); err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Package{}, fmt.Errorf("boltmeta: package %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, err)
	}
	return p, nil
}

func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return metadata.ErrNotFound
}

// getVersion reads the version of ref with its package.
func getVersion(ob *ownerBuckets, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	vr, ok, err := getJSON[versionRecord](ob.vers, verKeyOf(ref))
	if err != nil || !ok {
		return metadata.PackageVersion{}, orNotFound(err)
	}
	p, ok, err := getJSON[metadata.Package](ob.pkgs, pkgKeyOf(ref))
	if err != nil || !ok {
		return metadata.PackageVersion{}, orNotFound(err)
	}
	return vr.version(p), nil
}

// GetPackageVersion implements metadata.Packages.
func (s *Store) GetPackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	var v metadata.PackageVersion
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		if v, err = getVersion(ob, ref); err != nil {
			return err
		}
		v.Files, err = versionFiles(ob, verKeyOf(ref))
		return err
	})
	if err != nil {
		return metadata.PackageVersion{}, fmt.Errorf("boltmeta: version %s of %s/%s: %w", ref.Version, ref.Owner, ref.Name, err)
	}
	return v, nil
}

// GetPackageFile implements metadata.Packages.
func (s *Store) GetPackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, error) {
	var f metadata.PackageFile
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		var ok bool
		if f, ok, err = getJSON[metadata.PackageFile](ob.files, fileKeyOf(ref, filename)); err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.PackageFile{}, fmt.Errorf("boltmeta: file %s of %s/%s/%s: %w", filename, ref.Owner, ref.Name, ref.Version, err)
	}
	return f, nil
}

// removeVersion deletes the version of ref and its order entry, and the
// package when no version is left.
func removeVersion(ob *ownerBuckets, ref metadata.PackageRef, id int64) error {
	if err := ob.vers.Delete(verKeyOf(ref)); err != nil {
		return err
	}
	if err := ob.order.Delete(idKey(id)); err != nil {
		return err
	}
	prefix := append(pkgKeyOf(ref), 0)
	if k, _ := ob.vers.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return nil
	}
	return ob.pkgs.Delete(pkgKeyOf(ref))
}

// DeletePackageFile implements metadata.Packages.
func (s *Store) DeletePackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, bool, error) {
	var (
		f    metadata.PackageFile
		gone bool
	)
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		fk := fileKeyOf(ref, filename)
		var ok bool
		if f, ok, err = getJSON[metadata.PackageFile](ob.files, fk); err != nil || !ok {
			return orNotFound(err)
		}
		if err := ob.files.Delete(fk); err != nil {
			return err
		}
		if err := addPkgUsage(ob, -f.Size); err != nil {
			return err
		}
		prefix := append(verKeyOf(ref), 0)
		if k, _ := ob.files.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			return nil
		}
		v, err := getVersion(ob, ref)
		if err != nil {
			return err
		}
		gone = true
		return removeVersion(ob, ref, v.ID)
	})
	if err != nil {
		return metadata.PackageFile{}, false, fmt.Errorf("boltmeta: delete file %s of %s/%s/%s: %w", filename, ref.Owner, ref.Name, ref.Version, err)
	}
	return f, gone, nil
}

// DeletePackageVersion implements metadata.Packages.
func (s *Store) DeletePackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	var v metadata.PackageVersion
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		if v, err = getVersion(ob, ref); err != nil {
			return err
		}
		if v.Files, err = versionFiles(ob, verKeyOf(ref)); err != nil {
			return err
		}
		for _, f := range v.Files {
			if err := ob.files.Delete(fileKeyOf(ref, f.Name)); err != nil {
				return err
			}
			if err := addPkgUsage(ob, -f.Size); err != nil {
				return err
			}
		}
		return removeVersion(ob, ref, v.ID)
	})
	if err != nil {
		return metadata.PackageVersion{}, fmt.Errorf("boltmeta: delete version %s of %s/%s: %w", ref.Version, ref.Owner, ref.Name, err)
	}
	return v, nil
}

// CountPackageDownload implements metadata.Packages.
func (s *Store) CountPackageDownload(ctx context.Context, ref metadata.PackageRef) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		vk := verKeyOf(ref)
		vr, ok, err := getJSON[versionRecord](ob.vers, vk)
		if err != nil || !ok {
			return orNotFound(err)
		}
		vr.Downloads++
		return putJSON(ob.vers, vk, vr)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: count download of %s/%s/%s: %w", ref.Owner, ref.Name, ref.Version, err)
	}
	return nil
}

// listVersions walks the owner's versions newest first, keeping those
// keep accepts, and pages them.
func listVersions(ob *ownerBuckets, keep func(vk []byte, p metadata.Package) bool, offset, limit int) ([]metadata.PackageVersion, int, error) {
	out := []metadata.PackageVersion{}
	total := 0
	pkgCache := map[string]metadata.Package{}
	c := ob.order.Cursor()
	for _, vk := c.Last(); vk != nil; _, vk = c.Prev() {
		pk := vk[:bytes.LastIndexByte(vk, 0)]
		p, ok := pkgCache[string(pk)]
		if !ok {
			var err error
			if p, ok, err = getJSON[metadata.Package](ob.pkgs, pk); err != nil {
				return nil, 0, err
			}
			if !ok {
				continue
			}
			pkgCache[string(pk)] = p
		}
		if !keep(vk, p) {
			continue
		}
		total++
		if total <= offset || (limit >= 0 && len(out) >= limit) {
			continue
		}
		vr, ok, err := getJSON[versionRecord](ob.vers, vk)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			out = append(out, vr.version(p))
		}
	}
	return out, total, nil
}

// PackageVersions implements metadata.Packages.
func (s *Store) PackageVersions(ctx context.Context, ref metadata.PackageRef, offset, limit int) ([]metadata.PackageVersion, int, error) {
	var (
		out   []metadata.PackageVersion
		total int
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		pk := pkgKeyOf(ref)
		if ob.pkgs.Get(pk) == nil {
			return metadata.ErrNotFound
		}
		prefix := append(pk, 0)
		out, total, err = listVersions(ob, func(vk []byte, _ metadata.Package) bool { return bytes.HasPrefix(vk, prefix) }, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("boltmeta: versions of %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, err)
	}
	return out, total, nil
}

// ListPackageVersions implements metadata.Packages.
func (s *Store) ListPackageVersions(ctx context.Context, owner string, filter metadata.PackageFilter, offset, limit int) ([]metadata.PackageVersion, int, error) {
	out := []metadata.PackageVersion{}
	total := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, owner, false)
		if err != nil || ob == nil {
			return err
		}
		out, total, err = listVersions(ob, func(_ []byte, p metadata.Package) bool { return filter.Match(p.Type, p.Name) }, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("boltmeta: list packages of %s: %w", owner, err)
	}
	return out, total, nil
}

// LinkPackage implements metadata.Packages.
func (s *Store) LinkPackage(ctx context.Context, ref metadata.PackageRef, repository string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ob, err := ownerBucketsOf(tx, ref.Owner, false)
		if err != nil || ob == nil {
			return orNotFound(err)
		}
		pk := pkgKeyOf(ref)
		p, ok, err := getJSON[metadata.Package](ob.pkgs, pk)
		if err != nil || !ok {
			return orNotFound(err)
		}
		p.Repository = repository
		return putJSON(ob.pkgs, pk, p)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: link %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, err)
	}
	return nil
}

// PackageBlobs implements metadata.Packages: one owner per page, the
// cursor being the owner key of the next page.
func (s *Store) PackageBlobs(ctx context.Context, cursor string) ([]digest.Digest, string, error) {
	out := []digest.Digest{}
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketPkgOwners)
		if top == nil {
			return nil
		}
		c := top.Cursor()
		k, _ := c.Seek([]byte(cursor))
		for ; k != nil && top.Bucket(k) == nil; k, _ = c.Next() {
		}
		if k == nil {
			return nil
		}
		files := top.Bucket(k).Bucket(bucketPkgFiles)
		if files != nil {
			err := files.ForEach(func(_, v []byte) error {
				var f metadata.PackageFile
				if err := json.Unmarshal(v, &f); err != nil {
					return err
				}
				out = append(out, f.Digest())
				return nil
			})
			if err != nil {
				return err
			}
		}
		for k, _ = c.Next(); k != nil && top.Bucket(k) == nil; k, _ = c.Next() {
		}
		if k != nil {
			next = string(k)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("boltmeta: package blobs: %w", err)
	}
	return out, next, nil
}

// CreatePackageUpload implements metadata.Packages.
func (s *Store) CreatePackageUpload(ctx context.Context, u metadata.PackageUpload) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPkgUploads)
		if err != nil {
			return err
		}
		if b.Get([]byte(u.ID)) != nil {
			return metadata.ErrExists
		}
		if u.Started.IsZero() {
			u.Started = s.nowTime()
		}
		u.Started = utc(u.Started)
		return putJSON(b, []byte(u.ID), u)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: create package upload %s: %w", u.ID, err)
	}
	return nil
}

// GetPackageUpload implements metadata.Packages.
func (s *Store) GetPackageUpload(ctx context.Context, id string) (metadata.PackageUpload, error) {
	var u metadata.PackageUpload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		if u, ok, err = getJSON[metadata.PackageUpload](tx.Bucket(bucketPkgUploads), []byte(id)); err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.PackageUpload{}, fmt.Errorf("boltmeta: package upload %s: %w", id, err)
	}
	return u, nil
}

// UpdatePackageUpload implements metadata.Packages.
func (s *Store) UpdatePackageUpload(ctx context.Context, u metadata.PackageUpload, prevOffset int64) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPkgUploads)
		cur, ok, err := getJSON[metadata.PackageUpload](b, []byte(u.ID))
		if err != nil || !ok {
			return orNotFound(err)
		}
		if cur.Offset != prevOffset {
			return fmt.Errorf("at offset %d, not %d: %w", cur.Offset, prevOffset, metadata.ErrConflict)
		}
		cur.Offset, cur.MD5, cur.SHA1 = u.Offset, u.MD5, u.SHA1
		return putJSON(b, []byte(u.ID), cur)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: update package upload %s: %w", u.ID, err)
	}
	return nil
}

// DeletePackageUpload implements metadata.Packages.
func (s *Store) DeletePackageUpload(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPkgUploads)
		if b == nil || b.Get([]byte(id)) == nil {
			return metadata.ErrNotFound
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete package upload %s: %w", id, err)
	}
	return nil
}
