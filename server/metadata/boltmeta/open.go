// Package boltmeta is the embedded, durable metadata store for one
// machine, built on go.etcd.io/bbolt, so that `regkit serve` needs
// nothing else installed: Open returns package metadata's rules
// (metadata.DB) over Driver, a driver.Driver in one bbolt file.
//
// The file's layout is described in tx.go and marked by a format
// version (format.go); a file in another format, among them one written
// by the boltmeta store before the driver, is refused with ErrFormat and
// left as it is: there is no migration.
package boltmeta

import (
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// DefaultTimeout is how long Open waits for the file lock unless
// WithTimeout says otherwise.
const DefaultTimeout = time.Second

type options struct {
	timeout time.Duration
	noSync  bool
}

// Option configures Open and OpenDriver.
type Option func(*options)

// WithTimeout sets how long Open waits for the file lock that another
// process (or another store in this process) holds; 0 means the default,
// DefaultTimeout. Open never waits forever.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithNoSync skips fsync after each commit. It is for tests only: a crash
// can lose or corrupt the database.
func WithNoSync() Option {
	return func(o *options) { o.noSync = true }
}

// Open opens or creates the metadata file at path and returns the
// metadata store over it (metadata.New over OpenDriver). It fails with
// ErrFormat for a file in another format and, when another process
// holds the file, after the lock timeout with an error saying so.
func Open(path string, opts ...Option) (*metadata.DB, error) {
	d, err := OpenDriver(path, opts...)
	if err != nil {
		return nil, err
	}
	return metadata.New(d), nil
}
