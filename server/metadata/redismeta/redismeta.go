// Package redismeta is regkit's metadata on Redis, through a go-redis
// UniversalClient: a standalone server, Sentinel or Cluster. It holds no
// registry rule: Driver implements the small driver.Driver interface
// (records in shards, atomic transactions on one shard, ordered ranges),
// and New and Open return package metadata's store, which writes every
// rule once, over it.
//
// # Key layout
//
// P is the key prefix (WithPrefix; default DefaultPrefix). A shard is a
// group of records that change together: one repository, one blob
// digest, one upload session, one owner, or an index (the shards are
// package metadata's). Every key of shard S starts with P{S}, with '%',
// '{' and '}' in S percent-escaped, so that S is the key's hash tag: a
// shard lives in one cluster slot and each of its transactions is one
// atomic script even on a cluster. Table T of shard S is
//
//	P{S}:T     hash    record key → value
//	P{S}:T:z   zset    the keys, score 0 (ordered tables only), for
//	                   ranges by ZRANGEBYLEX
//	P{S}:T:v   string  the table's version: a random token that every
//	                   commit changing T sets, deleted with the table
//
// # Transactions
//
// Update is optimistic. Each read in a transaction is one script that
// returns the record with its table's version and the server's TIME, and
// checks in the same round trip that the tables read before still have
// the versions seen, so the transaction's function always sees one
// consistent state. The commit is one script that checks every version
// read and applies all writes, or writes nothing and runs the function
// again (a bounded number of times; then driver.ErrConflict). A blind
// write is one round trip, a read-modify-write of one record two, and a
// manifest GET by tag one (Follow: a script resolving tag → manifest).
//
// Keys written by earlier versions of regkit (before the driver, such as
// {P<repo>}:manifests or Pblob:{<digest>}) are neither read nor migrated;
// they do not collide with the keys above.
package redismeta

import (
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

// DefaultPrefix is the key prefix unless WithPrefix says otherwise.
const DefaultPrefix = "regkit:"

type options struct {
	prefix string
}

// Option configures New, Open and NewDriver.
type Option func(*options)

// WithPrefix sets the prefix of every key, so that several stores (tests,
// tenants) can share one Redis. The default is DefaultPrefix. A prefix
// must not contain '{' or '}', which would change the keys' hash tags.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// New returns the metadata store over a Driver on c. The caller keeps
// ownership of c: closing the store does not close it.
func New(c redis.UniversalClient, opts ...Option) *metadata.DB {
	return metadata.New(NewDriver(c, opts...))
}
