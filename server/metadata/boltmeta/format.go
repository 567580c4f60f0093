package boltmeta

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrFormat is returned by OpenDriver for a file this version cannot read:
// one written by the boltmeta store of regkit before the metadata driver
// (its layout is not migrated), one whose format marker names another
// version, or one that is not a bbolt database at all.
var ErrFormat = errors.New("unsupported metadata file format")

// formatBucket holds the format marker. Its name has a ':', which table
// names never have, so no table can collide with it.
var (
	formatBucket = []byte("regkit:format")
	formatKey    = []byte("format")
)

// formatVersion is the marker of the layout this file implements: one
// top-level bucket per table, keys prefixed by their shard (see tx.go).
const formatVersion = "regkit-metadata-driver/1"

// oldStoreBuckets are top-level buckets that only the store before the
// driver wrote.
var oldStoreBuckets = []string{"blobs", "repos", "catalog", "uploads"}

// checkFormat reads the format marker of db and writes it when the file
// is new (has no bucket at all).
func checkFormat(db *bolt.DB) error {
	fresh := false
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(formatBucket); b != nil {
			if v := b.Get(formatKey); string(v) != formatVersion {
				return fmt.Errorf("%w: the file's format is %q, this regkit reads %q; open it with the regkit that wrote it, or start with a new file", ErrFormat, v, formatVersion)
			}
			return nil
		}
		for _, name := range oldStoreBuckets {
			if tx.Bucket([]byte(name)) != nil {
				return fmt.Errorf("%w: the file was written by an older regkit (the boltmeta layout before the metadata driver), which this version does not migrate; move the file aside, start with a new one and push the content again", ErrFormat)
			}
		}
		k, _ := tx.Cursor().First()
		if k != nil {
			return fmt.Errorf("%w: the file is a bbolt database without a regkit format marker (its first bucket is %q); it was not written by regkit: use another path", ErrFormat, k)
		}
		fresh = true
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(formatBucket)
		if err != nil {
			return err
		}
		return b.Put(formatKey, []byte(formatVersion))
	})
}

// openError turns bbolt's errors for files that are not bbolt databases
// into ErrFormat (keeping bbolt's error too).
func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("boltmeta: open %s: %w: not a regkit metadata file (%w); use another path", path, ErrFormat, err)
	}
	return fmt.Errorf("boltmeta: open %s: %w", path, err)
}
