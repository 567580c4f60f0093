package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Sentinel errors. Implementations wrap them with %w; callers match them
// with errors.Is.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("metadata: not found")
	// ErrExists means a record that must be new already exists.
	ErrExists = errors.New("metadata: already exists")
	// ErrConflict means a conditional update lost: an upload's offset
	// differed from the expected one, or another writer holds its lease.
	ErrConflict = errors.New("metadata: conflict")
	// ErrUnavailable means the store could not be reached or cannot serve
	// requests right now (connection refused or lost, a timeout, a server
	// still loading its data or without a master). Nothing is known about
	// the record: the operation may be retried later. Servers answer it
	// with 503 and Retry-After.
	ErrUnavailable = errors.New("metadata: store unavailable")
)

// Blob is the record of committed, content-addressed bytes.
type Blob struct {
	// Digest identifies the content.
	Digest digest.Digest `json:"digest"`
	// Size is the content length in bytes.
	Size int64 `json:"size"`
	// Key is the object key in the bucket that holds the bytes. It is
	// normally blobs/<alg>/<2>/<2>/<hex> but may be any key (for example
	// the key of a completed multipart upload).
	Key string `json:"key"`
	// Created is when the record was first written.
	Created time.Time `json:"created"`
	// Used is when the blob was last put, linked or touched, by the
	// store's clock (see GC). Only GetBlob, TouchBlob and ListBlobs report
	// the current value; RepoBlob returns the record as it was linked.
	// Stores ignore the Used of records given to them.
	Used time.Time `json:"used,omitzero"`
	// Gen counts the uses of the global record: every ClaimBlob, PutBlob,
	// LinkBlob and TouchBlob adds one. Garbage collection deletes a
	// record only if its Gen is still the one it saw before marking, so
	// a use it did not see always wins (see GC). Reported like Used;
	// stores ignore the Gen of records given to them.
	Gen uint64 `json:"gen,omitempty"`
	// Inc identifies the incarnation of the global record: ClaimBlob
	// sets it when it creates the record, and it never changes after. A
	// record deleted by garbage collection and created again has another
	// Inc, so a writer can tell that the record it claimed is gone.
	Inc string `json:"inc,omitempty"`
}

// Blobs stores global blob records and their links into repositories.
// A blob is readable in a repository only while it is linked there.
//
// Writing bytes: a writer that is about to store the bytes of d under
// d's key first claims d (ClaimBlob), then writes the bytes, then commits
// the record with the claim's Inc (PutBlob). Garbage collection deletes
// bytes only of records it turned into tombstones, and a tombstone — or a
// record created again after one — makes the commit fail, so a writer
// never acknowledges bytes that a collector may have deleted under it.
type Blobs interface {
	// ClaimBlob announces that the caller is about to write the bytes of
	// b.Digest under b.Key. When d (b.Digest) has a live record it refreshes its use (Used, Gen) and
	// returns it with live true: the bytes are stored already. When d has
	// no record it creates a pending one (a new Inc, b's Key, Size unset)
	// and returns it with live false; a pending record, or one of an
	// earlier claim that was never committed, is refreshed and returned
	// with live false too. Pending records are invisible to GetBlob,
	// TouchBlob and LinkBlob (ErrNotFound) and listed by ListBlobs, so
	// garbage collection removes those of writers that died.
	// ErrConflict while d is being deleted by garbage collection.
	ClaimBlob(ctx context.Context, b Blob) (rec Blob, live bool, err error)
	// PutBlob commits the record of a claimed blob: b.Inc must be the Inc
	// that ClaimBlob returned. A pending record takes b's Size and Key (a
	// zero b.Created is set to the current time) and becomes live; a live
	// one is kept as it is (first writer wins). Either way its use is
	// refreshed and the stored record is returned. ErrConflict, changing
	// nothing, when the record is a tombstone, is gone, or has another
	// Inc: garbage collection deleted it since the claim, and the bytes
	// the caller wrote may be gone with it.
	//
	// With an empty b.Inc, PutBlob claims and commits in one step: it
	// stores b unless a live record exists (which it keeps and returns).
	// Only a caller that wrote no bytes since it last saw the record may
	// do that (tests, imports of existing buckets).
	PutBlob(ctx context.Context, b Blob) (Blob, error)
	// GetBlob returns the global record of d, or ErrNotFound (also for a
	// pending or deleted record).
	GetBlob(ctx context.Context, d digest.Digest) (Blob, error)
	// LinkBlob makes b readable in repo and adds b.Size to repo's usage
	// (once: linking twice is not an error). It refreshes the use of b's
	// global record and fails, linking nothing, with ErrConflict when that
	// record is being deleted by garbage collection and ErrNotFound when
	// there is no live record. It does not add repo to the catalog.
	LinkBlob(ctx context.Context, repo string, b Blob) error
	// RepoBlob returns the record of d if d is linked into repo, in one
	// round trip; ErrNotFound otherwise.
	RepoBlob(ctx context.Context, repo string, d digest.Digest) (Blob, error)
	// UnlinkBlob removes the link of d from repo and subtracts its size
	// from repo's usage; ErrNotFound when it was not linked. The global
	// record stays (garbage collection removes it).
	UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error
}

// Manifest is a stored manifest. Body is kept byte-exact.
type Manifest struct {
	// Digest of Body, with the algorithm the client chose.
	Digest digest.Digest `json:"digest"`
	// MediaType is the Content-Type the manifest was pushed with.
	MediaType string `json:"mediaType"`
	// Body is the manifest exactly as pushed.
	Body []byte `json:"body"`
	// Subject is the digest of the manifest's subject, if any.
	Subject digest.Digest `json:"subject,omitempty"`
	// ArtifactType is the manifest's artifactType or, failing that, its
	// config media type; it is what the referrers API reports.
	ArtifactType string `json:"artifactType,omitempty"`
	// Annotations are the manifest's annotations, reported by referrers.
	Annotations map[string]string `json:"annotations,omitempty"`
	// References lists the blobs (config, layers) and child manifests the
	// manifest refers to, for reference integrity and garbage collection.
	References []digest.Digest `json:"references,omitempty"`
	// Created is when the manifest was first stored in the repository.
	Created time.Time `json:"created"`
}

// Descriptor returns the referrers descriptor of m.
func (m Manifest) Descriptor() v1.Descriptor {
	return v1.Descriptor{
		MediaType:    m.MediaType,
		Digest:       m.Digest,
		Size:         int64(len(m.Body)),
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}
}

// Manifests stores manifests, tags, referrers and the catalog.
type Manifests interface {
	// PutManifest stores m in repo and points every tag in tags at it, in
	// one atomic update. Storing a digest that exists already replaces
	// nothing but still applies the tags (moving them from other
	// manifests). When m.Subject is set, m becomes a referrer of it. The
	// repository is created and added to the catalog; only PutManifest
	// creates repositories (LinkBlob does not), and a repository stays in
	// the catalog when its manifests are deleted. A zero m.Created is set
	// to the current time.
	PutManifest(ctx context.Context, repo string, m Manifest, tags ...string) error
	// GetManifest resolves ref, a tag or a digest string, in one round
	// trip. ErrNotFound when the tag or manifest does not exist. A ref
	// containing ":" is a digest, anything else a tag (the tag grammar
	// has no ":").
	GetManifest(ctx context.Context, repo, ref string) (Manifest, error)
	// GetManifestHead is GetManifest with only Digest, MediaType and Body
	// of the result set: what a manifest GET serves, without decoding the
	// rest of the record.
	GetManifestHead(ctx context.Context, repo, ref string) (Manifest, error)
	// DeleteManifest removes the manifest d, every tag pointing at it and
	// its referrer entry, atomically. ErrNotFound when absent.
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	// DeleteTag removes one tag; the manifest stays. ErrNotFound when the
	// tag does not exist.
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags lists the tags of repo in ascending byte order, strictly after
	// last (when non-empty), at most n of them (n < 0: no limit). more
	// reports whether tags remain after the returned ones. ErrNotFound
	// when the repository was never created; a repository whose tags were
	// all deleted returns an empty, non-nil slice. With n == 0 the slice
	// is empty and more reports whether any tag follows last.
	Tags(ctx context.Context, repo, last string, n int) (tags []string, more bool, err error)
	// Referrers returns the descriptors of the manifests in repo whose
	// subject is d, ordered by digest; an empty, non-nil slice when none.
	Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error)
	// Repositories lists repositories in ascending byte order, strictly
	// after last, at most n (n < 0: no limit), like Tags.
	Repositories(ctx context.Context, last string, n int) (repos []string, more bool, err error)
	// DeleteRepository removes repository repo entirely, atomically for the
	// repository: its manifests, tags, referrers and blob links (its usage
	// becomes 0) and its catalog entry. Afterwards Tags answers
	// ErrNotFound, Repositories does not list repo, and GetManifest and
	// RepoBlob find nothing in it; AllRepositories may still list it (as a
	// repository without manifests or links). Global blob records and
	// bytes stay: garbage collection removes what nothing references any
	// more. ErrNotFound when repo has no manifests, no links and no catalog
	// entry. A later PutManifest or LinkBlob starts a new, empty
	// repository.
	DeleteRepository(ctx context.Context, repo string) error
}

// Upload is an upload session. Its bytes live in the bucket; everything
// needed to continue it on any replica lives here.
type Upload struct {
	// ID is the session's opaque, unguessable identifier.
	ID string `json:"id"`
	// Repo is the repository the session belongs to.
	Repo string `json:"repo"`
	// Offset is the number of bytes received so far.
	Offset int64 `json:"offset"`
	// State is opaque to the metadata store: the storage layer keeps its
	// saved hash states and backend parts here.
	State []byte `json:"state,omitempty"`
	// Started is when the session was created.
	Started time.Time `json:"started"`
	// Updated is when the session last changed; expiry is based on it.
	Updated time.Time `json:"updated"`
	// Epoch counts takeovers: AcquireUpload adds one when it grants the
	// lease while another token still holds it (that holder's lease
	// expired without a release: it crashed, stalled or was cut off).
	// Writers that share staging bytes use it to fence such stale
	// holders out (see package storage). Stores ignore the Epoch of
	// sessions given to them.
	Epoch uint64 `json:"epoch,omitempty"`
}

// Uploads stores upload sessions. Writes to a session go through a lease:
// AcquireUpload, then ReleaseUpload with the same token, so that two
// writers racing on one session cannot both succeed.
type Uploads interface {
	// CreateUpload stores a new session; ErrExists when the ID is taken.
	// A zero Started is set to the current time, a zero Updated to
	// Started.
	CreateUpload(ctx context.Context, u Upload) error
	// GetUpload returns a session, or ErrNotFound.
	GetUpload(ctx context.Context, id string) (Upload, error)
	// AcquireUpload takes the write lease of session id for token, for at
	// most ttl, and returns the session. It fails with ErrConflict when
	// another token holds an unexpired lease, or when offset >= 0 and the
	// session's offset differs from it; the current session is returned
	// with ErrConflict so the caller can report its offset. ErrNotFound
	// when the session does not exist. A failed acquire takes no lease.
	// The holder may acquire again (the lease is renewed for ttl). A
	// token that takes the lease while another still holds it (expired,
	// never released) increments the session's Epoch; the session
	// returned carries the new Epoch. token must not be empty. Lease expiry is measured by the store's clock
	// (for Redis, the server's TIME), not the caller's.
	AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (Upload, error)
	// ReleaseUpload stores u (Offset, State, Updated; ID and Repo never
	// change) and releases the lease, provided token still holds it;
	// ErrConflict otherwise (the lease expired and was taken by another
	// writer), ErrNotFound when the session is gone. A token whose lease
	// expired still holds it until another token acquires the session.
	// A zero u.Updated is set to the current time.
	ReleaseUpload(ctx context.Context, u Upload, token string) error
	// DeleteUpload removes a session; ErrNotFound when absent.
	DeleteUpload(ctx context.Context, id string) error
	// ExpiredUploads returns at most n sessions last updated before
	// before (exclusive), least recently updated first, ties by ID
	// (n < 0: no limit). The slice is empty, not an error, when none.
	ExpiredUploads(ctx context.Context, before time.Time, n int) ([]Upload, error)
}

// Store is a complete metadata store.
type Store interface {
	Blobs
	Manifests
	Uploads
	GC
	Leases
	Usage
	Reservations
	// Close releases the store's resources.
	Close() error
}
