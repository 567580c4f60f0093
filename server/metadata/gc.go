package metadata

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// BlobInfo is a global blob record as garbage collection sees it.
type BlobInfo struct {
	// Blob is the record. Its Used is the last time the blob was claimed,
	// put, linked or touched (the zero time for records written before
	// Used existed: treat Created as Used then), Gen its use count.
	Blob
	// Deleting reports that the record is a tombstone: DeleteBlobIfUnused
	// took it but PurgeBlob has not removed it yet (the collector crashed
	// or is still deleting the bytes).
	Deleting bool
	// Pending reports a record that ClaimBlob created and PutBlob has not
	// committed yet: its bytes are being written at its Key, or their
	// writer died.
	Pending bool
}

// LastUsed returns b.Used, or b.Created when Used is zero.
func (b Blob) LastUsed() time.Time {
	if b.Used.IsZero() {
		return b.Created
	}
	return b.Used
}

// GC holds what online garbage collection needs from the metadata store.
//
// # Protocol
//
// A global blob record is pending, live, a tombstone (being deleted), or
// absent; every use of it (ClaimBlob, PutBlob, LinkBlob, TouchBlob) adds
// one to its Gen, atomically. The collector
//
//  1. lists the records and notes each one's Gen (ListBlobs),
//  2. then marks every digest referenced by committed data (manifests,
//     package files),
//  3. then, for a listed record that nothing marked, calls
//     DeleteBlobIfUnused with the Gen it noted: the record becomes a
//     tombstone only if its Gen is unchanged — nothing used it since
//     step 1 — and its links are removed;
//  4. deletes the bytes, then purges the tombstone.
//
// A writer that commits a reference to a blob (a manifest PUT, a package
// file) touches the blob after the commit, and undoes the commit when
// the touch fails. Either the touch came before the tombstone — then the
// Gen changed after the collector noted it (the touch follows the
// commit, which, if the mark missed it, followed step 1), and the
// conditional delete refuses — or after it, and the touch fails. Either
// the mark saw the reference, or the collector refused, or the writer
// undid its commit: no acknowledged reference ever points at deleted
// bytes, whatever the grace period (which only spares recently used
// blobs, to save work).
//
// A writer of bytes claims the record first (ClaimBlob) and commits it
// after writing (PutBlob with the claim's Inc), which fails after a
// tombstone; so bytes that a collector deletes are never acknowledged.
//
// Times (Used, lease expiry, Now) come from the store's clock — for
// Redis the server's TIME — so replicas with skewed clocks agree; no
// safety argument depends on them.
type GC interface {
	// Now returns the store's current time, the clock that Used and lease
	// expiry are measured by. Collectors compute their cutoff from it.
	Now(ctx context.Context) (time.Time, error)
	// TouchBlob refreshes the use (Used, Gen) of d's live global record
	// and returns the record. ErrNotFound when there is no live record
	// (also a pending one); ErrConflict when the record is a tombstone
	// (being deleted: the caller must treat the blob as absent).
	TouchBlob(ctx context.Context, d digest.Digest) (Blob, error)
	// ListBlobs lists the global blob records, pending and live ones and
	// tombstones, in ascending digest order, strictly after after (when
	// non-empty), at most n (n < 0: no limit). more reports whether
	// records may follow. The listing is not a snapshot: records put or
	// deleted while it pages may or may not appear.
	ListBlobs(ctx context.Context, after digest.Digest, n int) (blobs []BlobInfo, more bool, err error)
	// DeleteBlobIfUnused starts deleting blob d: provided d's record is
	// live or pending, its Gen is gen and its last use (Used, else
	// Created) is before usedBefore, it atomically turns the record into
	// a tombstone, then removes d's link from every repository (updating
	// their usage), and returns the record. The caller then deletes the
	// bytes at the record's Key and calls PurgeBlob. ErrConflict (with
	// the current record) when d was used since (another Gen, or Used at
	// or after usedBefore); ErrNotFound when there is no record. On a
	// tombstone left by an earlier, interrupted call it removes the links
	// again and returns the record (gen and usedBefore are not checked),
	// so that a collector can finish the job.
	DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time, gen uint64) (Blob, error)
	// PurgeBlob removes the tombstone of d after its bytes are gone.
	// ErrNotFound when d has no tombstone (a live record is left alone).
	PurgeBlob(ctx context.Context, d digest.Digest) error
	// ManifestReferences lists, for garbage collection, the digests
	// referenced by the manifests of repo: each manifest's References and
	// its Subject. It pages with an opaque cursor: pass "" first, then the
	// returned next until it is "". A page holds about n manifests
	// (n <= 0: the store's default). A digest may be reported more than
	// once. A repository without manifests yields nothing, not an error.
	ManifestReferences(ctx context.Context, repo, cursor string, n int) (refs []digest.Digest, next string, err error)
	// AllRepositories lists every repository that holds blob links or
	// manifests — a superset of Repositories, which lists only those that
	// PutManifest created — in ascending byte order, strictly after last,
	// at most n (n < 0: no limit), like Repositories.
	AllRepositories(ctx context.Context, last string, n int) (repos []string, more bool, err error)
}

// Leases are named, expiring locks in the metadata store, for work that
// one replica at a time should do (garbage collection).
type Leases interface {
	// AcquireLease takes lease name for token, for ttl, and reports
	// whether token holds it now. It returns false (and no error) when
	// another token holds an unexpired lease. The holder may acquire
	// again to extend the lease by ttl from now. token must not be empty;
	// expiry is measured by the store's clock.
	AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up lease name if token holds it. Releasing a
	// lease that token does not hold (it expired and was taken, or was
	// never taken) changes nothing and is not an error.
	ReleaseLease(ctx context.Context, name, token string) error
}

// Usage reports storage usage for quotas. A repository's usage is the sum
// of the sizes of the blobs linked into it plus the lengths of its
// manifests' bodies. It is updated atomically with LinkBlob, UnlinkBlob,
// PutManifest, DeleteManifest and DeleteBlobIfUnused. A blob linked into
// two repositories counts in both.
//
// The generic packages of an owner count in the namespace of the same
// name (see Packages): an owner's package usage is the sum of the sizes
// of its package files, each file counted once however many files share
// its content (as Gitea counts), updated atomically with PutPackageFile,
// DeletePackageFile and DeletePackageVersion.
type Usage interface {
	// RepoUsage returns the usage of repo in bytes; 0 for an unknown
	// repository. Package files never count here.
	RepoUsage(ctx context.Context, repo string) (int64, error)
	// NamespaceUsage returns the sum of the usage of the repositories in
	// namespace ns (the repository named ns and those whose names start
	// with ns + "/", see Namespace) plus the package usage of the owner
	// whose PackageKey is PackageKey(ns).
	NamespaceUsage(ctx context.Context, ns string) (int64, error)
}

// Namespace returns the namespace of a repository: the first component of
// its name ("team" for "team/app/web", "nginx" for "nginx").
func Namespace(repo string) string {
	ns, _, _ := strings.Cut(repo, "/")
	return ns
}

// NewInc returns a new incarnation identifier for a blob record (see
// Blob.Inc): 64 random bits in hexadecimal.
func NewInc() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// BatchGC is implemented by stores that read the manifest references of
// many repositories at once (package gc uses it when present).
type BatchGC interface {
	// ManifestReferencesMany calls keep with the References and Subject
	// of every manifest of each repository of repos.
	ManifestReferencesMany(ctx context.Context, repos []string, keep func(digest.Digest)) error
}
