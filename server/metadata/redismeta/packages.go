package redismeta

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

// Packages keys (metadata.Packages). Every key of one owner O (its
// PackageKey) shares the hash tag {P pkg:O}, so each update is one atomic
// Lua script even on a cluster. PK is "type NUL name key", VK is
// "PK NUL version key":
//
//	{Ppkg:O}:pkgs          hash   PK → package (JSON)
//	{Ppkg:O}:vers          hash   VK → version (JSON, without downloads)
//	{Ppkg:O}:dl            hash   VK → download count
//	{Ppkg:O}:files:VK      hash   file key → file (JSON)
//	{Ppkg:O}:order         zset   VK, score version ID: newest-first listing
//	{Ppkg:O}:porder:PK     zset   VK, score version ID: one package's versions
//	{Ppkg:O}:usage         string sum of the sizes of the owner's files
//	                              (NamespaceUsage adds it; absent when 0)
//
// Global keys:
//
//	Ppkgseq                string counter for package, version and file IDs
//	Ppkgowners             zset   owner keys, score 0 (for PackageBlobs;
//	                              added before an owner's first write)
//	Ppkgupload:{id}        hash   rec (JSON), offset, md5, sha1: the
//	                              package side of a resumable upload
var _ metadata.Packages = (*Store)(nil)

type pkgKeys struct {
	pkgs, vers, dl, order, usage string
}

func (s *Store) pkgTag(owner string) string {
	return "{" + s.prefix + "pkg:" + metadata.PackageKey(owner) + "}:"
}

func (s *Store) pkgKeys(owner string) pkgKeys {
	t := s.pkgTag(owner)
	return pkgKeys{pkgs: t + "pkgs", vers: t + "vers", dl: t + "dl", order: t + "order", usage: t + "usage"}
}

func (s *Store) filesKey(owner, vk string) string  { return s.pkgTag(owner) + "files:" + vk }
func (s *Store) porderKey(owner, pk string) string { return s.pkgTag(owner) + "porder:" + pk }
func (s *Store) pkgUploadKey(id string) string     { return s.prefix + "pkgupload:{" + id + "}" }

func redisPK(ref metadata.PackageRef) string {
	return metadata.PackageKey(ref.Type) + "\x00" + metadata.PackageKey(ref.Name)
}

func redisVK(ref metadata.PackageRef) string {
	return redisPK(ref) + "\x00" + metadata.PackageKey(ref.Version)
}

// pkgVersionRecord is the stored form of a version.
type pkgVersionRecord struct {
	ID      int64  `json:"id"`
	Version string `json:"version"`
	Creator string `json:"creator,omitempty"`
	Created string `json:"created"` // RFC 3339 nano, so Lua never touches numbers
}

func versionOf(raw string, p metadata.Package, downloads int64) (metadata.PackageVersion, error) {
	var r metadata.PackageVersion
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return r, fmt.Errorf("decode version: %w", err)
	}
	r.Package, r.Downloads, r.Created = p, downloads, utc(r.Created)
	return r, nil
}

func decodePackage(raw string) (metadata.Package, error) {
	var p metadata.Package
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return p, fmt.Errorf("decode package: %w", err)
	}
	p.Created = utc(p.Created)
	return p, nil
}

func decodeFiles(raws []any) ([]metadata.PackageFile, error) {
	files := make([]metadata.PackageFile, 0, len(raws))
	for _, r := range raws {
		s, _ := r.(string)
		var f metadata.PackageFile
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			return nil, fmt.Errorf("decode file: %w", err)
		}
		f.Created = utc(f.Created)
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b metadata.PackageFile) int { return cmp.Compare(a.ID, b.ID) })
	return files, nil
}

// putPackageFileScript: KEYS pkgs, vers, files:VK, order, porder:PK,
// usage; ARGV PK, new package, VK, new version, file key, file, semver
// (1/0), version ID, file size. Returns {-1} (file exists), {-2} (SemVer conflict) or
// {1, package, version, download count, files}.
var putPackageFileScript = redis.NewScript(`
local p = redis.call('HGET', KEYS[1], ARGV[1])
local v = redis.call('HGET', KEYS[2], ARGV[3])
if v then
  if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 1 then return {-1} end
elseif p and ARGV[7] == '0' and cjson.decode(p)['semver'] then
  return {-2}
end
if not p then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  p = ARGV[2]
end
if not v then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[3])
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[3])
  v = ARGV[4]
end
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
redis.call('INCRBY', KEYS[6], ARGV[9])
return {1, p, v, redis.call('HVALS', KEYS[3])}
`)

// removeVersionLua removes version VK (ARGV[2]) of package PK (ARGV[1])
// given KEYS pkgs, vers, files:VK, order, dl, porder:PK, usage; sub_usage
// subtracts the sizes of file records (JSON) from the owner's usage.
const removeVersionLua = `
local function sub_usage(files)
  local n = 0
  for _, f in ipairs(files) do n = n + (cjson.decode(f)['size'] or 0) end
  if n ~= 0 and redis.call('DECRBY', KEYS[7], string.format('%d', n)) == 0 then
    redis.call('DEL', KEYS[7])
  end
end
local function remove_version()
  redis.call('DEL', KEYS[3])
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('HDEL', KEYS[5], ARGV[2])
  redis.call('ZREM', KEYS[6], ARGV[2])
  if redis.call('ZCARD', KEYS[6]) == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
`

// deletePackageFileScript: KEYS as removeVersionLua; ARGV PK, VK, file
// key. Returns {0} (absent) or {1, file, version deleted (0/1)}.
var deletePackageFileScript = redis.NewScript(removeVersionLua + `
local f = redis.call('HGET', KEYS[3], ARGV[3])
if not f then return {0} end
redis.call('HDEL', KEYS[3], ARGV[3])
sub_usage({f})
if redis.call('HLEN', KEYS[3]) > 0 then return {1, f, 0} end
remove_version()
return {1, f, 1}
`)

// deletePackageVersionScript: KEYS as removeVersionLua; ARGV PK, VK.
// Returns {0} (absent) or {1, package, version, downloads, files}.
var deletePackageVersionScript = redis.NewScript(removeVersionLua + `
local v = redis.call('HGET', KEYS[2], ARGV[2])
if not v then return {0} end
local p = redis.call('HGET', KEYS[1], ARGV[1])
local dl = redis.call('HGET', KEYS[5], ARGV[2]) or '0'
local files = redis.call('HVALS', KEYS[3])
sub_usage(files)
remove_version()
return {1, p, v, dl, files}
`)

// countDownloadScript: KEYS vers, dl; ARGV VK. 0 when absent.
var countDownloadScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
`)

// casFieldScript: KEYS hash; ARGV field, old, new. -1 absent, 0 changed
// meanwhile, 1 written.
var casFieldScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// updatePkgUploadScript: KEYS upload; ARGV previous offset, offset, md5,
// sha1. -1 absent, 0 offset differs, 1 written.
var updatePkgUploadScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'offset')
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'md5', ARGV[3], 'sha1', ARGV[4])
return 1
`)

// PutPackageFile implements metadata.Packages.
func (s *Store) PutPackageFile(ctx context.Context, ref metadata.PackageRef, f metadata.PackageFile, opts metadata.PutFileOptions) (metadata.PackageVersion, error) {
	v, err := s.putPackageFile(ctx, ref, f, opts)
	if err != nil {
		return metadata.PackageVersion{}, fmt.Errorf("redismeta: put file %s into %s/%s/%s: %w", f.Name, ref.Owner, ref.Name, ref.Version, err)
	}
	return v, nil
}

func (s *Store) putPackageFile(ctx context.Context, ref metadata.PackageRef, f metadata.PackageFile, opts metadata.PutFileOptions) (metadata.PackageVersion, error) {
	if err := s.c.ZAdd(ctx, s.prefix+"pkgowners", redis.Z{Member: metadata.PackageKey(ref.Owner)}).Err(); err != nil {
		return metadata.PackageVersion{}, err
	}
	last, err := s.c.IncrBy(ctx, s.prefix+"pkgseq", 3).Result()
	if err != nil {
		return metadata.PackageVersion{}, err
	}
	now := nowUTC()
	p := metadata.Package{ID: last - 2, Owner: ref.Owner, Type: ref.Type, Name: ref.Name, SemVer: opts.SemVer, Creator: opts.Creator, Created: now}
	vr := pkgVersionRecord{ID: last - 1, Version: ref.Version, Creator: opts.Creator, Created: now.Format("2006-01-02T15:04:05.999999999Z07:00")}
	f.ID = last
	if f.Created.IsZero() {
		f.Created = now
	}
	f.Created = utc(f.Created)
	prec, err1 := json.Marshal(p)
	vrec, err2 := json.Marshal(vr)
	frec, err3 := json.Marshal(f)
	if err := errors.Join(err1, err2, err3); err != nil {
		return metadata.PackageVersion{}, err
	}
	semver := "0"
	if opts.SemVer {
		semver = "1"
	}
	k := s.pkgKeys(ref.Owner)
	pk, vk := redisPK(ref), redisVK(ref)
	res, err := putPackageFileScript.Run(ctx, s.c,
		[]string{k.pkgs, k.vers, s.filesKey(ref.Owner, vk), k.order, s.porderKey(ref.Owner, pk), k.usage},
		pk, prec, vk, vrec, metadata.PackageKey(f.Name), frec, semver, vr.ID, f.Size).Slice()
	if err != nil {
		return metadata.PackageVersion{}, err
	}
	switch code, _ := res[0].(int64); code {
	case -1:
		return metadata.PackageVersion{}, fmt.Errorf("file %s: %w", f.Name, metadata.ErrExists)
	case -2:
		return metadata.PackageVersion{}, fmt.Errorf("version %s of a SemVer package: %w", ref.Version, metadata.ErrConflict)
	}
	gotP, err := decodePackage(res[1].(string))
	if err != nil {
		return metadata.PackageVersion{}, err
	}
	dl, err := s.c.HGet(ctx, k.dl, vk).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return metadata.PackageVersion{}, err
	}
	v, err := versionOf(res[2].(string), gotP, dl)
	if err != nil {
		return metadata.PackageVersion{}, err
	}
	raws, _ := res[3].([]any)
	v.Files, err = decodeFiles(raws)
	return v, err
}

// GetPackage implements metadata.Packages.
func (s *Store) GetPackage(ctx context.Context, ref metadata.PackageRef) (metadata.Package, error) {
	raw, err := s.c.HGet(ctx, s.pkgKeys(ref.Owner).pkgs, redisPK(ref)).Result()
	if err != nil {
		return metadata.Package{}, fmt.Errorf("redismeta: package %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, notFound(err))
	}
	return decodePackage(raw)
}

// GetPackageVersion implements metadata.Packages: one MULTI in the owner's
// slot.
func (s *Store) GetPackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	k := s.pkgKeys(ref.Owner)
	vk := redisVK(ref)
	var pc, vc, dc *redis.StringCmd
	var fc *redis.StringSliceCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		pc = p.HGet(ctx, k.pkgs, redisPK(ref))
		vc = p.HGet(ctx, k.vers, vk)
		dc = p.HGet(ctx, k.dl, vk)
		fc = p.HVals(ctx, s.filesKey(ref.Owner, vk))
		return nil
	})
	wrap := func(err error) error {
		return fmt.Errorf("redismeta: version %s of %s/%s: %w", ref.Version, ref.Owner, ref.Name, err)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return metadata.PackageVersion{}, wrap(err)
	}
	if pc.Err() != nil || vc.Err() != nil {
		return metadata.PackageVersion{}, wrap(metadata.ErrNotFound)
	}
	p, err := decodePackage(pc.Val())
	if err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	dl, _ := strconv.ParseInt(dc.Val(), 10, 64)
	v, err := versionOf(vc.Val(), p, dl)
	if err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	raws := make([]any, len(fc.Val()))
	for i, s := range fc.Val() {
		raws[i] = s
	}
	if v.Files, err = decodeFiles(raws); err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	return v, nil
}

// GetPackageFile implements metadata.Packages: one HGET.
func (s *Store) GetPackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, error) {
	raw, err := s.c.HGet(ctx, s.filesKey(ref.Owner, redisVK(ref)), metadata.PackageKey(filename)).Result()
	if err != nil {
		return metadata.PackageFile{}, fmt.Errorf("redismeta: file %s of %s/%s/%s: %w", filename, ref.Owner, ref.Name, ref.Version, notFound(err))
	}
	files, err := decodeFiles([]any{raw})
	if err != nil {
		return metadata.PackageFile{}, err
	}
	return files[0], nil
}

func (s *Store) removeKeys(ref metadata.PackageRef) []string {
	k := s.pkgKeys(ref.Owner)
	return []string{k.pkgs, k.vers, s.filesKey(ref.Owner, redisVK(ref)), k.order, k.dl, s.porderKey(ref.Owner, redisPK(ref)), k.usage}
}

// DeletePackageFile implements metadata.Packages.
func (s *Store) DeletePackageFile(ctx context.Context, ref metadata.PackageRef, filename string) (metadata.PackageFile, bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("redismeta: delete file %s of %s/%s/%s: %w", filename, ref.Owner, ref.Name, ref.Version, err)
	}
	res, err := deletePackageFileScript.Run(ctx, s.c, s.removeKeys(ref), redisPK(ref), redisVK(ref), metadata.PackageKey(filename)).Slice()
	if err != nil {
		return metadata.PackageFile{}, false, wrap(err)
	}
	if code, _ := res[0].(int64); code == 0 {
		return metadata.PackageFile{}, false, wrap(metadata.ErrNotFound)
	}
	files, err := decodeFiles(res[1:2])
	if err != nil {
		return metadata.PackageFile{}, false, wrap(err)
	}
	gone, _ := res[2].(int64)
	return files[0], gone == 1, nil
}

// DeletePackageVersion implements metadata.Packages.
func (s *Store) DeletePackageVersion(ctx context.Context, ref metadata.PackageRef) (metadata.PackageVersion, error) {
	wrap := func(err error) error {
		return fmt.Errorf("redismeta: delete version %s of %s/%s: %w", ref.Version, ref.Owner, ref.Name, err)
	}
	res, err := deletePackageVersionScript.Run(ctx, s.c, s.removeKeys(ref), redisPK(ref), redisVK(ref)).Slice()
	if err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	if code, _ := res[0].(int64); code == 0 {
		return metadata.PackageVersion{}, wrap(metadata.ErrNotFound)
	}
	p, err := decodePackage(res[1].(string))
	if err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	dl, _ := strconv.ParseInt(fmt.Sprint(res[3]), 10, 64)
	v, err := versionOf(res[2].(string), p, dl)
	if err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	raws, _ := res[4].([]any)
	if v.Files, err = decodeFiles(raws); err != nil {
		return metadata.PackageVersion{}, wrap(err)
	}
	return v, nil
}

// CountPackageDownload implements metadata.Packages.
func (s *Store) CountPackageDownload(ctx context.Context, ref metadata.PackageRef) error {
	k := s.pkgKeys(ref.Owner)
	n, err := countDownloadScript.Run(ctx, s.c, []string{k.vers, k.dl}, redisVK(ref)).Int64()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: count download of %s/%s/%s: %w", ref.Owner, ref.Name, ref.Version, err)
	}
	return nil
}

// fetchVersions reads the versions vks of owner (with packages and
// download counts) in one MULTI, in the order given.
func (s *Store) fetchVersions(ctx context.Context, owner string, vks []string) ([]metadata.PackageVersion, error) {
	out := []metadata.PackageVersion{}
	if len(vks) == 0 {
		return out, nil
	}
	k := s.pkgKeys(owner)
	pks := make([]string, len(vks))
	for i, vk := range vks {
		pks[i] = vk[:strings.LastIndexByte(vk, 0)]
	}
	var vc, dc, pc *redis.SliceCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		vc = p.HMGet(ctx, k.vers, vks...)
		dc = p.HMGet(ctx, k.dl, vks...)
		pc = p.HMGet(ctx, k.pkgs, pks...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range vks {
		vraw, ok1 := vc.Val()[i].(string)
		praw, ok2 := pc.Val()[i].(string)
		if !ok1 || !ok2 {
			continue // deleted between the index read and this one
		}
		p, err := decodePackage(praw)
		if err != nil {
			return nil, err
		}
		var dl int64
		if d, ok := dc.Val()[i].(string); ok {
			dl, _ = strconv.ParseInt(d, 10, 64)
		}
		v, err := versionOf(vraw, p, dl)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// pageRange returns the ZREVRANGE bounds of offset and limit.
func pageRange(offset, limit int) (start, stop int64) {
	start = int64(max(offset, 0))
	if limit < 0 {
		return start, -1
	}
	return start, start + int64(limit) - 1
}

// PackageVersions implements metadata.Packages: O(log N + page).
func (s *Store) PackageVersions(ctx context.Context, ref metadata.PackageRef, offset, limit int) ([]metadata.PackageVersion, int, error) {
	wrap := func(err error) error {
		return fmt.Errorf("redismeta: versions of %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, err)
	}
	key := s.porderKey(ref.Owner, redisPK(ref))
	total, err := s.c.ZCard(ctx, key).Result()
	if err != nil {
		return nil, 0, wrap(err)
	}
	if total == 0 {
		return nil, 0, wrap(metadata.ErrNotFound)
	}
	if limit == 0 {
		return []metadata.PackageVersion{}, int(total), nil
	}
	start, stop := pageRange(offset, limit)
	vks, err := s.c.ZRevRange(ctx, key, start, stop).Result()
	if err != nil {
		return nil, 0, wrap(err)
	}
	vs, err := s.fetchVersions(ctx, ref.Owner, vks)
	if err != nil {
		return nil, 0, wrap(err)
	}
	return vs, int(total), nil
}

// ListPackageVersions implements metadata.Packages. Without a filter it
// pages the owner's index directly; with one it reads the whole index
// (keys only) and filters on the type and name keys.
func (s *Store) ListPackageVersions(ctx context.Context, owner string, filter metadata.PackageFilter, offset, limit int) ([]metadata.PackageVersion, int, error) {
	wrap := func(err error) error { return fmt.Errorf("redismeta: list packages of %s: %w", owner, err) }
	k := s.pkgKeys(owner)
	var (
		vks   []string
		total int
	)
	if filter == (metadata.PackageFilter{}) {
		n, err := s.c.ZCard(ctx, k.order).Result()
		if err != nil {
			return nil, 0, wrap(err)
		}
		total = int(n)
		if limit != 0 {
			start, stop := pageRange(offset, limit)
			if vks, err = s.c.ZRevRange(ctx, k.order, start, stop).Result(); err != nil {
				return nil, 0, wrap(err)
			}
		}
	} else {
		all, err := s.c.ZRevRange(ctx, k.order, 0, -1).Result()
		if err != nil {
			return nil, 0, wrap(err)
		}
		var kept []string
		for _, vk := range all {
			parts := strings.SplitN(vk, "\x00", 3)
			if len(parts) == 3 && filter.Match(parts[0], parts[1]) {
				kept = append(kept, vk)
			}
		}
		total = len(kept)
		vks = metadata.PageOf(kept, offset, limit)
	}
	vs, err := s.fetchVersions(ctx, owner, vks)
	if err != nil {
		return nil, 0, wrap(err)
	}
	return vs, total, nil
}

// LinkPackage implements metadata.Packages with a compare-and-swap of the
// package record.
func (s *Store) LinkPackage(ctx context.Context, ref metadata.PackageRef, repository string) error {
	k := s.pkgKeys(ref.Owner)
	pk := redisPK(ref)
	for range 20 {
		raw, err := s.c.HGet(ctx, k.pkgs, pk).Result()
		if err != nil {
			return fmt.Errorf("redismeta: link %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, notFound(err))
		}
		p, err := decodePackage(raw)
		if err != nil {
			return err
		}
		p.Repository = repository
		rec, err := json.Marshal(p)
		if err != nil {
			return err
		}
		n, err := casFieldScript.Run(ctx, s.c, []string{k.pkgs}, pk, raw, rec).Int64()
		switch {
		case err != nil:
			return fmt.Errorf("redismeta: link %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, err)
		case n == -1:
			return fmt.Errorf("redismeta: link %s/%s/%s: %w", ref.Owner, ref.Type, ref.Name, metadata.ErrNotFound)
		case n == 1:
			return nil
		}
	}
	return fmt.Errorf("redismeta: link %s/%s/%s: too much contention: %w", ref.Owner, ref.Type, ref.Name, metadata.ErrConflict)
}

// PackageBlobs implements metadata.Packages: one owner per page; the
// cursor is the owner key of the next page.
func (s *Store) PackageBlobs(ctx context.Context, cursor string) ([]digest.Digest, string, error) {
	wrap := func(err error) error { return fmt.Errorf("redismeta: package blobs: %w", err) }
	min := "-"
	if cursor != "" {
		min = "[" + cursor
	}
	owners, err := s.c.ZRangeByLex(ctx, s.prefix+"pkgowners", &redis.ZRangeBy{Min: min, Max: "+", Count: 2}).Result()
	if err != nil {
		return nil, "", wrap(err)
	}
	out := []digest.Digest{}
	if len(owners) == 0 {
		return out, "", nil
	}
	owner := owners[0]
	vks, err := s.c.ZRange(ctx, s.pkgKeys(owner).order, 0, -1).Result()
	if err != nil {
		return nil, "", wrap(err)
	}
	cmds := make([]*redis.StringSliceCmd, len(vks))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, vk := range vks {
			cmds[i] = p.HVals(ctx, s.filesKey(owner, vk))
		}
		return nil
	})
	if err != nil {
		return nil, "", wrap(err)
	}
	for _, c := range cmds {
		for _, raw := range c.Val() {
			var f metadata.PackageFile
			if err := json.Unmarshal([]byte(raw), &f); err != nil {
				return nil, "", wrap(err)
			}
			out = append(out, f.Digest())
		}
	}
	next := ""
	if len(owners) > 1 {
		next = owners[1]
	}
	return out, next, nil
}

// pkgUploadRecord is the static part of a PackageUpload (the offset and
// hash states are fields of their own).
type pkgUploadRecord struct {
	metadata.PackageUpload
	Offset int64  `json:"-"`
	MD5    []byte `json:"-"`
	SHA1   []byte `json:"-"`
}

// CreatePackageUpload implements metadata.Packages.
func (s *Store) CreatePackageUpload(ctx context.Context, u metadata.PackageUpload) error {
	if u.Started.IsZero() {
		u.Started = nowUTC()
	}
	u.Started = utc(u.Started)
	rec, err := json.Marshal(pkgUploadRecord{PackageUpload: u})
	if err != nil {
		return err
	}
	key := s.pkgUploadKey(u.ID)
	ok, err := s.c.HSetNX(ctx, key, "rec", rec).Result()
	if err == nil && !ok {
		err = metadata.ErrExists
	}
	if err == nil {
		err = s.c.HSet(ctx, key, "offset", u.Offset, "md5", u.MD5, "sha1", u.SHA1).Err()
	}
	if err != nil {
		return fmt.Errorf("redismeta: create package upload %s: %w", u.ID, err)
	}
	return nil
}

// GetPackageUpload implements metadata.Packages.
func (s *Store) GetPackageUpload(ctx context.Context, id string) (metadata.PackageUpload, error) {
	m, err := s.c.HGetAll(ctx, s.pkgUploadKey(id)).Result()
	if err == nil && m["rec"] == "" {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return metadata.PackageUpload{}, fmt.Errorf("redismeta: package upload %s: %w", id, err)
	}
	var u metadata.PackageUpload
	if err := json.Unmarshal([]byte(m["rec"]), &u); err != nil {
		return u, fmt.Errorf("redismeta: decode package upload %s: %w", id, err)
	}
	u.Offset, _ = strconv.ParseInt(m["offset"], 10, 64)
	u.MD5, u.SHA1 = []byte(m["md5"]), []byte(m["sha1"])
	u.Started = utc(u.Started)
	return u, nil
}

// UpdatePackageUpload implements metadata.Packages.
func (s *Store) UpdatePackageUpload(ctx context.Context, u metadata.PackageUpload, prevOffset int64) error {
	n, err := updatePkgUploadScript.Run(ctx, s.c, []string{s.pkgUploadKey(u.ID)}, prevOffset, u.Offset, u.MD5, u.SHA1).Int64()
	switch {
	case err != nil:
	case n == -1:
		err = metadata.ErrNotFound
	case n == 0:
		err = metadata.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("redismeta: update package upload %s: %w", u.ID, err)
	}
	return nil
}

// DeletePackageUpload implements metadata.Packages.
func (s *Store) DeletePackageUpload(ctx context.Context, id string) error {
	n, err := s.c.Del(ctx, s.pkgUploadKey(id)).Result()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete package upload %s: %w", id, err)
	}
	return nil
}
