package redismeta

import (
	"context"
	"errors"
	"fmt"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/redismeta/redisurl"
)

// Open connects to the Redis that rawURL names, checks it with PING and
// returns the metadata store over a Driver that owns the client (Close
// closes it). Accepted URLs:
//
//	redis://[user:password@]host:port[/db][?option=value...]
//	rediss://...                                  the same, over TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N]
//	redis+sentinel://[user:password@]host1:26379,host2:26379/mastername[/db][?option=value...]
//	rediss+sentinel://...                         the same, over TLS
//	redis+cluster://[user:password@]host1:port1,host2:port2[?option=value...]
//	rediss+cluster://...                          the same, over TLS
//
// The user and password are those of the Redis servers (for Sentinel, of
// the master and replicas). Sentinel's own credentials go in the options
// sentinel_username and sentinel_password. Other options are go-redis's
// URL options (dial_timeout, read_timeout, pool_size, ...), as accepted by
// redis.ParseURL, redis.ParseFailoverURL and redis.ParseClusterURL.
//
// Unless the URL sets them, the timeouts and retries are bounded so that
// a request fails fast, with metadata.ErrUnavailable, while Redis is
// unreachable (go-redis's own defaults make each command wait about two
// seconds for a refused connection, and much longer for a silent host):
// redisurl.DefaultDialTimeout, DefaultReadTimeout (also the write
// timeout), DefaultPoolTimeout, DefaultMaxRetries and one dial attempt per
// try (DefaultDialerRetries; dialer_retries on Sentinel and Cluster URLs). The
// client reconnects by itself once Redis answers again.
func Open(ctx context.Context, rawURL string, opts ...Option) (*metadata.DB, error) {
	c, err := redisurl.NewClient(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redismeta: open %s: %w", redisurl.Redact(rawURL), err)
	}
	d := NewDriver(c, opts...)
	d.owned = true
	if err := c.Ping(ctx).Err(); err != nil {
		_ = d.Close()
		if err = fail(err); errors.Is(err, driver.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", metadata.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("redismeta: open %s: %w", redisurl.Redact(rawURL), err)
	}
	return metadata.New(d), nil
}
