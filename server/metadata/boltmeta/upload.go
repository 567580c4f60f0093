package boltmeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/internal/record"
)

var errEmptyToken = errors.New("empty lease token")

// timeKey returns 12 bytes that sort like t: seconds with the sign bit
// flipped, then nanoseconds, both big-endian.
func timeKey(t time.Time) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return k
}

func keyTime(k []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(k)^(1<<63)), int64(binary.BigEndian.Uint32(k[8:]))).UTC()
}

func byTimeKey(u metadata.Upload) []byte { return append(timeKey(u.Updated), u.ID...) }

func getUpload(tx *bolt.Tx, id string) (metadata.Upload, record.Lease, error) {
	v := tx.Bucket(bucketUploads).Get([]byte(id))
	if v == nil {
		return metadata.Upload{}, record.Lease{}, metadata.ErrNotFound
	}
	return record.DecodeUpload(v)
}

func putUpload(tx *bolt.Tx, u metadata.Upload, l record.Lease) error {
	return tx.Bucket(bucketUploads).Put([]byte(u.ID), record.EncodeUpload(u, l))
}

// CreateUpload implements metadata.Uploads.
func (s *Store) CreateUpload(ctx context.Context, u metadata.Upload) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUploads).Get([]byte(u.ID)) != nil {
			return metadata.ErrExists
		}
		u.Epoch = 0
		if u.Started.IsZero() {
			u.Started = s.nowTime()
		}
		if u.Updated.IsZero() {
			u.Updated = u.Started
		}
		if err := putUpload(tx, u, record.Lease{}); err != nil {
			return err
		}
		return tx.Bucket(bucketUploadsByTime).Put(byTimeKey(u), nil)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: create upload %s: %w", u.ID, err)
	}
	return nil
}

// GetUpload implements metadata.Uploads.
func (s *Store) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	var u metadata.Upload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		u, _, err = getUpload(tx, id)
		return err
	})
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("boltmeta: upload %s: %w", id, err)
	}
	return u, nil
}

// AcquireUpload implements metadata.Uploads. Leases expire by this
// machine's clock.
func (s *Store) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	if token == "" {
		return metadata.Upload{}, fmt.Errorf("boltmeta: acquire upload %s: %w", id, errEmptyToken)
	}
	var u metadata.Upload
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var (
			l   record.Lease
			err error
		)
		if u, l, err = getUpload(tx, id); err != nil {
			return err
		}
		now := s.now()
		if l.Token != "" && l.Token != token && now.Before(l.Expires) {
			return fmt.Errorf("leased by another writer: %w", metadata.ErrConflict)
		}
		if offset >= 0 && offset != u.Offset {
			return fmt.Errorf("offset is %d, not %d: %w", u.Offset, offset, metadata.ErrConflict)
		}
		if l.Token != "" && l.Token != token {
			u.Epoch++ // a takeover
		}
		return putUpload(tx, u, record.Lease{Token: token, Expires: now.Add(ttl)})
	})
	if err != nil {
		if !errors.Is(err, metadata.ErrConflict) {
			u = metadata.Upload{}
		}
		return u, fmt.Errorf("boltmeta: acquire upload %s: %w", id, err)
	}
	return u, nil
}

// ReleaseUpload implements metadata.Uploads.
func (s *Store) ReleaseUpload(ctx context.Context, u metadata.Upload, token string) error {
	if token == "" {
		return fmt.Errorf("boltmeta: release upload %s: %w", u.ID, errEmptyToken)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur, l, err := getUpload(tx, u.ID)
		if err != nil {
			return err
		}
		if l.Token != token {
			return fmt.Errorf("lease not held: %w", metadata.ErrConflict)
		}
		byTime := tx.Bucket(bucketUploadsByTime)
		if err := byTime.Delete(byTimeKey(cur)); err != nil {
			return err
		}
		cur.Offset, cur.State, cur.Updated = u.Offset, u.State, u.Updated
		if cur.Updated.IsZero() {
			cur.Updated = s.nowTime()
		}
		if err := putUpload(tx, cur, record.Lease{}); err != nil {
			return err
		}
		return byTime.Put(byTimeKey(cur), nil)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: release upload %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUpload implements metadata.Uploads.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	missing := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		// The package side of the session (metadata.Packages) goes with
		// it, even when the session itself is gone already.
		if b := tx.Bucket(bucketPkgUploads); b != nil {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		u, _, err := getUpload(tx, id)
		if errors.Is(err, metadata.ErrNotFound) {
			missing = true
			return nil // commit the record's deletion
		}
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketUploadsByTime).Delete(byTimeKey(u)); err != nil {
			return err
		}
		return tx.Bucket(bucketUploads).Delete([]byte(id))
	})
	if err == nil && missing {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("boltmeta: delete upload %s: %w", id, err)
	}
	return nil
}

// ExpiredUploads implements metadata.Uploads.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]metadata.Upload, error) {
	out := []metadata.Upload{}
	limit := timeKey(before)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUploadsByTime).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:12], limit) < 0; k, _ = c.Next() {
			if n >= 0 && len(out) >= n {
				break
			}
			u, _, err := getUpload(tx, string(k[12:]))
			if err != nil {
				return fmt.Errorf("index entry %s at %v: %w", k[12:], keyTime(k), err)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltmeta: expired uploads: %w", err)
	}
	return out, nil
}
