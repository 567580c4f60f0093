package metadata

import (
	"context"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// BlobInfo is a global blob record as garbage collection sees it.
type BlobInfo struct {
	// Blob is the record. Its Used is the last time the blob was put,
	// linked or touched (the zero time for records written before Used
	// existed: treat Created as Used then).
	Blob
	// Deleting reports that the record is a tombstone: DeleteBlobIfUnused
	// took it but PurgeBlob has not removed it yet (the collector crashed
	// or is still deleting the bytes).
	Deleting bool
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
// A blob record is live, a tombstone (being deleted), or absent. Every
// operation that is about to make a blob reachable — finishing an upload
// whose bytes exist already, a cross-repository mount, a manifest PUT that
// references the blob — first refreshes its Used time with TouchBlob (or
// PutBlob, or LinkBlob) and must finish within the collector's grace
// period. The collector deletes a blob only through DeleteBlobIfUnused,
// which atomically checks Used against a cutoff no later than
// now−grace and turns the record into a tombstone; a tombstone makes
// TouchBlob, PutBlob and LinkBlob fail with ErrConflict, so nothing can
// start using the blob while its bytes go. Either the refresh comes
// first (the conditional delete then fails) or the tombstone does (the
// refresh then fails): the two can never both succeed.
//
// Times (Used, lease expiry, Now) come from the store's clock — for
// Redis the server's TIME — so replicas with skewed clocks agree.
type GC interface {
	// Now returns the store's current time, the clock that Used and lease
	// expiry are measured by. Collectors compute their cutoff from it.
	Now(ctx context.Context) (time.Time, error)
	// TouchBlob sets the Used time of d's global record to now and returns
	// the record. ErrNotFound when there is no record; ErrConflict when
	// the record is a tombstone (being deleted: the caller must treat the
	// blob as absent, or retry after a moment).
	TouchBlob(ctx context.Context, d digest.Digest) (Blob, error)
	// ListBlobs lists the global blob records, live ones and tombstones,
	// in ascending digest order, strictly after after (when non-empty),
	// at most n (n < 0: no limit). more reports whether records may
	// follow. The listing is not a snapshot: records put or deleted while
	// it pages may or may not appear.
	ListBlobs(ctx context.Context, after digest.Digest, n int) (blobs []BlobInfo, more bool, err error)
	// DeleteBlobIfUnused starts deleting blob d: provided d's record is
	// live and its last use (Used, else Created) is before usedBefore, it
	// atomically turns the record into a tombstone, then removes d's link
	// from every repository (updating their usage), and returns the
	// record. The caller then deletes the bytes at the record's Key and
	// calls PurgeBlob. ErrConflict (with the current record) when d was
	// used at or after usedBefore; ErrNotFound when there is no record.
	// On a tombstone left by an earlier, interrupted call it removes the
	// links again and returns the record, so that a collector can finish
	// the job.
	DeleteBlobIfUnused(ctx context.Context, d digest.Digest, usedBefore time.Time) (Blob, error)
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
