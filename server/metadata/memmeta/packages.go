package memmeta

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"weak"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

var _ metadata.Packages = (*Store)(nil)

// pkgs is the packages part of a Store, kept beside it like identity.
// Lock order: pkgs.mu before Store.mu.
type pkgs struct {
	mu       sync.Mutex
	seq      int64
	owners   map[string]*ownerPkgs // owner key → packages
	uploads  map[string]metadata.PackageUpload
	ownerSeq []string // owner keys in creation order, for PackageBlobs
}

type ownerPkgs struct {
	packages map[string]*memPackage // type NUL name key → package
	usage    int64                  // sum of the sizes of the files
}

type memPackage struct {
	p        metadata.Package
	versions map[string]*memVersion // version key → version
}

type memVersion struct {
	v     metadata.PackageVersion // without Package and Files
	files map[string]metadata.PackageFile
}

var packageStores sync.Map // weak.Pointer[Store] → *pkgs

func (s *Store) pkgs() *pkgs {
	key := weak.Make(s)
	if v, ok := packageStores.Load(key); ok {
		return v.(*pkgs)
	}
	v, loaded := packageStores.LoadOrStore(key, &pkgs{owners: map[string]*ownerPkgs{}, uploads: map[string]metadata.PackageUpload{}})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { packageStores.Delete(k) }, key)
	}
	return v.(*pkgs)
}

func pkgKey(ref metadata.PackageRef) string {
	return metadata.PackageKey(ref.Type) + "\x00" + metadata.PackageKey(ref.Name)
}

func (p *pkgs) find(ref metadata.PackageRef) (*memPackage, *memVersion) {
	o := p.owners[metadata.PackageKey(ref.Owner)]
	if o == nil {
		return nil, nil
	}
	mp := o.packages[pkgKey(ref)]
	if mp == nil {
		return nil, nil
	}
	return mp, mp.versions[metadata.PackageKey(ref.Version)]
}

// full returns v with its package and (when files) its files.
func (mv *memVersion) full(mp *memPackage, files bool) metadata.PackageVersion {
	v := mv.v
	v.Package = mp.p
	if files {
		v.Files = make([]metadata.PackageFile, 0, len(mv.files))
		for _, f := range mv.files {
			v.Files = append(v.Files, f)
		}
		slices.SortFunc(v.Files, func(a, b metadata.PackageFile) int { return cmp.Compare(a.ID, b.ID) })
	}
	return v
}

// PutPackageFile implements metadata.Packages.
func (s *Store) PutPackageFile(ctx context.Context, ref metadata.PackageRef, f metadata.PackageFile, opts metadata.PutFileOptions) (metadata.PackageVersion, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageVersion{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.nowTime()
	mp, mv := p.find(ref)
	if mv != nil {
		if _, ok := mv.files[metadata.PackageKey(f.Name)]; ok {
			return metadata.PackageVersion{}, fmt.Errorf("memmeta: file %s of %s/%s/%s: %w", f.Name, ref.Owner, ref.Name, ref.Version, metadata.ErrExists)
		}
	} else if mp != nil && mp.p.SemVer && !opts.SemVer {
		return metadata.PackageVersion{}, fmt.Errorf("memmeta: version %s of SemVer package %s: %w", ref.Version, ref.Name, metadata.ErrConflict)
	}
	ok := metadata.PackageKey(ref.Owner)
	o := p.owners[ok]
	if o == nil {
		o = &ownerPkgs{packages: map[string]*memPackage{}}
		p.owners[ok] = o
		p.ownerSeq = append(p.ownerSeq, ok)
	}
	if mp == nil {
		p.seq++
		mp = &memPackage{
			p:        metadata.Package{ID: p.seq, Owner: ref.Owner, Type: ref.Type, Name: ref.Name, SemVer: opts.SemVer, Creator: opts.Creator, Created: now},
			versions: map[string]*memVersion{},
		}
		o.packages[pkgKey(ref)] = mp
	}
	if mv == nil {
		p.seq++
		mv = &memVersion{
			v:     metadata.PackageVersion{ID: p.seq, Version: ref.Version, Creator: opts.Creator, Created: now},
			files: map[string]metadata.PackageFile{},
		}
		mp.versions[metadata.PackageKey(ref.Version)] = mv
	}
	p.seq++
	f.ID = p.seq
	if f.Created.IsZero() {
		f.Created = now
	}
	f.Created = normTime(f.Created)
	mv.files[metadata.PackageKey(f.Name)] = f
	o.usage += f.Size
	return mv.full(mp, true), nil
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("memmeta: "+format+": %w", append(args, metadata.ErrNotFound)...)
}

// GetPackage implements metadata.Packages.
func (s *Store) GetPackage(ctx context.Context, ref metadata.PackageRef) (metadata.Package, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Package{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, _ := p.find(ref)
	if mp == nil {
		return metadata.Package{}, notFoundf("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
	}
	return mp.p, nil
}

// GetPackageVersion implements metadata.Packages.
func (s *Store) GetPackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageVersion{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, mv := p.find(ref)
	if mv == nil {
		return metadata.PackageVersion{}, notFoundf("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
	}
	return mv.full(mp, true), nil
}

// GetPackageFile implements metadata.Packages.
func (s *Store) GetPackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageFile{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	_, mv := p.find(ref)
	if mv == nil {
		return metadata.PackageFile{}, notFoundf("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
	}
	f, ok := mv.files[metadata.PackageKey(filename)]
	if !ok {
		return metadata.PackageFile{}, notFoundf("file %s", filename)
	}
	return f, nil
}

// removeVersion deletes mv (whose files are gone or going, their sizes
// already subtracted) from mp, and mp from its owner when it was the last
// version.
func (p *pkgs) removeVersion(ref metadata.PackageRef, mp *memPackage) {
	delete(mp.versions, metadata.PackageKey(ref.Version))
	if len(mp.versions) == 0 {
		delete(p.owners[metadata.PackageKey(ref.Owner)].packages, pkgKey(ref))
	}
}

// ownerUsage returns the package usage of owner (any case).
func (p *pkgs) ownerUsage(owner string) int64 {
	if o := p.owners[metadata.PackageKey(owner)]; o != nil {
		return o.usage
	}
	return 0
}

// DeletePackageFile implements metadata.Packages.
func (s *Store) DeletePackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, bool, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageFile{}, false, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, mv := p.find(ref)
	if mv == nil {
		return metadata.PackageFile{}, false, notFoundf("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
	}
	k := metadata.PackageKey(filename)
	f, ok := mv.files[k]
	if !ok {
		return metadata.PackageFile{}, false, notFoundf("file %s", filename)
	}
	delete(mv.files, k)
	p.owners[metadata.PackageKey(ref.Owner)].usage -= f.Size
	if len(mv.files) > 0 {
		return f, false, nil
	}
	p.removeVersion(ref, mp)
	return f, true, nil
}

// DeletePackageVersion implements metadata.Packages.
func (s *Store) DeletePackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageVersion{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, mv := p.find(ref)
	if mv == nil {
		return metadata.PackageVersion{}, notFoundf("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
	}
	v := mv.full(mp, true)
	o := p.owners[metadata.PackageKey(ref.Owner)]
	for _, f := range v.Files {
		o.usage -= f.Size
	}
	p.removeVersion(ref, mp)
	return v, nil
}

// CountPackageDownload implements metadata.Packages.
func (s *Store) CountPackageDownload(ctx context.Context, ref metadata.PackageRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	_, mv := p.find(ref)
	if mv == nil {
		return notFoundf("version %s of %s/%s", ref.Version, ref.Owner, ref.Name)
	}
	mv.v.Downloads++
	return nil
}

func newestFirst(a, b metadata.PackageVersion) int { return cmp.Compare(b.ID, a.ID) }

// PackageVersions implements metadata.Packages.
func (s *Store) PackageVersions(ctx context.Context, ref metadata.PackageRef, offset, limit int) ([]metadata.PackageVersion, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, _ := p.find(ref)
	if mp == nil {
		return nil, 0, notFoundf("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
	}
	var all []metadata.PackageVersion
	for _, mv := range mp.versions {
		all = append(all, mv.full(mp, false))
	}
	slices.SortFunc(all, newestFirst)
	return metadata.PageOf(all, offset, limit), len(all), nil
}

// ListPackageVersions implements metadata.Packages.
func (s *Store) ListPackageVersions(ctx context.Context, owner string, filter metadata.PackageFilter, offset, limit int) ([]metadata.PackageVersion, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	all := []metadata.PackageVersion{}
	if o := p.owners[metadata.PackageKey(owner)]; o != nil {
		for _, mp := range o.packages {
			if !filter.Match(mp.p.Type, mp.p.Name) {
				continue
			}
			for _, mv := range mp.versions {
				all = append(all, mv.full(mp, false))
			}
		}
	}
	slices.SortFunc(all, newestFirst)
	return metadata.PageOf(all, offset, limit), len(all), nil
}

// LinkPackage implements metadata.Packages.
func (s *Store) LinkPackage(ctx context.Context, ref metadata.PackageRef, repository string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, _ := p.find(ref)
	if mp == nil {
		return notFoundf("package %s/%s/%s", ref.Owner, ref.Type, ref.Name)
	}
	mp.p.Repository = repository
	return nil
}

// PackageBlobs implements metadata.Packages: one owner per page; the
// cursor is the index of the next owner.
func (s *Store) PackageBlobs(ctx context.Context, cursor string) ([]digest.Digest, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	i := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("memmeta: package blobs: bad cursor %q", cursor)
		}
		i = n
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.ownerSeq) {
		return []digest.Digest{}, "", nil
	}
	out := []digest.Digest{}
	for _, mp := range p.owners[p.ownerSeq[i]].packages {
		for _, mv := range mp.versions {
			for _, f := range mv.files {
				out = append(out, f.Digest())
			}
		}
	}
	next := ""
	if i+1 < len(p.ownerSeq) {
		next = strconv.Itoa(i + 1)
	}
	return out, next, nil
}

// CreatePackageUpload implements metadata.Packages.
func (s *Store) CreatePackageUpload(ctx context.Context, u metadata.PackageUpload) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.uploads[u.ID]; ok {
		return fmt.Errorf("memmeta: package upload %s: %w", u.ID, metadata.ErrExists)
	}
	if u.Started.IsZero() {
		u.Started = s.nowTime()
	}
	u.Started = normTime(u.Started)
	p.uploads[u.ID] = clonePackageUpload(u)
	return nil
}

func clonePackageUpload(u metadata.PackageUpload) metadata.PackageUpload {
	u.MD5, u.SHA1 = slices.Clone(u.MD5), slices.Clone(u.SHA1)
	return u
}

// GetPackageUpload implements metadata.Packages.
func (s *Store) GetPackageUpload(ctx context.Context, id string) (metadata.PackageUpload, error) {
	if err := ctx.Err(); err != nil {
		return metadata.PackageUpload{}, err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.uploads[id]
	if !ok {
		return metadata.PackageUpload{}, notFoundf("package upload %s", id)
	}
	return clonePackageUpload(u), nil
}

// UpdatePackageUpload implements metadata.Packages.
func (s *Store) UpdatePackageUpload(ctx context.Context, u metadata.PackageUpload, prevOffset int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, ok := p.uploads[u.ID]
	if !ok {
		return notFoundf("package upload %s", u.ID)
	}
	if cur.Offset != prevOffset {
		return fmt.Errorf("memmeta: package upload %s at offset %d, not %d: %w", u.ID, cur.Offset, prevOffset, metadata.ErrConflict)
	}
	cur.Offset, cur.MD5, cur.SHA1 = u.Offset, slices.Clone(u.MD5), slices.Clone(u.SHA1)
	p.uploads[u.ID] = cur
	return nil
}

// DeletePackageUpload implements metadata.Packages.
func (s *Store) DeletePackageUpload(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.pkgs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.uploads[id]; !ok {
		return notFoundf("package upload %s", id)
	}
	delete(p.uploads, id)
	return nil
}
