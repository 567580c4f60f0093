package redismeta

import "github.com/redis/go-redis/v9"

// Scripts for blob records, garbage collection, usage and leases. Like
// those in scripts.go, each touches only the keys it is given, all in one
// slot.

// luaNow sets now to the Redis server's time in Unix nanoseconds, as a
// decimal string (no floating point: it does not fit a Lua number).
const luaNow = `
local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
`

// luaBlobSize defines blobsize(v): the Size field of a blob record of
// package internal/record (kind byte, length-prefixed digest, zig-zag
// varint size).
const luaBlobSize = `
local function blobsize(v)
  local i = 2
  local function uv()
    local x, mul = 0, 1
    while true do
      local b = string.byte(v, i)
      if not b then return 0 end
      i = i + 1
      x = x + (b % 128) * mul
      if b < 128 then return x end
      mul = mul * 128
    end
  end
  local n = uv()
  i = i + n
  local z = uv()
  if z % 2 == 0 then return z / 2 end
  return -(z + 1) / 2
end
`

// putBlobScript: KEYS blob, used, tombstone; ARGV record. Stores the
// record unless one exists, sets used to now, and returns {"ok", stored
// record, now}; {"deleting"} when the blob has a tombstone.
var putBlobScript = redis.NewScript(luaNow + `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'deleting'} end
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v)
end
redis.call('SET', KEYS[2], now)
return {'ok', v, now}
`)

// touchBlobScript: KEYS blob, used, tombstone, links; ARGV repository
// ("" for none). Sets used to now when the record exists, adds the
// repository to the blob's link index, and returns {"ok", record, now},
// {"absent"} or {"deleting"} (then nothing changes).
var touchBlobScript = redis.NewScript(luaNow + `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'deleting'} end
if ARGV[1] ~= '' then redis.call('SADD', KEYS[4], ARGV[1]) end
local v = redis.call('GET', KEYS[1])
if not v then return {'absent'} end
redis.call('SET', KEYS[2], now)
return {'ok', v, now}
`)

// linkScript: KEYS links, usage; ARGV digest, record. Links the blob and,
// when the link is new, adds its size to the usage.
var linkScript = redis.NewScript(luaBlobSize + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local delta = blobsize(ARGV[2])
if old then delta = delta - blobsize(old) end
if delta ~= 0 then redis.call('INCRBY', KEYS[2], string.format('%.0f', delta)) end
return 1
`)

// unlinkScript: KEYS links, usage; ARGV digest. Removes the link and
// subtracts its size from the usage; returns 0 when it was not linked.
var unlinkScript = redis.NewScript(luaBlobSize + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local size = blobsize(old)
if size ~= 0 then redis.call('INCRBY', KEYS[2], string.format('%.0f', -size)) end
return 1
`)

// tombstoneScript: KEYS blob, used, tombstone, links; ARGV the record and
// used value ("" for none) the caller read. When they are unchanged, the
// record becomes the tombstone. Returns {"ok", record, repos...},
// {"deleting", tombstone, repos...} for an existing tombstone,
// {"changed"} or {"notfound"}.
var tombstoneScript = redis.NewScript(`
local dead = redis.call('GET', KEYS[3])
if dead then
  local out = {'deleting', dead}
  for _, r in ipairs(redis.call('SMEMBERS', KEYS[4])) do out[#out + 1] = r end
  return out
end
local v = redis.call('GET', KEYS[1])
if not v then return {'notfound'} end
if v ~= ARGV[1] or (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return {'changed'} end
redis.call('RENAME', KEYS[1], KEYS[3])
redis.call('DEL', KEYS[2])
local out = {'ok', v}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[4])) do out[#out + 1] = r end
return out
`)

// purgeScript: KEYS tombstone, links. Removes the tombstone and the link
// index; returns 0 when there was no tombstone.
var purgeScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1
`)

// acquireLeaseScript: KEYS lease; ARGV token, ttl in ms. Returns 1 when
// token holds the lease now, 0 when another token does.
var acquireLeaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// releaseLeaseScript: KEYS lease; ARGV token. Deletes the lease if token
// holds it.
var releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)
