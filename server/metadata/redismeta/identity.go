package redismeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

// Identity keys. Every key of the identity data shares the hash tag
// {P identity}, so each update is one atomic script or transaction even
// on a cluster (identity data is small):
//
//	{Pidentity}:seq                    counter for account and token IDs
//	{Pidentity}:accounts               hash   NameKey → account (JSON)
//	{Pidentity}:accountz               zset   NameKeys, score 0, for paging
//	{Pidentity}:members:<org>          hash   user key → member (JSON)
//	{Pidentity}:memberof:<user>        set    org keys the user belongs to
//	{Pidentity}:tokens                 hash   ID → token (JSON)
//	{Pidentity}:tokenhash              hash   hash → ID
//	{Pidentity}:tokennames             hash   kind NUL owner key NUL name key → ID
//	{Pidentity}:ownertokens:<o>:<kind> zset   IDs, score ID
//
// Rate-limit counters are independent keys, Prl:{<key>}, each with the
// TTL of its window (Redis' clock, shared by every replica).
var (
	_ metadata.Identity = (*Store)(nil)
	_ metadata.Counter  = (*Store)(nil)
)

func (s *Store) idKey(suffix string) string { return "{" + s.prefix + "identity}:" + suffix }

func (s *Store) ownerTokensKey(owner string, kind metadata.TokenKind) string {
	return s.idKey("ownertokens:" + metadata.NameKey(owner) + ":" + string(kind))
}

func tokenNameField(kind metadata.TokenKind, owner, name string) string {
	return string(kind) + "\x00" + metadata.NameKey(owner) + "\x00" + metadata.NameKey(name)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

// createAccountScript: KEYS accounts, accountz; ARGV key, record. 0 when
// the name is taken.
var createAccountScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
`)

// updateAccountScript: KEYS accounts; ARGV key, record. 0 when absent.
var updateAccountScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// setMemberScript: KEYS accounts, members:<org>, memberof:<user>; ARGV
// org key, user key, record. 0 when either account is gone.
var setMemberScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`)

// deleteMemberScript: KEYS members:<org>, memberof:<user>; ARGV org key,
// user key. 0 when absent.
var deleteMemberScript = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`)

// createTokenScript: KEYS accounts, tokens, tokenhash, tokennames,
// ownertokens; ARGV owner key, id, record, hash, name field. -1 owner
// gone, -2 hash taken, -3 name taken, 1 done.
var createTokenScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return -2 end
if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 1 then return -3 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[2])
return 1
`)

// tokenByHashScript: KEYS tokenhash, tokens; ARGV hash. The record or nil.
var tokenByHashScript = redis.NewScript(`
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[2], id)
`)

// deleteTokenScript: KEYS tokens, tokenhash, tokennames, ownertokens;
// ARGV id, hash, name field. 0 when absent.
var deleteTokenScript = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
`)

// touchTokenScript: KEYS tokens; ARGV id, old record, new record. Writes
// the new record only if the old one is still there (0 otherwise; -1 when
// the token is gone).
var touchTokenScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// hitScript: KEYS counter; ARGV n, window ms. Returns {count, ms left}.
var hitScript = redis.NewScript(`
local n = tonumber(ARGV[1])
if n == 0 then
  local v = redis.call('GET', KEYS[1])
  if not v then return {0, 0} end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = 0 end
  return {tonumber(v), ttl}
end
local c = redis.call('INCRBY', KEYS[1], n)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {c, ttl}
`)

func (s *Store) nextID(ctx context.Context) (int64, error) {
	return s.c.Incr(ctx, s.idKey("seq")).Result()
}

// CreateAccount implements metadata.Identity.
func (s *Store) CreateAccount(ctx context.Context, a metadata.Account) (metadata.Account, error) {
	id, err := s.nextID(ctx)
	if err != nil {
		return metadata.Account{}, fmt.Errorf("redismeta: create account %s: %w", a.Name, err)
	}
	a.ID = id
	if a.Created.IsZero() {
		a.Created = nowUTC()
	}
	a.Created = utc(a.Created)
	rec, err := json.Marshal(a)
	if err == nil {
		var n int64
		n, err = createAccountScript.Run(ctx, s.c, []string{s.idKey("accounts"), s.idKey("accountz")}, metadata.NameKey(a.Name), rec).Int64()
		if err == nil && n == 0 {
			err = metadata.ErrExists
		}
	}
	if err != nil {
		return metadata.Account{}, fmt.Errorf("redismeta: create account %s: %w", a.Name, err)
	}
	return a, nil
}

func (s *Store) getAccount(ctx context.Context, name string) (metadata.Account, error) {
	var a metadata.Account
	v, err := s.c.HGet(ctx, s.idKey("accounts"), metadata.NameKey(name)).Bytes()
	if err != nil {
		return a, notFound(err)
	}
	if err := json.Unmarshal(v, &a); err != nil {
		return a, fmt.Errorf("decode account: %w", err)
	}
	return a, nil
}

// GetAccount implements metadata.Identity.
func (s *Store) GetAccount(ctx context.Context, name string) (metadata.Account, error) {
	a, err := s.getAccount(ctx, name)
	if err != nil {
		return metadata.Account{}, fmt.Errorf("redismeta: account %s: %w", name, err)
	}
	return a, nil
}

// UpdateAccount implements metadata.Identity.
func (s *Store) UpdateAccount(ctx context.Context, a metadata.Account) error {
	old, err := s.getAccount(ctx, a.Name)
	if err == nil {
		a.ID, a.Name, a.Type, a.Created = old.ID, old.Name, old.Type, old.Created
		var rec []byte
		rec, err = json.Marshal(a)
		if err == nil {
			var n int64
			n, err = updateAccountScript.Run(ctx, s.c, []string{s.idKey("accounts")}, metadata.NameKey(a.Name), rec).Int64()
			if err == nil && n == 0 {
				err = metadata.ErrNotFound
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: update account %s: %w", a.Name, err)
	}
	return nil
}

// errRetry makes DeleteAccount retry after a concurrent change.
var errRetry = errors.New("concurrent change")

// DeleteAccount implements metadata.Identity. It runs as a WATCH/MULTI
// transaction over the account's keys, retried on concurrent changes.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	k := metadata.NameKey(name)
	accounts := s.idKey("accounts")
	members, memberOf := s.idKey("members:"+k), s.idKey("memberof:"+k)
	personal, deploy := s.ownerTokensKey(name, metadata.TokenPersonal), s.ownerTokensKey(name, metadata.TokenDeploy)
	tokens, tokenHash, tokenNames := s.idKey("tokens"), s.idKey("tokenhash"), s.idKey("tokennames")
	txf := func(tx *redis.Tx) error {
		if ok, err := tx.HExists(ctx, accounts, k).Result(); err != nil {
			return err
		} else if !ok {
			return metadata.ErrNotFound
		}
		users, err := tx.HKeys(ctx, members).Result()
		if err != nil {
			return err
		}
		orgs, err := tx.SMembers(ctx, memberOf).Result()
		if err != nil {
			return err
		}
		var toks []metadata.Token
		for _, key := range []string{personal, deploy} {
			ids, err := tx.ZRange(ctx, key, 0, -1).Result()
			if err != nil {
				return err
			}
			for _, id := range ids {
				v, err := tx.HGet(ctx, tokens, id).Bytes()
				if errors.Is(err, redis.Nil) {
					continue
				}
				if err != nil {
					return err
				}
				var t metadata.Token
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("decode token %s: %w", id, err)
				}
				toks = append(toks, t)
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HDel(ctx, accounts, k)
			p.ZRem(ctx, s.idKey("accountz"), k)
			for _, u := range users {
				p.SRem(ctx, s.idKey("memberof:"+u), k)
			}
			for _, o := range orgs {
				p.HDel(ctx, s.idKey("members:"+o), k)
			}
			p.Del(ctx, members, memberOf, personal, deploy)
			for _, t := range toks {
				id := strconv.FormatInt(t.ID, 10)
				p.HDel(ctx, tokens, id)
				p.HDel(ctx, tokenHash, t.Hash)
				p.HDel(ctx, tokenNames, tokenNameField(t.Kind, t.Owner, t.Name))
			}
			return nil
		})
		if errors.Is(err, redis.TxFailedErr) {
			return errRetry
		}
		return err
	}
	var err error
	for range 10 {
		err = s.c.Watch(ctx, txf, accounts, members, memberOf, personal, deploy)
		if !errors.Is(err, errRetry) && !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete account %s: %w", name, err)
	}
	return nil
}

// Accounts implements metadata.Identity.
func (s *Store) Accounts(ctx context.Context, last string, n int) ([]metadata.Account, bool, error) {
	keys, more, err := s.page(ctx, s.idKey("accountz"), metadata.NameKey(last), n)
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: accounts: %w", err)
	}
	out := []metadata.Account{}
	if len(keys) == 0 {
		return out, more, nil
	}
	vals, err := s.c.HMGet(ctx, s.idKey("accounts"), keys...).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redismeta: accounts: %w", err)
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // deleted between the two reads
		}
		var a metadata.Account
		if err := json.Unmarshal([]byte(str), &a); err != nil {
			return nil, false, fmt.Errorf("redismeta: accounts: decode: %w", err)
		}
		out = append(out, a)
	}
	return out, more, nil
}

// SetMember implements metadata.Identity.
func (s *Store) SetMember(ctx context.Context, org, user string, role metadata.Role) error {
	o, err := s.getAccount(ctx, org)
	if err == nil && o.Type != metadata.AccountOrganization {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: set member of %s: organization: %w", org, err)
	}
	u, err := s.getAccount(ctx, user)
	if err == nil && u.Type != metadata.AccountUser {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: set member %s: user: %w", user, err)
	}
	rec, err := json.Marshal(metadata.Member{Org: o.Name, User: u.Name, Role: role})
	if err == nil {
		ok, uk := metadata.NameKey(org), metadata.NameKey(user)
		var n int64
		n, err = setMemberScript.Run(ctx, s.c, []string{s.idKey("accounts"), s.idKey("members:" + ok), s.idKey("memberof:" + uk)}, ok, uk, rec).Int64()
		if err == nil && n == 0 {
			err = metadata.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: set member %s of %s: %w", user, org, err)
	}
	return nil
}

// GetMember implements metadata.Identity.
func (s *Store) GetMember(ctx context.Context, org, user string) (metadata.Member, error) {
	var m metadata.Member
	v, err := s.c.HGet(ctx, s.idKey("members:"+metadata.NameKey(org)), metadata.NameKey(user)).Bytes()
	if err == nil {
		err = json.Unmarshal(v, &m)
	}
	if err != nil {
		return metadata.Member{}, fmt.Errorf("redismeta: member %s of %s: %w", user, org, notFound(err))
	}
	return m, nil
}

// DeleteMember implements metadata.Identity.
func (s *Store) DeleteMember(ctx context.Context, org, user string) error {
	ok, uk := metadata.NameKey(org), metadata.NameKey(user)
	n, err := deleteMemberScript.Run(ctx, s.c, []string{s.idKey("members:" + ok), s.idKey("memberof:" + uk)}, ok, uk).Int64()
	if err == nil && n == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete member %s of %s: %w", user, org, err)
	}
	return nil
}

// Members implements metadata.Identity.
func (s *Store) Members(ctx context.Context, org string) ([]metadata.Member, error) {
	all, err := s.c.HGetAll(ctx, s.idKey("members:"+metadata.NameKey(org))).Result()
	if err != nil {
		return nil, fmt.Errorf("redismeta: members of %s: %w", org, err)
	}
	out := make([]metadata.Member, 0, len(all))
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var m metadata.Member
		if err := json.Unmarshal([]byte(all[k]), &m); err != nil {
			return nil, fmt.Errorf("redismeta: members of %s: decode: %w", org, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// CreateToken implements metadata.Identity.
func (s *Store) CreateToken(ctx context.Context, t metadata.Token) (metadata.Token, error) {
	owner, err := s.getAccount(ctx, t.Owner)
	if err == nil && t.Kind == metadata.TokenPersonal && owner.Type != metadata.AccountUser {
		err = metadata.ErrNotFound
	}
	if err != nil {
		return metadata.Token{}, fmt.Errorf("redismeta: create token: owner %s: %w", t.Owner, err)
	}
	id, err := s.nextID(ctx)
	if err != nil {
		return metadata.Token{}, fmt.Errorf("redismeta: create token: %w", err)
	}
	t.ID, t.Owner = id, owner.Name
	if t.Created.IsZero() {
		t.Created = nowUTC()
	}
	t.Created, t.Expires, t.LastUsed = utc(t.Created), utc(t.Expires), utc(t.LastUsed)
	rec, err := json.Marshal(t)
	if err == nil {
		var n int64
		n, err = createTokenScript.Run(ctx, s.c,
			[]string{s.idKey("accounts"), s.idKey("tokens"), s.idKey("tokenhash"), s.idKey("tokennames"), s.ownerTokensKey(owner.Name, t.Kind)},
			metadata.NameKey(owner.Name), id, rec, t.Hash, tokenNameField(t.Kind, owner.Name, t.Name)).Int64()
		switch {
		case err != nil:
		case n == -1:
			err = fmt.Errorf("owner %s: %w", t.Owner, metadata.ErrNotFound)
		case n == -2:
			err = fmt.Errorf("hash: %w", metadata.ErrExists)
		case n == -3:
			err = fmt.Errorf("name %q: %w", t.Name, metadata.ErrExists)
		}
	}
	if err != nil {
		return metadata.Token{}, fmt.Errorf("redismeta: create token of %s: %w", t.Owner, err)
	}
	return t, nil
}

func decodeToken(v []byte) (metadata.Token, error) {
	var t metadata.Token
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("decode token: %w", err)
	}
	return t, nil
}

// TokenByHash implements metadata.Identity.
func (s *Store) TokenByHash(ctx context.Context, hash string) (metadata.Token, error) {
	v, err := tokenByHashScript.Run(ctx, s.c, []string{s.idKey("tokenhash"), s.idKey("tokens")}, hash).Text()
	var t metadata.Token
	if err == nil {
		t, err = decodeToken([]byte(v))
	}
	if err != nil {
		return metadata.Token{}, fmt.Errorf("redismeta: token by hash: %w", notFound(err))
	}
	return t, nil
}

func (s *Store) tokenRecord(ctx context.Context, id int64) ([]byte, metadata.Token, error) {
	v, err := s.c.HGet(ctx, s.idKey("tokens"), strconv.FormatInt(id, 10)).Bytes()
	if err != nil {
		return nil, metadata.Token{}, notFound(err)
	}
	t, err := decodeToken(v)
	return v, t, err
}

// TokenByID implements metadata.Identity.
func (s *Store) TokenByID(ctx context.Context, id int64) (metadata.Token, error) {
	_, t, err := s.tokenRecord(ctx, id)
	if err != nil {
		return metadata.Token{}, fmt.Errorf("redismeta: token %d: %w", id, err)
	}
	return t, nil
}

// Tokens implements metadata.Identity.
func (s *Store) Tokens(ctx context.Context, owner string, kind metadata.TokenKind) ([]metadata.Token, error) {
	out := []metadata.Token{}
	ids, err := s.c.ZRange(ctx, s.ownerTokensKey(owner, kind), 0, -1).Result()
	if err == nil && len(ids) > 0 {
		var vals []any
		vals, err = s.c.HMGet(ctx, s.idKey("tokens"), ids...).Result()
		for _, v := range vals {
			str, ok := v.(string)
			if !ok || err != nil {
				continue
			}
			var t metadata.Token
			if t, err = decodeToken([]byte(str)); err == nil {
				out = append(out, t)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("redismeta: tokens of %s: %w", owner, err)
	}
	return out, nil
}

// DeleteToken implements metadata.Identity.
func (s *Store) DeleteToken(ctx context.Context, id int64) error {
	_, t, err := s.tokenRecord(ctx, id)
	if err == nil {
		var n int64
		n, err = deleteTokenScript.Run(ctx, s.c,
			[]string{s.idKey("tokens"), s.idKey("tokenhash"), s.idKey("tokennames"), s.ownerTokensKey(t.Owner, t.Kind)},
			id, t.Hash, tokenNameField(t.Kind, t.Owner, t.Name)).Int64()
		if err == nil && n == 0 {
			err = metadata.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete token %d: %w", id, err)
	}
	return nil
}

// TouchToken implements metadata.Identity.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	at = utc(at)
	var err error
	for range 5 {
		var old []byte
		var t metadata.Token
		old, t, err = s.tokenRecord(ctx, id)
		if err != nil || !at.After(t.LastUsed) {
			break
		}
		t.LastUsed = at
		var rec []byte
		if rec, err = json.Marshal(t); err != nil {
			break
		}
		var n int64
		n, err = touchTokenScript.Run(ctx, s.c, []string{s.idKey("tokens")}, id, old, rec).Int64()
		if err != nil || n == 1 {
			break
		}
		if n == -1 {
			err = metadata.ErrNotFound
			break
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: touch token %d: %w", id, err)
	}
	return nil
}

// Hit implements metadata.Counter with one script per call; the window
// is the key's TTL, so every replica sees the same window.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, n int64) (int64, time.Duration, error) {
	ms := window.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	vals, err := hitScript.Run(ctx, s.c, []string{s.prefix + "rl:{" + key + "}"}, n, ms).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("redismeta: rate counter: %w", err)
	}
	if len(vals) != 2 {
		return 0, 0, fmt.Errorf("redismeta: rate counter: unexpected reply %v", vals)
	}
	return vals[0], time.Duration(vals[1]) * time.Millisecond, nil
}
