package redismeta

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

// notFound turns redis.Nil into metadata.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return metadata.ErrNotFound
	}
	return err
}

func nowUTC() time.Time { return time.Unix(0, time.Now().UnixNano()).UTC() }

func (s *Store) blobPendKey(d string) string { return s.prefix + "blobpend:{" + d + "}" }

// blobKeys are the keys of digest d's slot that the blob scripts take:
// record, use, tombstone, pending record.
func (s *Store) blobKeys(d string) []string {
	return []string{s.blobKey(d), s.blobUsedKey(d), s.blobDelKey(d), s.blobPendKey(d)}
}

// ClaimBlob implements metadata.Blobs: one script in the digest's slot,
// then (for a new pending record) the digest joins the ListBlobs index.
func (s *Store) ClaimBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, bool, error) {
	d := string(b.Digest)
	pend := record.EncodeBlob(metadata.Blob{Digest: b.Digest, Key: b.Key, Created: nowUTC()})
	vals, err := claimBlobScript.Run(ctx, s.c, s.blobKeys(d), pend, metadata.NewInc()).Slice()
	live := false
	if err == nil {
		live = len(vals) > 0 && vals[0] == "live"
		if len(vals) > 0 && (live || vals[0] == "pending") {
			vals[0] = "ok"
		}
		b, err = scriptBlob(vals)
	}
	if err == nil && !live {
		err = s.c.ZAdd(ctx, s.blobIndexKey(), redisZ(d)).Err()
	}
	if err != nil {
		return metadata.Blob{}, false, fmt.Errorf("redismeta: claim blob %s: %w", d, err)
	}
	return b, live, nil
}

// PutBlob implements metadata.Blobs: one script commits or keeps the
// record and refreshes its use, then the digest is added to the index of
// ListBlobs (after the record, so that PurgeBlob cannot drop the index
// entry of a new record; see PurgeBlob).
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if b.Created.IsZero() {
		b.Created = nowUTC()
	}
	inc := b.Inc
	b.Used, b.Gen, b.Inc = time.Time{}, 0, ""
	d := string(b.Digest)
	vals, err := putBlobScript.Run(ctx, s.c, s.blobKeys(d), record.EncodeBlob(b), inc, metadata.NewInc()).Slice()
	if err == nil {
		b, err = scriptBlob(vals)
	}
	if err == nil {
		err = s.c.ZAdd(ctx, s.blobIndexKey(), redisZ(d)).Err()
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: put blob %s: %w", d, err)
	}
	return b, nil
}

// errClaimLost is PutBlob's error when the claimed record is gone.
var errClaimLost = fmt.Errorf("claim lost: %w", metadata.ErrConflict)

// scriptBlob parses the {"ok", record, use} reply of the blob scripts;
// "deleting" and "lost" are ErrConflict and "absent" ErrNotFound.
func scriptBlob(vals []any) (metadata.Blob, error) {
	status, _ := vals[0].(string)
	switch {
	case status == "deleting":
		return metadata.Blob{}, errDeleting
	case status == "lost":
		return metadata.Blob{}, errClaimLost
	case status == "absent":
		return metadata.Blob{}, metadata.ErrNotFound
	case status != "ok" || len(vals) < 3:
		return metadata.Blob{}, fmt.Errorf("unexpected script reply %v", vals)
	}
	v, _ := vals[1].(string)
	used, _ := vals[2].(string)
	return decodeBlob(v, used)
}

// decodeBlob decodes a stored record and its use value
// ("<Unix ns>,<gen>,<inc>", or just the time as older versions wrote it).
func decodeBlob(v, use string) (metadata.Blob, error) {
	b, err := record.DecodeBlob([]byte(v))
	if err != nil {
		return metadata.Blob{}, err
	}
	t, rest, _ := strings.Cut(use, ",")
	gen, inc, _ := strings.Cut(rest, ",")
	if b.Used, err = parseTime(t); err != nil {
		return metadata.Blob{}, err
	}
	if gen != "" {
		if b.Gen, err = strconv.ParseUint(gen, 10, 64); err != nil {
			return metadata.Blob{}, fmt.Errorf("blob use %q: %w", use, err)
		}
	}
	b.Inc = inc
	return b, nil
}

// GetBlob implements metadata.Blobs in one round trip (MGET of two keys
// in one slot).
func (s *Store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	vals, err := s.c.MGet(ctx, s.blobKey(string(d)), s.blobUsedKey(string(d))).Result()
	var b metadata.Blob
	if err == nil {
		v, ok := vals[0].(string)
		used, _ := vals[1].(string)
		if !ok {
			err = metadata.ErrNotFound
		} else {
			b, err = decodeBlob(v, used)
		}
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: blob %s: %w", d, err)
	}
	return b, nil
}

// LinkBlob implements metadata.Blobs: a script in the blob's slot
// refreshes its use and adds repo to the blob's link index (or fails on a
// tombstone or without a live record), then repo joins the index of all
// repositories, then a script in the repository's slot links the blob and
// counts its size. The steps before the link are idempotent and only add
// to supersets. The link and the tombstone live in different slots, so a
// collector may have turned the record into a tombstone and removed the
// links between the first script and the link: a second script in the
// blob's slot checks the record again, and a link made too late is taken
// back (the collector only deletes bytes after the tombstone, and the
// caller gets ErrConflict).
func (s *Store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	d := string(b.Digest)
	err := s.touch(ctx, b.Digest, repo)
	if err == nil {
		err = s.c.ZAdd(ctx, s.reposKey(), redisZ(repo)).Err()
	}
	k := s.repoKeys(repo)
	if err == nil {
		b.Used, b.Gen, b.Inc = time.Time{}, 0, ""
		err = linkScript.Run(ctx, s.c, []string{k.blobs, k.usage}, d, record.EncodeBlob(b)).Err()
	}
	if err == nil {
		if err = s.touch(ctx, b.Digest, ""); errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrNotFound) {
			if uerr := unlinkScript.Run(ctx, s.c, []string{k.blobs, k.usage}, d).Err(); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: link blob %s into %s: %w", d, repo, err)
	}
	return nil
}

// touch runs touchBlobScript for d (and repo, when not "").
func (s *Store) touch(ctx context.Context, d digest.Digest, repo string) error {
	_, err := s.touchBlob(ctx, d, repo)
	return err
}

func (s *Store) touchBlob(ctx context.Context, d digest.Digest, repo string) (metadata.Blob, error) {
	k := string(d)
	vals, err := touchBlobScript.Run(ctx, s.c, []string{s.blobKey(k), s.blobUsedKey(k), s.blobDelKey(k), s.blobLinksKey(k)}, repo).Slice()
	if err != nil {
		return metadata.Blob{}, err
	}
	return scriptBlob(vals)
}

// RepoBlob implements metadata.Blobs.
func (s *Store) RepoBlob(ctx context.Context, repo string, d digest.Digest) (metadata.Blob, error) {
	v, err := s.c.HGet(ctx, s.repoKey(repo, "blobs"), string(d)).Bytes()
	var b metadata.Blob
	if err == nil {
		b, err = record.DecodeBlob(v)
	}
	if err != nil {
		return metadata.Blob{}, fmt.Errorf("redismeta: blob %s in %s: %w", d, repo, notFound(err))
	}
	return b, nil
}

// UnlinkBlob implements metadata.Blobs: a script in the repository's
// slot removes the link and its usage, then repo leaves the blob's link
// index (a stale index entry is harmless).
func (s *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	k := s.repoKeys(repo)
	n, err := unlinkScript.Run(ctx, s.c, []string{k.blobs, k.usage}, string(d)).Int64()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err == nil {
		err = s.c.SRem(ctx, s.blobLinksKey(string(d)), repo).Err()
	}
	if err != nil {
		return fmt.Errorf("redismeta: unlink blob %s from %s: %w", d, repo, err)
	}
	return nil
}
