// Package metadata holds regkit's metadata rules, written once: the
// interfaces the server uses (Store, Identity, Packages, Counter,
// Reservations) and DB, their one implementation over a small
// driver.Driver (records in shards, single-shard transactions, ordered
// ranges). The drivers (memdriver, and the bbolt and Redis drivers) hold
// no rule; every driver passes metadatatest through metadatatest.RunDriver.
//
// # Shards
//
// A driver transaction is atomic within one shard (on Redis a shard is
// one hash tag). DB uses these shards:
//
//   - repo:<name> — one repository: its meta record (usage, catalog
//     token, "listed in all"), tags, manifests, referrers index
//     (subject NUL digest → descriptor), blob links and link intents.
//     Every rule of one repository (manifest PUT with its tags and
//     referrer entry, tag moves, DeleteManifest, usage) is one
//     transaction here, and a tag resolves to its manifest with one
//     driver Follow (tag → digest → manifest).
//   - blob:<digest> — the global record of a blob (pending, live or a
//     tombstone; Gen, Inc, Used) and its linkers: every repository that
//     linked it since the record was created.
//   - catalog — the created repositories (Repositories), each with a
//     token, and every repository that ever held data (AllRepositories,
//     which garbage collection marks from).
//   - blobindex — every blob digest with a record (ListBlobs), with the
//     Inc of the record it was entered for.
//   - upload:<id> — an upload session with its lease and epoch, and the
//     package upload record of the same ID (so DeleteUpload removes both
//     atomically). uploadidx lists the session IDs (ExpiredUploads).
//   - owner:<owner key> — an owner's packages, versions, files and package
//     usage, and the list indexes of its versions (below). pkgindex lists
//     the owners (PackageBlobs) and draws IDs.
//   - identity — accounts, memberships and tokens (uniqueness of names and
//     token hashes spans them; identity writes are rare), and the
//     repository prefixes of the public and limited accounts (tVisible,
//     db_catalog.go) for the catalog of the owners a caller may see.
//   - lease:<name>, ns:<namespace> (reservations), counter:<key>.
//
// # List indexes
//
// Listings that page by offset (the management API's package listing,
// versions of a package, the container view of a repository) and latest
// read sorted indexes (index.go) kept in the shard of what they list and
// changed in the same transactions: per owner, per owner and type and per
// package (versions newest first; SemVer versions latest first), and per
// repository (tags by newest manifest; SemVer tags latest first). An
// index counts its entries in chunks, so a page at any offset is two
// Ranges and the records one GetMany; latest is one Get and one Range.
// Shards written before the indexes existed carry no index marker in
// their meta record: the first write, or the first read that finds an
// empty index, builds the shard's indexes in one transaction.
//
// The owner listing that mixes package versions with the tags of the
// owner's repositories (ListOwner) reads two more indexes of the owner
// shard (db_ownertags.go): every tag of every repository <owner>/..., and
// those tags with every version, newest first. They index records of
// other shards, so they are kept across shards (below) and checked by
// every read; a page is still two Ranges and one GetMany (which reads the
// versions and, for the tags, the tag and its manifest to check the
// entry), plus the owner meta record and the indexes' counts. Filtered
// listings (a query, a bearer token naming single repositories, one type
// among others; also ListPackageVersions with a query) read the
// selection indexes of the names that match (selection.go: per
// repository, package and type, in the same order) and merge them by
// sort key: the chunk records of each bound the page to a window, whose
// entries are read in one RangeMany, so these too cost the same at any
// offset.
//
// Records are CBOR of whole Go structs (keys from their json tags): bytes
// stay bytes, unknown keys are skipped, and fields added to the structs
// later persist without a codec change.
//
// # Cross-shard operations
//
// Work spanning shards is a sequence of single-shard transactions. Each
// sequence is ordered so that a process dying between any two steps
// leaves every invariant true; what it may leave behind is listed. No
// argument rests on timing.
//
// Indexes before data. ClaimBlob and PutBlob of a new digest enter it in
// blobindex (with the Inc the record will get) before creating the
// record, so ListBlobs — and so garbage collection — sees every record.
// PurgeBlob deletes the record first, then the index entry only if it
// still carries the purged Inc (a claim racing the purge writes its own).
// Left behind by a crash: index entries without a record, which
// ListBlobs skips. PutManifest of a repository the catalog may not list
// enters it in the catalog (both lists) first; PutPackageFile enters the
// owner in pkgindex first; CreateUpload enters the ID in uploadidx first.
// So AllRepositories and PackageBlobs list a superset of what holds
// references, which is what marking needs.
//
// The catalog token. The repository's meta record carries the token of
// its catalog entry. PutManifest takes one transaction while the meta
// record has a token; otherwise it writes a fresh token into the catalog,
// then stores the manifest with that token in the meta record.
// DeleteRepository empties the repository's shard (one transaction, so a
// racing PutManifest lands wholly before or after it), then deletes the
// catalog entry only if it still has the token it read: a PutManifest
// that raced the delete wrote a fresh one, and its repository stays
// listed. Left behind: a catalog entry for an empty repository (after a
// crash between the steps), which a later DeleteRepository cannot tell
// from a created one; the list of all repositories is never shrunk.
//
// Tombstone before links, links before bytes. DeleteBlobIfUnused turns
// the record into a tombstone in the blob's shard, atomically with the
// Gen and Used check, and reads its linkers there; then it removes the
// link (of that incarnation) and the link intent of the digest from each
// linker repository. The caller deletes the bytes only after that, then
// calls PurgeBlob. A crash leaves a tombstone, which ListBlobs reports as
// Deleting so the next collection finishes the job (DeleteBlobIfUnused on
// a tombstone removes the links again).
//
// LinkBlob: intent, use, link. It writes its own link intent (the digest
// and a fresh nonce) in the repository, then refreshes the use of the
// live record and enters the repository among its linkers (in the blob's
// shard), then (first link only) adds the repository to the catalog's
// list of all repositories, then writes the link — only if its intent is
// still there. A collector that tombstones the record after the second
// step finds the repository among the linkers and deletes the digest's
// intents, so the late link is refused (ErrConflict); one that tombstones
// it before the second step makes that step fail. So no link is ever
// written for a record that is being deleted, however slow the linker.
// Concurrent linkers of one digest have their own intents and never
// refuse each other. Left behind by a crash: an intent record (a few
// bytes, removed when the digest is collected or with the repository).
// Linker entries stay until PurgeBlob: removing one in UnlinkBlob could
// race a LinkBlob of the same digest.
//
// Owner entries before tags, refusal before removal. A tag write of a
// repository <owner>/... enters the tags' owner entries, with a fresh
// nonce, before it commits the tags in the repository shard (which also
// records each tag's nonce), then removes the entries of the tags'
// previous manifests that carry their recorded nonce; deletes commit
// first and remove after. A reader that finds an entry that does not
// match its tag (a write in flight, a crash between the steps) refuses
// the entry's nonce in the repository shard, atomically with checking the
// tag again, so the write that made the entry can never commit; then it
// removes the entry if it still has that nonce. A refused write starts
// again. Left behind by a crash: owner entries that do not match (removed
// by the first reader that meets them) and refusal records of a few bytes
// in the repository shard; never a tag without its entry. Owners written
// before these indexes get them on their first listing, from the tags of
// all their repositories (db_ownertags.go).
//
// Uploads: a session's lease, offset, state and epoch live in one record,
// so AcquireUpload and ReleaseUpload are one transaction each. On a local
// store (driver.Local: bbolt, memory), which one process holds, the lease
// lives in the driver's in-memory table instead: AcquireUpload is one read
// (and a write only for a takeover, to store the new epoch) and
// ReleaseUpload the one transaction that stores the session, so a PATCH
// costs one fsync'd commit on bbolt, not two (db_uploadlease.go).
// DeleteUpload deletes the session (and its package record), then its
// index entry.
//
// # Round trips
//
// Manifest GET by tag is one driver Follow, by digest one Get; GetBlob
// and RepoBlob one Get; a tags or catalog page one Range (an empty tags
// page reads the meta record too, to tell an unknown repository);
// AcquireUpload and ReleaseUpload one Update (on a local store one Get
// and one Update in all); PutManifest one Update on a
// listed repository without owner or without tags, and with tags of a
// repository <owner>/... one GetMany and two Updates (three when a tag
// moved; a push of tags that already name the manifest two GetManys and
// no Update, db_repush.go); LinkBlob three (four on a repository's first link); a page of
// versions or of the container view two Ranges and one or two GetMany,
// whatever the offset; a page of an owner's versions and tags
// (ListOwner) one Get, up to three counts (one Range each), two Ranges
// and one GetMany; a catalog page of the owners a caller may see
// (RepositoriesOf) one Get, one Range of tVisible per visibility and 64
// owners passed, and one GetMany and one RangeMany per batch of owners
// passed, never a read for an owner outside the set.
//
// Driver errors wrapping driver.ErrUnavailable, and transactions that
// keep conflicting (driver.ErrConflict after the retries), are returned
// wrapping ErrUnavailable: retryable, answered with 503.
package metadata
