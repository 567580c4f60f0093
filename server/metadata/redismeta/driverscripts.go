package redismeta

import "github.com/redis/go-redis/v9"

// The driver's Lua scripts. Each touches only the keys it is given, all
// of one shard and so of one hash tag and one cluster slot. A table T of
// shard S is the hash H = P{S}:T (key → value), for ordered tables also
// the sorted set Z = P{S}:T:z (keys, score 0), and the string V = P{S}:T:v
// (the table's version: a random token set by every commit that changes
// the table, absent while the table is empty).

// getScript reads one record for a transaction, after checking that the
// tables it read before are unchanged. KEYS H, V, V1..Vn; ARGV key,
// version1..versionn. Returns false when a version moved, else
// {version of this table, value or false, TIME seconds, TIME µs}.
var getScript = redis.NewScript(`
for i = 3, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i-1] then return false end
end
local t = redis.call('TIME')
return {redis.call('GET', KEYS[2]) or '', redis.call('HGET', KEYS[1], ARGV[1]), t[1], t[2]}
`)

// rangeBody reads a lex range of Z and the values of its keys from H:
// KEYS[1] H, KEYS[2] Z; ARGV min, max, count (-1: all).
const rangeBody = `
local function scan(h, z, min, max, count)
  local ks = redis.call('ZRANGEBYLEX', z, min, max, 'LIMIT', 0, count)
  local vs = {}
  for i = 1, #ks, 1000 do
    local part = redis.call('HMGET', h, unpack(ks, i, math.min(i + 999, #ks)))
    for j = 1, #part do vs[#vs + 1] = part[j] end
  end
  return ks, vs
end
`

// rangeScript is Driver.Range: KEYS H, Z; ARGV min, max, count. Returns
// {keys, values}.
var rangeScript = redis.NewScript(rangeBody + `
local ks, vs = scan(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return {ks, vs}
`)

// txRangeScript is a transaction's Range: KEYS H, Z, V, V1..Vn; ARGV min,
// max, count, version1..versionn. Returns false when a version moved,
// else {version, keys, values, TIME seconds, TIME µs}.
var txRangeScript = redis.NewScript(rangeBody + `
for i = 4, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i] then return false end
end
local ks, vs = scan(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
local t = redis.call('TIME')
return {redis.call('GET', KEYS[3]) or '', ks, vs, t[1], t[2]}
`)

// followScript is Driver.Follow: KEYS from-hash, to-hash; ARGV key.
var followScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
return redis.call('HGET', KEYS[2], v)
`)

// commitScript validates a transaction's read set and applies its writes
// atomically. KEYS are triples H, Z, V, one per table read or written;
// ARGV token, number of tables, then per table: check ("1" when the
// table was read), the version read, ordered ("1"/"0"), number of puts,
// number of deletes, the puts as key, value pairs and the deleted keys.
// Returns 0, writing nothing, when a table read has another version now;
// else 1.
var commitScript = redis.NewScript(`
local tok, nt, a = ARGV[1], tonumber(ARGV[2]), 3
local plan = {}
for j = 1, nt do
  if ARGV[a] == '1' and (redis.call('GET', KEYS[3*j]) or '') ~= ARGV[a+1] then return 0 end
  local np, nd = tonumber(ARGV[a+3]), tonumber(ARGV[a+4])
  plan[j] = {a + 5, ARGV[a+2] == '1', np, nd}
  a = a + 5 + 2*np + nd
end
for j = 1, nt do
  local i, ord, np, nd = plan[j][1], plan[j][2], plan[j][3], plan[j][4]
  local h, z, v = KEYS[3*j-2], KEYS[3*j-1], KEYS[3*j]
  for _ = 1, np do
    redis.call('HSET', h, ARGV[i], ARGV[i+1])
    if ord then redis.call('ZADD', z, 0, ARGV[i]) end
    i = i + 2
  end
  for _ = 1, nd do
    redis.call('HDEL', h, ARGV[i])
    if ord then redis.call('ZREM', z, ARGV[i]) end
    i = i + 1
  end
  if np + nd > 0 then
    if redis.call('EXISTS', h) == 1 then redis.call('SET', v, tok) else redis.call('DEL', v) end
  end
end
return 1
`)
