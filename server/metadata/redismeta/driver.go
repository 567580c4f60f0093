package redismeta

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Driver is a driver.Driver on Redis, through a go-redis UniversalClient
// (standalone, Sentinel or Cluster); see the package documentation for
// its keys and transactions. It is safe for concurrent use.
type Driver struct {
	c      redis.UniversalClient
	prefix string
	owned  bool // Close closes c
}

var _ driver.Driver = (*Driver)(nil)

// NewDriver returns a driver on c. The caller keeps ownership of c:
// Close does not close it.
func NewDriver(c redis.UniversalClient, opts ...Option) *Driver {
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	return &Driver{c: c, prefix: o.prefix}
}

// Client returns the driver's Redis client.
func (d *Driver) Client() redis.UniversalClient { return d.c }

// Close closes the client if the driver owns it, and does nothing else.
func (d *Driver) Close() error {
	if !d.owned {
		return nil
	}
	if err := d.c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redismeta: close: %w", err)
	}
	return nil
}

// maxAttempts bounds how often Update runs fn when it keeps losing to
// concurrent commits.
const maxAttempts = 32

var errStale = fmt.Errorf("%w: the shard changed during the transaction", driver.ErrConflict)

var shardEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// tag returns P{S}, the start of every key of shard.
func (d *Driver) tag(shard string) string {
	if shard == "" {
		return d.prefix + "{%}:" // no escaped name is "%"
	}
	return d.prefix + "{" + shardEscaper.Replace(shard) + "}:"
}

// keys returns a table's hash, sorted set and version keys.
func tableKeys(tag string, t driver.Table) (h, z, v string) {
	h = tag + t.Name
	return h, h + ":z", h + ":v"
}

// fail marks the errors of a Redis that cannot serve requests with
// driver.ErrUnavailable (see isUnavailable).
func fail(err error) error {
	if err == nil || errors.Is(err, driver.ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", driver.ErrUnavailable, err)
}

// lexBounds returns the ZRANGEBYLEX bounds and LIMIT count of a Range
// (count n+1 to learn whether more follow; -1 for all).
func lexBounds(prefix, after string, n int) (lo, hi string, count int) {
	lo = "[" + prefix
	if after != "" && after >= prefix {
		lo = "(" + after
	}
	hi = "+" // no prefix, or only 0xff bytes: no upper bound
	p := []byte(prefix)
	for len(p) > 0 && p[len(p)-1] == 0xff {
		p = p[:len(p)-1]
	}
	if len(p) > 0 {
		p[len(p)-1]++
		hi = "(" + string(p)
	}
	count = -1
	if n >= 0 {
		count = n + 1
	}
	return lo, hi, count
}

// bulk converts a script's reply element to a value; false, nil and
// non-strings mean absent.
func bulk(v any) ([]byte, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	return []byte(s), true
}

// kvs pairs a range's keys and values, dropping keys without a value.
func kvs(ks, vs any) ([]driver.KV, error) {
	kl, ok1 := ks.([]any)
	vl, ok2 := vs.([]any)
	if !ok1 || !ok2 || len(kl) != len(vl) {
		return nil, fmt.Errorf("redismeta: malformed range reply")
	}
	out := make([]driver.KV, 0, len(kl))
	for i, k := range kl {
		ks, _ := k.(string)
		if v, ok := bulk(vl[i]); ok {
			out = append(out, driver.KV{Key: ks, Value: v})
		}
	}
	return out, nil
}

// cut applies Range's limit n to kvs fetched with one more.
func cut(kvs []driver.KV, n int) ([]driver.KV, bool) {
	if n >= 0 && len(kvs) > n {
		return kvs[:n], true
	}
	return kvs, false
}

// scriptTime converts the two elements of a TIME reply.
func scriptTime(sec, usec any) time.Time {
	num := func(v any) int64 {
		switch v := v.(type) {
		case int64:
			return v
		case string:
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
		return 0
	}
	return time.Unix(num(sec), num(usec)*1000).UTC()
}

// reply returns a script's array reply; nil when it returned false.
func reply(cmd *redis.Cmd) (r []any, isFalse bool, err error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	switch v := v.(type) {
	case []any:
		return v, false, nil
	case bool:
		if !v {
			return nil, true, nil
		}
	}
	return nil, false, fmt.Errorf("redismeta: unexpected script reply %T", v)
}

// Get implements driver.Driver: one HGET.
func (d *Driver) Get(ctx context.Context, ref driver.Ref) ([]byte, bool, error) {
	h, _, _ := tableKeys(d.tag(ref.Shard), ref.Table)
	v, err := d.c.HGet(ctx, h, ref.Key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fail(err)
	}
	return v, true, nil
}

// GetMany implements driver.Driver: one pipeline of HGETs (a cluster
// client sends each node its part, in parallel).
func (d *Driver) GetMany(ctx context.Context, refs []driver.Ref) ([][]byte, error) {
	out := make([][]byte, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(refs))
	_, err := d.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ref := range refs {
			h, _, _ := tableKeys(d.tag(ref.Shard), ref.Table)
			cmds[i] = p.HGet(ctx, h, ref.Key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fail(err)
	}
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fail(err)
		default:
			if v == nil {
				v = []byte{}
			}
			out[i] = v
		}
	}
	return out, nil
}

// Follow implements driver.Driver: one script.
func (d *Driver) Follow(ctx context.Context, shard string, from driver.Table, key string, to driver.Table) ([]byte, bool, error) {
	tag := d.tag(shard)
	fh, _, _ := tableKeys(tag, from)
	th, _, _ := tableKeys(tag, to)
	r, err := followScript.Run(ctx, d.c, []string{fh, th}, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fail(err)
	}
	v, ok := bulk(r)
	return v, ok, nil
}

// Range implements driver.Driver: one script (ZRANGEBYLEX and HMGET).
func (d *Driver) Range(ctx context.Context, shard string, t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	if !t.Ordered {
		return nil, false, fmt.Errorf("redismeta: range over unordered table %s", t.Name)
	}
	h, z, _ := tableKeys(d.tag(shard), t)
	lo, hi, count := lexBounds(prefix, after, n)
	r, _, err := reply(rangeScript.Run(ctx, d.c, []string{h, z}, lo, hi, count))
	if err != nil {
		return nil, false, fail(err)
	}
	if len(r) != 2 {
		return nil, false, fmt.Errorf("redismeta: malformed range reply")
	}
	out, err := kvs(r[0], r[1])
	if err != nil {
		return nil, false, err
	}
	out, more := cut(out, n)
	return out, more, nil
}

// Now implements driver.Driver: the server's TIME.
func (d *Driver) Now(ctx context.Context) (time.Time, error) {
	t, err := d.c.Time(ctx).Result()
	if err != nil {
		return time.Time{}, fail(err)
	}
	return t.UTC(), nil
}

// View implements driver.Driver. Its reads are single commands; two of
// them may see different states.
func (d *Driver) View(ctx context.Context, shard string, fn func(r driver.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(viewReader{ctx: ctx, d: d, shard: shard})
}

type viewReader struct {
	ctx   context.Context
	d     *Driver
	shard string
}

func (r viewReader) Get(t driver.Table, key string) ([]byte, bool, error) {
	return r.d.Get(r.ctx, driver.Ref{Shard: r.shard, Table: t, Key: key})
}

func (r viewReader) Range(t driver.Table, prefix, after string, n int) ([]driver.KV, bool, error) {
	return r.d.Range(r.ctx, r.shard, t, prefix, after, n)
}

// Update implements driver.Driver (see Driver: optimistic, validated by
// the commit script).
func (d *Driver) Update(ctx context.Context, shard string, fn func(tx driver.Tx) error) error {
	for attempt := range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		x := newTx(ctx, d, shard)
		err := fn(x)
		if x.err != nil { // Redis failed under fn: report that, not fn's view of it
			return x.err
		}
		if x.stale {
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return err
		}
		ok, err := x.commit()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		backoff(ctx, attempt)
	}
	return fmt.Errorf("redismeta: shard %q: %d attempts lost to concurrent transactions: %w", shard, maxAttempts, driver.ErrConflict)
}

// backoff waits a random time growing with the attempt (at most about
// 10ms), so that contending transactions spread out.
func backoff(ctx context.Context, attempt int) {
	if attempt == 0 {
		return
	}
	limit := time.Duration(50<<min(attempt, 8)) * time.Microsecond
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// newToken returns a fresh table version.
func newToken() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
