package redismeta

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/driver"
)

var _ driver.RangeManyer = (*Driver)(nil)

// RangeMany implements driver.RangeManyer: the range scripts of qs in
// one pipeline (on a cluster, one per node, sent in parallel).
func (d *Driver) RangeMany(ctx context.Context, qs []driver.RangeQuery) ([]driver.RangeResult, error) {
	out := make([]driver.RangeResult, len(qs))
	if len(qs) == 0 {
		return out, nil
	}
	for _, q := range qs {
		if !q.Table.Ordered {
			return nil, fmt.Errorf("redismeta: range over unordered table %s", q.Table.Name)
		}
	}
	run := func() ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(qs))
		_, err := d.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, q := range qs {
				h, z, _ := tableKeys(d.tag(q.Shard), q.Table)
				lo, hi, count := lexBounds(q.Prefix, q.After, q.N)
				cmds[i] = rangeScript.EvalSha(ctx, p, []string{h, z}, lo, hi, count)
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := run()
	if err != nil && strings.Contains(err.Error(), "NOSCRIPT") {
		if err := rangeScript.Load(ctx, d.c).Err(); err != nil {
			return nil, fail(err)
		}
		cmds, err = run()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fail(err)
	}
	for i, c := range cmds {
		r, _, err := reply(c)
		if err != nil {
			return nil, fail(err)
		}
		if len(r) != 2 {
			return nil, fmt.Errorf("redismeta: malformed range reply")
		}
		kv, err := kvs(r[0], r[1])
		if err != nil {
			return nil, err
		}
		out[i].KVs, out[i].More = cut(kv, qs[i].N)
	}
	return out, nil
}
