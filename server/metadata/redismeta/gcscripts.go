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

// luaUse defines use(key, inc): the use key of a blob holds
// "<last use, Unix ns>,<gen>,<inc>" (or, written by older versions, just
// the time). use sets it to now with gen + 1, keeping its inc unless inc
// is given, and returns the new value and the inc.
const luaUse = luaNow + `
local function use(key, inc)
  local old = redis.call('GET', key) or ''
  local gen, oldinc = 0, ''
  local c1 = string.find(old, ',', 1, true)
  if c1 then
    local c2 = string.find(old, ',', c1 + 1, true)
    gen = tonumber(string.sub(old, c1 + 1, c2 - 1)) or 0
    oldinc = string.sub(old, c2 + 1)
  end
  if inc == nil or inc == '' then inc = oldinc end
  local v = now .. ',' .. string.format('%.0f', gen + 1) .. ',' .. inc
  redis.call('SET', key, v)
  return v, inc
end
local function incof(key)
  local old = redis.call('GET', key) or ''
  local c1 = string.find(old, ',', 1, true)
  if not c1 then return '' end
  local c2 = string.find(old, ',', c1 + 1, true)
  return string.sub(old, c2 + 1)
end
`

// claimBlobScript: KEYS blob, use, tombstone, pending; ARGV pending
// record, new inc. Refreshes a live record ({"live", record, use}), or a
// pending one ({"pending", record, use}), or creates the pending record
// with the new inc; {"deleting"} for a tombstone.
var claimBlobScript = redis.NewScript(luaUse + `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'deleting'} end
local v = redis.call('GET', KEYS[1])
if v then
  local u = use(KEYS[2])
  return {'live', v, u}
end
v = redis.call('GET', KEYS[4])
if v then
  local u = use(KEYS[2])
  return {'pending', v, u}
end
redis.call('SET', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[2])
local u = use(KEYS[2], ARGV[2])
return {'pending', ARGV[1], u}
`)

// putBlobScript: KEYS blob, use, tombstone, pending; ARGV record, the
// claim's inc ("" to claim and commit at once), a new inc. Commits a
// pending record of that inc as the given record, or keeps a live one of
// that inc, refreshing its use; returns {"ok", record, use}, {"deleting"}
// or {"lost"} (another or no incarnation).
var putBlobScript = redis.NewScript(luaUse + `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'deleting'} end
local v = redis.call('GET', KEYS[1])
if v then
  if ARGV[2] ~= '' and incof(KEYS[2]) ~= ARGV[2] then return {'lost'} end
  local u = use(KEYS[2])
  return {'ok', v, u}
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  if ARGV[2] ~= '' and incof(KEYS[2]) ~= ARGV[2] then return {'lost'} end
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[4])
  local u = use(KEYS[2])
  return {'ok', ARGV[1], u}
end
if ARGV[2] ~= '' then return {'lost'} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
local u = use(KEYS[2], ARGV[3])
return {'ok', ARGV[1], u}
`)

// touchBlobScript: KEYS blob, use, tombstone, links; ARGV repository
// ("" for none). Refreshes the use of a live record, adds the repository
// to the blob's link index, and returns {"ok", record, use}, {"absent"}
// or {"deleting"} (then nothing changes).
var touchBlobScript = redis.NewScript(luaUse + `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'deleting'} end
local v = redis.call('GET', KEYS[1])
if not v then return {'absent'} end
if ARGV[1] ~= '' then redis.call('SADD', KEYS[4], ARGV[1]) end
local u = use(KEYS[2])
return {'ok', v, u}
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

// tombstoneScript: KEYS blob, use, tombstone, links, pending; ARGV the
// use value the caller read. When the use is unchanged (no use since:
// every use changes its gen), the live or pending record becomes the
// tombstone. Returns {"ok", record, repos...}, {"deleting", tombstone,
// repos...} for an existing tombstone, {"changed"} or {"notfound"}.
var tombstoneScript = redis.NewScript(`
local dead = redis.call('GET', KEYS[3])
if dead then
  local out = {'deleting', dead}
  for _, r in ipairs(redis.call('SMEMBERS', KEYS[4])) do out[#out + 1] = r end
  return out
end
local from = KEYS[1]
local v = redis.call('GET', from)
if not v then
  from = KEYS[5]
  v = redis.call('GET', from)
end
if not v then return {'notfound'} end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return {'changed'} end
redis.call('RENAME', from, KEYS[3])
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
