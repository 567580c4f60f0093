package metadata

import (
	"context"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Package is a package of an owner: the generic registry's packages (the
// OCI registry's repositories are not stored here; the management API
// lists them from Manifests).
type Package struct {
	// ID is assigned when the package is created; unique among packages.
	ID int64 `json:"id"`
	// Owner is the owner's name as given when the package was created.
	Owner string `json:"owner"`
	// Type is the package type ("generic").
	Type string `json:"type"`
	// Name is the package name as first uploaded (names are unique per
	// owner and type case-insensitively, see PackageKey).
	Name string `json:"name"`
	// SemVer marks a package whose first version was SemVer: every later
	// version must be SemVer too (PutPackageFile enforces it).
	SemVer bool `json:"semver,omitempty"`
	// Repository is the linked repository of the same owner, "" when none.
	Repository string `json:"repository,omitempty"`
	// Creator is the name of the account that created the package ("" when
	// anonymous).
	Creator string `json:"creator,omitempty"`
	// Created is when the package was created.
	Created time.Time `json:"created"`
}

// PackageVersion is one version of a package.
type PackageVersion struct {
	// ID is assigned when the version is created; unique among versions
	// and increasing with creation, so that ordering by ID is "newest
	// first" (descending).
	ID int64 `json:"id"`
	// Package is the version's package, as currently stored.
	Package Package `json:"-"`
	// Version is the version string as first uploaded.
	Version string `json:"version"`
	// Creator is who uploaded the version's first file ("" anonymous).
	Creator string `json:"creator,omitempty"`
	// Created is when the version was created.
	Created time.Time `json:"created"`
	// Downloads counts GETs of the version's files.
	Downloads int64 `json:"-"`
	// Files are the version's files ordered by ID (only GetPackageVersion,
	// DeletePackageVersion and PutPackageFile fill them in).
	Files []PackageFile `json:"-"`
}

// PackageFile is one file of a package version. Its bytes are the blob
// sha256:SHA256 in the content-addressed store.
type PackageFile struct {
	// ID is assigned when the file is stored; unique among files.
	ID int64 `json:"id"`
	// Name is the filename as uploaded (unique per version
	// case-insensitively).
	Name string `json:"name"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// ContentType is the Content-Type given at upload ("" when none).
	ContentType string `json:"content_type,omitempty"`
	// MD5, SHA1, SHA256 and SHA512 are lowercase hexadecimal digests of
	// the bytes.
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
	// Creator is who uploaded the file ("" anonymous).
	Creator string `json:"creator,omitempty"`
	// Created is the upload time.
	Created time.Time `json:"created"`
}

// Digest returns the content address of f's bytes (sha256).
func (f PackageFile) Digest() digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, f.SHA256)
}

// PackageRef names a package version: owner, type, name and version,
// matched case-insensitively (see PackageKey).
type PackageRef struct {
	Owner   string
	Type    string
	Name    string
	Version string
}

// PackageKey is the case-insensitive key of an owner, type, name, version
// or filename: stores look them up by it.
func PackageKey(s string) string { return strings.ToLower(s) }

// PutFileOptions are the per-call settings of PutPackageFile.
type PutFileOptions struct {
	// SemVer reports whether the version string is SemVer. A new package
	// takes it as its SemVer flag; a new version of a SemVer package
	// without it is refused with ErrConflict.
	SemVer bool
	// Creator is the uploader's account name ("" anonymous).
	Creator string
}

// PackageFilter selects versions in ListPackageVersions.
type PackageFilter struct {
	// Type keeps only packages of this type ("" any).
	Type string
	// Query keeps only packages whose name contains it, case-insensitively
	// ("" any).
	Query string
}

// Match reports whether a package of type typ named name passes f.
func (f PackageFilter) Match(typ, name string) bool {
	return (f.Type == "" || PackageKey(f.Type) == PackageKey(typ)) &&
		strings.Contains(PackageKey(name), PackageKey(f.Query))
}

// PackageUpload is the package side of a resumable generic upload: where
// the file goes and the md5 and sha1 states after Offset bytes (the
// storage session hashes sha256 and sha512 itself).
type PackageUpload struct {
	// ID is the storage upload session's ID.
	ID string `json:"id"`
	// Ref is the version the file goes into.
	Ref PackageRef `json:"ref"`
	// Filename is the file's name.
	Filename string `json:"filename"`
	// ContentType is the Content-Type given when the upload started.
	ContentType string `json:"content_type,omitempty"`
	// Creator is who started the upload.
	Creator string `json:"creator,omitempty"`
	// Offset is how many bytes the hash states cover.
	Offset int64 `json:"offset"`
	// MD5 and SHA1 are the hashes' MarshalBinary states after Offset
	// bytes.
	MD5  []byte `json:"md5,omitempty"`
	SHA1 []byte `json:"sha1,omitempty"`
	// Started is when the upload started.
	Started time.Time `json:"started"`
}

// Packages stores the generic registry's packages, versions and files, and
// the package side of resumable uploads. It is separate from Store: the
// three metadata stores implement it on the same concrete type, and the
// server gets it with a type assertion (or server.WithPackages).
//
// Owners, types, names, versions and filenames are matched
// case-insensitively (PackageKey) and returned as first stored. Every
// method is atomic: all keys of one owner live together (one bbolt
// transaction; one Redis hash tag per owner, so each update is one Lua
// script even on a cluster). Errors wrap ErrNotFound, ErrExists and
// ErrConflict.
//
// Quotas: the files of an owner's packages count in the usage of the
// namespace named like the owner (Usage.NamespaceUsage): every file adds
// its Size when PutPackageFile stores it and subtracts it when
// DeletePackageFile or DeletePackageVersion removes it, in the same atomic
// update. Two files with the same content count twice, although their
// bytes are stored once.
//
// Upload records live and die with the storage session of the same ID:
// the store's Uploads.DeleteUpload removes the PackageUpload record of
// that ID too, atomically, so a session that is finished, cancelled or
// swept when it expires (storage.SweepUploads, garbage collection) leaves
// no record behind.
type Packages interface {
	// PutPackageFile stores file f (ID and a zero Created filled in) in
	// version ref, creating the package and the version as needed, and
	// returns the version (with its package and all its files, f included).
	// ErrExists when the version has a file of that name already (nothing
	// changes); ErrConflict when ref's package is SemVer, ref's version is
	// new and opts.SemVer is false.
	PutPackageFile(ctx context.Context, ref PackageRef, f PackageFile, opts PutFileOptions) (PackageVersion, error)
	// GetPackage returns the package of ref (Version ignored), or
	// ErrNotFound.
	GetPackage(ctx context.Context, ref PackageRef) (Package, error)
	// GetPackageVersion returns the version with its package, files and
	// download count, or ErrNotFound.
	GetPackageVersion(ctx context.Context, ref PackageRef) (PackageVersion, error)
	// GetPackageFile returns one file of a version in one round trip, or
	// ErrNotFound.
	GetPackageFile(ctx context.Context, ref PackageRef, filename string) (PackageFile, error)
	// DeletePackageFile removes a file. When it was the version's last
	// file the version goes too (versionDeleted), and when that was the
	// package's last version the package goes too. ErrNotFound when the
	// file does not exist.
	DeletePackageFile(ctx context.Context, ref PackageRef, filename string) (f PackageFile, versionDeleted bool, err error)
	// DeletePackageVersion removes a version and its files (returned, with
	// the version), and the package when it was its last version.
	// ErrNotFound when absent.
	DeletePackageVersion(ctx context.Context, ref PackageRef) (PackageVersion, error)
	// CountPackageDownload adds one to the download count of a version.
	// ErrNotFound when it does not exist.
	CountPackageDownload(ctx context.Context, ref PackageRef) error
	// PackageVersions lists the versions of the package of ref (Version
	// ignored), newest first (descending ID), skipping offset and
	// returning at most limit (limit < 0: all), each with its package and
	// download count but without files; total counts all versions.
	// ErrNotFound when the package does not exist.
	PackageVersions(ctx context.Context, ref PackageRef, offset, limit int) (versions []PackageVersion, total int, err error)
	// ListPackageVersions lists the versions of every package of owner
	// that passes filter, newest first, paged like PackageVersions; an
	// empty, non-nil slice when none (also for an unknown owner).
	ListPackageVersions(ctx context.Context, owner string, filter PackageFilter, offset, limit int) (versions []PackageVersion, total int, err error)
	// LatestPackageVersion returns the latest version of the package of
	// ref (Version ignored), with its files: when every version is SemVer
	// the highest by the SemVer rule (semver true, see pkgversion), else
	// the newest. ErrNotFound when the package does not exist.
	LatestPackageVersion(ctx context.Context, ref PackageRef) (v PackageVersion, semver bool, err error)
	// LinkPackage sets the Repository of the package of ref ("" unlinks).
	// ErrNotFound when the package does not exist.
	LinkPackage(ctx context.Context, ref PackageRef, repository string) error
	// PackageBlobs lists, for garbage collection, the digests of the
	// files of every package. It pages with an opaque cursor: pass ""
	// first, then the returned next until it is "". A digest may be
	// reported more than once.
	PackageBlobs(ctx context.Context, cursor string) (digests []digest.Digest, next string, err error)

	// CreatePackageUpload stores the record of a resumable upload;
	// ErrExists when the ID is taken.
	CreatePackageUpload(ctx context.Context, u PackageUpload) error
	// GetPackageUpload returns an upload record, or ErrNotFound.
	GetPackageUpload(ctx context.Context, id string) (PackageUpload, error)
	// UpdatePackageUpload replaces the Offset, MD5 and SHA1 of record u.ID
	// provided its stored Offset is prevOffset; ErrConflict (changing
	// nothing) otherwise, ErrNotFound when absent.
	UpdatePackageUpload(ctx context.Context, u PackageUpload, prevOffset int64) error
	// DeletePackageUpload removes an upload record; ErrNotFound when
	// absent.
	DeletePackageUpload(ctx context.Context, id string) error
}

// PackageReferencer returns the garbage collector's Referencer (see
// package gc) of package files: it keeps the blob of every file of p.
// Pass it to gc.New with gc.WithReferencers.
func PackageReferencer(p Packages) interface {
	References(ctx context.Context, keep func(digest.Digest)) error
} {
	return packageReferencer{p}
}

type packageReferencer struct{ p Packages }

// References implements gc.Referencer.
func (r packageReferencer) References(ctx context.Context, keep func(digest.Digest)) error {
	cursor := ""
	for {
		ds, next, err := r.p.PackageBlobs(ctx, cursor)
		if err != nil {
			return err
		}
		for _, d := range ds {
			keep(d)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// PageOf returns the slice of items for offset and limit (limit < 0: all
// from offset), for stores that page in memory.
func PageOf[T any](items []T, offset, limit int) []T {
	if offset < 0 {
		offset = 0
	}
	if offset >= len(items) {
		return []T{}
	}
	items = items[offset:]
	if limit >= 0 && limit < len(items) {
		items = items[:limit]
	}
	out := make([]T, len(items))
	copy(out, items)
	return out
}

// DownloadCounter is implemented by package stores that add many
// download counts at once (package downloads batches counts with it).
type DownloadCounter interface {
	// AddPackageDownloads adds n to the download count of each version
	// ref of counts; all refs have the same owner. Versions that are gone
	// are skipped.
	AddPackageDownloads(ctx context.Context, counts map[PackageRef]int64) error
}
