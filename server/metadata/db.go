package metadata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/regkit/regkit/server/metadata/driver"
)

// DB is the portable metadata store: every rule of Store, Identity,
// Packages and Counter, written once over a driver.Driver (see doc.go for
// the shards and the order of cross-shard operations). It is safe for
// concurrent use.
type DB struct {
	d       driver.Driver
	retries int
	noIndex bool          // WithoutListIndexes
	noSel   bool          // WithoutSelectionIndexes
	grace   time.Duration // WithRepairGrace
}

var (
	_ Store    = (*DB)(nil)
	_ Identity = (*DB)(nil)
	_ Packages = (*DB)(nil)
	_ Counter  = (*DB)(nil)
)

// Option configures a DB.
type Option func(*DB)

// WithConflictRetries sets how often a transaction that failed with
// driver.ErrConflict is run again before the operation fails with
// ErrUnavailable (default 8).
func WithConflictRetries(n int) Option { return func(db *DB) { db.retries = max(n, 0) } }

// New returns the store over d. Close closes d.
func New(d driver.Driver, opts ...Option) *DB {
	db := &DB{d: d, retries: 8, grace: defaultRepairGrace}
	for _, o := range opts {
		o(db)
	}
	return db
}

// Driver returns the driver beneath db (for tests that count round
// trips).
func (db *DB) Driver() driver.Driver { return db.d }

// Close implements Store: it closes the driver.
func (db *DB) Close() error { return db.d.Close() }

// Shard names (see doc.go).
const (
	shardCatalog   = "catalog"   // the repository catalog and the list of every repository
	shardBlobIndex = "blobindex" // every global blob record's digest
	shardUploadIdx = "uploadidx" // every upload session's ID
	shardIdentity  = "identity"  // accounts, memberships, tokens
	shardPkgIndex  = "pkgindex"  // package owners and the package ID sequence
)

func shardRepo(repo string) string   { return "repo:" + repo }
func shardBlob(d string) string      { return "blob:" + d }
func shardUpload(id string) string   { return "upload:" + id }
func shardOwner(key string) string   { return "owner:" + key }
func shardLease(name string) string  { return "lease:" + name }
func shardNS(ns string) string       { return "ns:" + ns }
func shardCounter(key string) string { return "counter:" + key }

// Tables.
var (
	// repo:<name>
	tMeta      = driver.Table{Name: "meta"}                    // "" → repoMeta
	tTag       = driver.Table{Name: "tag", Ordered: true}      // tag → manifest digest
	tManifest  = driver.Table{Name: "manifest", Ordered: true} // digest → Manifest
	tReferrer  = driver.Table{Name: "referrer", Ordered: true} // subject NUL digest → Descriptor
	tLink      = driver.Table{Name: "link", Ordered: true}     // digest → Blob as linked
	tIntent    = driver.Table{Name: "intent", Ordered: true}   // digest NUL nonce → "": a LinkBlob in flight
	repoTables = []driver.Table{tMeta, tTag, tManifest, tReferrer, tLink, tIntent, tIdx, tIdxDir, tTagW, tRefused}
	// blob:<digest>
	tBlob    = driver.Table{Name: "blob"}                   // "" → blobRec
	tLinkers = driver.Table{Name: "linkers", Ordered: true} // repo → ""
	// catalog, blobindex, uploadidx
	tRepos = driver.Table{Name: "repos", Ordered: true} // repo → catalog token (created repositories)
	tAll   = driver.Table{Name: "all", Ordered: true}   // repo → "" (every repository with data)
	tIndex = driver.Table{Name: "index", Ordered: true} // blob digest → Inc; upload ID → ""
	// upload:<id>
	tUpload    = driver.Table{Name: "upload"}    // "" → uploadRec
	tPkgUpload = driver.Table{Name: "pkgupload"} // "" → PackageUpload
	// lease:, ns:, counter:
	tLease   = driver.Table{Name: "lease"}                  // "" → leaseRec
	tReserve = driver.Table{Name: "reserve", Ordered: true} // holder → bytes
	tCounter = driver.Table{Name: "counter"}                // "" → counterRec
)

// codec encodes records: CBOR of whole structs (keys from the json tags),
// so that bytes stay bytes, unknown fields are skipped and fields added to
// the Go types later persist. Times keep nanoseconds, in UTC.
var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = (cbor.EncOptions{Time: cbor.TimeRFC3339NanoUTC, Sort: cbor.SortNone}).EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{DefaultByteStringType: nil}).DecMode(); err != nil {
		panic(err)
	}
}

func encode(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("metadata: encode %T: %v", v, err)) // only plain structs are encoded
	}
	return b
}

// errCorrupt means a stored record could not be decoded.
var errCorrupt = errors.New("metadata: corrupt record")

func decode(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %T: %v", errCorrupt, v, err)
	}
	return nil
}

// get reads and decodes key of t in tx; false when absent.
func get[T any](r driver.Reader, t driver.Table, key string) (T, bool, error) {
	var v T
	b, ok, err := r.Get(t, key)
	if err != nil || !ok {
		return v, false, err
	}
	return v, true, decode(b, &v)
}

// put encodes v under key of t.
func put(tx driver.Tx, t driver.Table, key string, v any) error {
	return tx.Put(t, key, encode(v))
}

// mapErr maps driver errors to the package's sentinels: ErrUnavailable
// for an unreachable store and for transactions that kept conflicting.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, driver.ErrUnavailable), errors.Is(err, driver.ErrConflict):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// update runs fn in a transaction on shard, again while the driver
// reports conflicts (bounded), and maps the error.
func (db *DB) update(ctx context.Context, shard string, fn func(tx driver.Tx) error) error {
	var err error
	for range db.retries + 1 {
		if err = db.d.Update(ctx, shard, fn); !errors.Is(err, driver.ErrConflict) {
			break
		}
	}
	return mapErr(err)
}

func (db *DB) view(ctx context.Context, shard string, fn func(r driver.Reader) error) error {
	return mapErr(db.d.View(ctx, shard, fn))
}

// getRec reads one record in one round trip.
func getRec[T any](ctx context.Context, db *DB, shard string, t driver.Table, key string) (T, bool, error) {
	var v T
	b, ok, err := db.d.Get(ctx, driver.Ref{Shard: shard, Table: t, Key: key})
	if err != nil || !ok {
		return v, false, mapErr(err)
	}
	return v, true, decode(b, &v)
}

// rangeAll returns every record of t in r with prefix.
func rangeAll(r driver.Reader, t driver.Table, prefix string) ([]driver.KV, error) {
	kvs, _, err := r.Range(t, prefix, "", -1)
	return kvs, err
}

// Now implements GC: the driver's clock.
func (db *DB) Now(ctx context.Context) (time.Time, error) {
	now, err := db.d.Now(ctx)
	return utc(now), mapErr(err)
}

// utc strips the monotonic reading and location of t, so that values read
// back compare like the stored ones; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("metadata: "+format+": %w", append(args, ErrNotFound)...)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("metadata: "+format+": %w", append(args, ErrConflict)...)
}

// keys returns the keys of kvs.
func keys(kvs []driver.KV) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("metadata: "+format+": %w", append(args, sentinel)...)
}
