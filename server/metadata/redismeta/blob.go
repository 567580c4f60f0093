package redismeta

import (
	"context"
	"errors"
	"fmt"
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

// PutBlob implements metadata.Blobs: one script stores or keeps the
// record and sets its Used time, then the digest is added to the index
// of ListBlobs (after the record, so that PurgeBlob cannot drop the
// index entry of a new record; see PurgeBlob).
func (s *Store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if b.Created.IsZero() {
		b.Created = nowUTC()
	}
	b.Used = time.Time{}
	d := string(b.Digest)
	vals, err := putBlobScript.Run(ctx, s.c, []string{s.blobKey(d), s.blobUsedKey(d), s.blobDelKey(d)}, record.EncodeBlob(b)).Slice()
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

// scriptBlob parses the {"ok", record, used} reply of the blob scripts;
// "deleting" is ErrConflict and "absent" ErrNotFound.
func scriptBlob(vals []any) (metadata.Blob, error) {
	status, _ := vals[0].(string)
	switch {
	case status == "deleting":
		return metadata.Blob{}, errDeleting
	case status == "absent":
		return metadata.Blob{}, metadata.ErrNotFound
	case status != "ok" || len(vals) < 3:
		return metadata.Blob{}, fmt.Errorf("unexpected script reply %v", vals)
	}
	v, _ := vals[1].(string)
	used, _ := vals[2].(string)
	return decodeBlob(v, used)
}

// decodeBlob decodes a stored record and its used value.
func decodeBlob(v, used string) (metadata.Blob, error) {
	b, err := record.DecodeBlob([]byte(v))
	if err != nil {
		return metadata.Blob{}, err
	}
	b.Used, err = parseTime(used)
	return b, err
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
// refreshes Used and adds repo to the blob's link index (or fails on a
// tombstone), then repo joins the index of all repositories, then a
// script in the repository's slot links the blob and counts its size.
// Every step before the link is idempotent and only adds to supersets,
// so a crash between them leaves nothing that garbage collection could
// miss.
func (s *Store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	d := string(b.Digest)
	err := s.touch(ctx, b.Digest, repo)
	if errors.Is(err, metadata.ErrNotFound) {
		err = nil // no global record: link all the same
	}
	if err == nil {
		err = s.c.ZAdd(ctx, s.reposKey(), redisZ(repo)).Err()
	}
	if err == nil {
		k := s.repoKeys(repo)
		err = linkScript.Run(ctx, s.c, []string{k.blobs, k.usage}, d, record.EncodeBlob(b)).Err()
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
