package redismeta

import "github.com/redis/go-redis/v9"

// Every script touches only the keys it is given, all in one slot.

// putManifestScript: KEYS created, manifests, tags, tagz, digesttags,
// usage [, referrers of the subject]; ARGV digest, record, descriptor,
// body length, tags...
var putManifestScript = redis.NewScript(`
redis.call('SET', KEYS[1], '1')
local d = ARGV[1]
if redis.call('HSETNX', KEYS[2], d, ARGV[2]) == 1 then
  redis.call('INCRBY', KEYS[6], ARGV[4])
  if KEYS[7] then redis.call('HSET', KEYS[7], d, ARGV[3]) end
end
for i = 5, #ARGV do
  local tag = ARGV[i]
  local old = redis.call('HGET', KEYS[3], tag)
  if old ~= d then
    if old then redis.call('ZREM', KEYS[5], old .. '\0' .. tag) end
    redis.call('HSET', KEYS[3], tag, d)
    redis.call('ZADD', KEYS[4], 0, tag)
    redis.call('ZADD', KEYS[5], 0, d .. '\0' .. tag)
  end
end
return 1
`)

// getByTagScript: KEYS tags, manifests; ARGV tag. Returns the record or
// nil.
var getByTagScript = redis.NewScript(`
local d = redis.call('HGET', KEYS[1], ARGV[1])
if not d then return false end
return redis.call('HGET', KEYS[2], d)
`)

// deleteManifestScript: KEYS manifests, tags, tagz, digesttags, usage
// [, referrers of the subject]; ARGV digest, body length. Returns 0 when
// absent.
var deleteManifestScript = redis.NewScript(`
local d = ARGV[1]
if redis.call('HDEL', KEYS[1], d) == 0 then return 0 end
redis.call('DECRBY', KEYS[5], ARGV[2])
local members = redis.call('ZRANGEBYLEX', KEYS[4], '[' .. d .. '\0', '(' .. d .. '\1')
for _, m in ipairs(members) do
  local tag = string.sub(m, #d + 2)
  redis.call('HDEL', KEYS[2], tag)
  redis.call('ZREM', KEYS[3], tag)
  redis.call('ZREM', KEYS[4], m)
end
if KEYS[6] then redis.call('HDEL', KEYS[6], d) end
return 1
`)

// deleteTagScript: KEYS tags, tagz, digesttags; ARGV tag. Returns 0 when
// absent.
var deleteTagScript = redis.NewScript(`
local d = redis.call('HGET', KEYS[1], ARGV[1])
if not d then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], d .. '\0' .. ARGV[1])
return 1
`)

// tagsScript: KEYS created, tagz; ARGV min, count (-1: all). Returns nil
// when the repository was never created.
var tagsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[2] == '-1' then
  return redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+')
end
return redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
`)

// createUploadScript: KEYS session; ARGV id, repo, offset, state, started,
// updated. Returns {1} when created, {0, updated} when the ID is taken.
var createUploadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'updated')}
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'repo', ARGV[2], 'offset', ARGV[3],
  'state', ARGV[4], 'started', ARGV[5], 'updated', ARGV[6])
return {1}
`)

// uploadFields is the field order of the session arrays the scripts
// return.
var uploadFields = []string{"id", "repo", "offset", "state", "started", "updated", "epoch"}

// acquireUploadScript: KEYS session; ARGV offset ("" for any), token, ttl
// in ms. Returns {status, id, repo, offset, state, started, updated} with
// status "ok", "leased" or "offset", or {"notfound"}.
var acquireUploadScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'id', 'repo', 'offset', 'state', 'started', 'updated', 'epoch', 'lease', 'leaseexp')
if not f[1] then return {'notfound'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local status = 'ok'
local epoch = f[7] or '0'
if f[8] and f[8] ~= ARGV[2] and tonumber(f[9]) > now then
  status = 'leased'
elseif ARGV[1] ~= '' and ARGV[1] ~= f[3] then
  status = 'offset'
else
  if f[8] and f[8] ~= ARGV[2] then
    epoch = tostring(redis.call('HINCRBY', KEYS[1], 'epoch', 1))
  end
  redis.call('HSET', KEYS[1], 'lease', ARGV[2], 'leaseexp', string.format('%d', now + tonumber(ARGV[3])))
end
return {status, f[1], f[2], f[3], f[4], f[5], f[6], epoch}
`)

// releaseUploadScript: KEYS session; ARGV token, offset, state, updated.
// Returns {"ok", old updated}, {"conflict"} or {"notfound"}.
var releaseUploadScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'id', 'lease', 'updated')
if not f[1] then return {'notfound'} end
if f[2] ~= ARGV[1] then return {'conflict'} end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'state', ARGV[3], 'updated', ARGV[4])
redis.call('HDEL', KEYS[1], 'lease', 'leaseexp')
return {'ok', f[3]}
`)

// deleteUploadScript: KEYS session, package upload record (same hash tag
// {id}; the record goes whether or not the session exists). Returns the
// deleted session's updated field, or nil when absent.
var deleteUploadScript = redis.NewScript(`
redis.call('DEL', KEYS[2])
local u = redis.call('HGET', KEYS[1], 'updated')
if not u then return false end
redis.call('DEL', KEYS[1])
return u
`)

// deleteRepositoryScript: KEYS created, manifests, tags, tagz,
// digesttags, blobs, usage, referrers of each subject...; ARGV the number
// of manifests read, then their digests. Returns -1 (changing nothing)
// when the manifests are not exactly those, else the number of the keys
// created, manifests and blobs that existed; every key goes.
var deleteRepositoryScript = redis.NewScript(`
if redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then return -1 end
end
local had = redis.call('EXISTS', KEYS[1]) + redis.call('EXISTS', KEYS[2]) + redis.call('EXISTS', KEYS[6])
for _, k in ipairs(KEYS) do redis.call('DEL', k) end
return had
`)
