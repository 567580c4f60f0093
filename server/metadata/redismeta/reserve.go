package redismeta

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

var _ metadata.Reservations = (*Store)(nil)

// reservedKey is the hash of namespace ns's reservations: holder → bytes.
// Its hash tag is the namespace's, so one script checks and changes it.
func (s *Store) reservedKey(ns string) string { return s.prefix + "reserved:{" + ns + "}" }

// reserveScript: KEYS reservations; ARGV holder, n, base, limit,
// max holders. Returns {"ok"}, {"holders", count} or {"bytes", count,
// reserved}.
var reserveScript = redis.NewScript(`
local vals = redis.call('HGETALL', KEYS[1])
local count, sum, cur, known = 0, 0, 0, false
for i = 1, #vals, 2 do
  local v = tonumber(vals[i + 1])
  count = count + 1
  sum = sum + v
  if vals[i] == ARGV[1] then cur, known = v, true end
end
local n, base, limit, maxh = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not known and maxh > 0 and count >= maxh then return {'holders', count} end
if n > cur and limit > 0 and base + sum - cur + n > limit then
  return {'bytes', count, string.format('%.0f', sum)}
end
if not known or n > cur then redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', math.max(cur, n))) end
return {'ok'}
`)

// Reserve implements metadata.Reservations in one script.
func (s *Store) Reserve(ctx context.Context, ns, holder string, n, base, limit int64, maxHolders int) error {
	vals, err := reserveScript.Run(ctx, s.c, []string{s.reservedKey(ns)}, holder, n, base, limit, maxHolders).Slice()
	if err != nil {
		return fmt.Errorf("redismeta: reserve in %s: %w", ns, err)
	}
	switch vals[0] {
	case "ok":
		return nil
	case "holders":
		c, _ := vals[1].(int64)
		return fmt.Errorf("redismeta: reserve in %s: %w", ns, &metadata.LimitError{Holders: true, Count: int(c)})
	case "bytes":
		c, _ := vals[1].(int64)
		sum, _ := strconv.ParseInt(fmt.Sprint(vals[2]), 10, 64)
		return fmt.Errorf("redismeta: reserve in %s: %w", ns, &metadata.LimitError{Count: int(c), Reserved: sum})
	}
	return fmt.Errorf("redismeta: reserve in %s: unexpected script reply %v", ns, vals)
}

// Release implements metadata.Reservations.
func (s *Store) Release(ctx context.Context, ns, holder string) error {
	if err := s.c.HDel(ctx, s.reservedKey(ns), holder).Err(); err != nil {
		return fmt.Errorf("redismeta: release in %s: %w", ns, err)
	}
	return nil
}

// Holders implements metadata.Reservations.
func (s *Store) Holders(ctx context.Context, ns string) (map[string]int64, error) {
	m, err := s.c.HGetAll(ctx, s.reservedKey(ns)).Result()
	if err != nil {
		return nil, fmt.Errorf("redismeta: holders of %s: %w", ns, err)
	}
	out := make(map[string]int64, len(m))
	for h, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redismeta: holders of %s: %s: bad value %q", ns, h, v)
		}
		out[h] = n
	}
	return out, nil
}
