package boltmeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata"
)

// Identity layout, in top-level buckets created on first write (a read of
// a missing bucket is a read of an empty one):
//
//	id-accounts      NameKey → account (JSON); the bucket's sequence numbers accounts
//	id-members       org key NUL user key → member (JSON)
//	id-tokens        8-byte big-endian ID → token (JSON); the sequence numbers tokens
//	id-token-hash    hash → 8-byte ID
//	id-token-names   kind NUL owner key NUL name key → 8-byte ID
//	id-owner-tokens  owner key NUL kind NUL 8-byte ID → empty
//
// Identity records are small and rarely written, so they are JSON.
var (
	bucketAccounts    = []byte("id-accounts")
	bucketMembers     = []byte("id-members")
	bucketTokens      = []byte("id-tokens")
	bucketTokenHash   = []byte("id-token-hash")
	bucketTokenNames  = []byte("id-token-names")
	bucketOwnerTokens = []byte("id-owner-tokens")
)

var _ metadata.Identity = (*Store)(nil)

func idKey(id int64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(id))
	return k
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, []byte{0}) }

// identityBuckets creates (in a writable transaction) and returns the
// identity buckets.
func identityBuckets(tx *bolt.Tx) (map[string]*bolt.Bucket, error) {
	m := map[string]*bolt.Bucket{}
	for _, name := range [][]byte{bucketAccounts, bucketMembers, bucketTokens, bucketTokenHash, bucketTokenNames, bucketOwnerTokens} {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return nil, err
		}
		m[string(name)] = b
	}
	return m, nil
}

func getJSON[T any](b *bolt.Bucket, k []byte) (T, bool, error) {
	var v T
	if b == nil {
		return v, false, nil
	}
	raw := b.Get(k)
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("decode %s: %w", k, err)
	}
	return v, true, nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func normToken(t metadata.Token) metadata.Token {
	t.Created, t.Expires, t.LastUsed = utc(t.Created), utc(t.Expires), utc(t.LastUsed)
	return t
}

// CreateAccount implements metadata.Identity.
func (s *Store) CreateAccount(ctx context.Context, a metadata.Account) (metadata.Account, error) {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		accounts := bs[string(bucketAccounts)]
		k := []byte(metadata.NameKey(a.Name))
		if accounts.Get(k) != nil {
			return metadata.ErrExists
		}
		seq, err := accounts.NextSequence()
		if err != nil {
			return err
		}
		a.ID = int64(seq)
		if a.Created.IsZero() {
			a.Created = s.nowTime()
		}
		a.Created = utc(a.Created)
		return putJSON(accounts, k, a)
	})
	if err != nil {
		return metadata.Account{}, fmt.Errorf("boltmeta: create account %s: %w", a.Name, err)
	}
	return a, nil
}

// GetAccount implements metadata.Identity.
func (s *Store) GetAccount(ctx context.Context, name string) (metadata.Account, error) {
	var a metadata.Account
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		a, ok, err = getJSON[metadata.Account](tx.Bucket(bucketAccounts), []byte(metadata.NameKey(name)))
		if err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Account{}, fmt.Errorf("boltmeta: account %s: %w", name, err)
	}
	return a, nil
}

// UpdateAccount implements metadata.Identity.
func (s *Store) UpdateAccount(ctx context.Context, a metadata.Account) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		accounts := bs[string(bucketAccounts)]
		k := []byte(metadata.NameKey(a.Name))
		old, ok, err := getJSON[metadata.Account](accounts, k)
		if err != nil {
			return err
		}
		if !ok {
			return metadata.ErrNotFound
		}
		a.ID, a.Name, a.Type, a.Created = old.ID, old.Name, old.Type, old.Created
		return putJSON(accounts, k, a)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: update account %s: %w", a.Name, err)
	}
	return nil
}

// deleteToken removes a token and its index entries.
func deleteToken(bs map[string]*bolt.Bucket, t metadata.Token) error {
	ok := metadata.NameKey(t.Owner)
	for _, del := range []struct {
		b []byte
		k []byte
	}{
		{bucketTokens, idKey(t.ID)},
		{bucketTokenHash, []byte(t.Hash)},
		{bucketTokenNames, join([]byte(t.Kind), []byte(ok), []byte(metadata.NameKey(t.Name)))},
		{bucketOwnerTokens, join([]byte(ok), []byte(t.Kind), idKey(t.ID))},
	} {
		if err := bs[string(del.b)].Delete(del.k); err != nil {
			return err
		}
	}
	return nil
}

// ownerTokenIDs returns the IDs of owner's tokens of kind.
func ownerTokenIDs(b *bolt.Bucket, owner string, kind metadata.TokenKind) []int64 {
	var ids []int64
	if b == nil {
		return ids
	}
	prefix := append(join([]byte(metadata.NameKey(owner)), []byte(kind)), 0)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		rest := k[len(prefix):]
		if len(rest) == 8 {
			ids = append(ids, int64(binary.BigEndian.Uint64(rest)))
		}
	}
	return ids
}

// DeleteAccount implements metadata.Identity.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		key := metadata.NameKey(name)
		if bs[string(bucketAccounts)].Get([]byte(key)) == nil {
			return metadata.ErrNotFound
		}
		if err := bs[string(bucketAccounts)].Delete([]byte(key)); err != nil {
			return err
		}
		// Memberships as an organization and as a user.
		var dead [][]byte
		members := bs[string(bucketMembers)]
		c := members.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			org, user, _ := bytes.Cut(k, []byte{0})
			if string(org) == key || string(user) == key {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			if err := members.Delete(k); err != nil {
				return err
			}
		}
		for _, kind := range []metadata.TokenKind{metadata.TokenPersonal, metadata.TokenDeploy} {
			for _, id := range ownerTokenIDs(bs[string(bucketOwnerTokens)], name, kind) {
				t, ok, err := getJSON[metadata.Token](bs[string(bucketTokens)], idKey(id))
				if err != nil {
					return err
				}
				if ok {
					if err := deleteToken(bs, t); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete account %s: %w", name, err)
	}
	return nil
}

// Accounts implements metadata.Identity.
func (s *Store) Accounts(ctx context.Context, last string, n int) ([]metadata.Account, bool, error) {
	out := []metadata.Account{}
	var more bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b == nil {
			return nil
		}
		keys, m := page(b, metadata.NameKey(last), n)
		more = m
		for _, k := range keys {
			a, _, err := getJSON[metadata.Account](b, []byte(k))
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("boltmeta: accounts: %w", err)
	}
	return out, more, nil
}

// SetMember implements metadata.Identity.
func (s *Store) SetMember(ctx context.Context, org, user string, role metadata.Role) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		accounts := bs[string(bucketAccounts)]
		o, ok, err := getJSON[metadata.Account](accounts, []byte(metadata.NameKey(org)))
		if err != nil {
			return err
		}
		if !ok || o.Type != metadata.AccountOrganization {
			return fmt.Errorf("organization %s: %w", org, metadata.ErrNotFound)
		}
		u, ok, err := getJSON[metadata.Account](accounts, []byte(metadata.NameKey(user)))
		if err != nil {
			return err
		}
		if !ok || u.Type != metadata.AccountUser {
			return fmt.Errorf("user %s: %w", user, metadata.ErrNotFound)
		}
		k := join([]byte(metadata.NameKey(org)), []byte(metadata.NameKey(user)))
		return putJSON(bs[string(bucketMembers)], k, metadata.Member{Org: o.Name, User: u.Name, Role: role})
	})
	if err != nil {
		return fmt.Errorf("boltmeta: set member %s of %s: %w", user, org, err)
	}
	return nil
}

// GetMember implements metadata.Identity.
func (s *Store) GetMember(ctx context.Context, org, user string) (metadata.Member, error) {
	var m metadata.Member
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		m, ok, err = getJSON[metadata.Member](tx.Bucket(bucketMembers), join([]byte(metadata.NameKey(org)), []byte(metadata.NameKey(user))))
		if err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Member{}, fmt.Errorf("boltmeta: member %s of %s: %w", user, org, err)
	}
	return m, nil
}

// DeleteMember implements metadata.Identity.
func (s *Store) DeleteMember(ctx context.Context, org, user string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		k := join([]byte(metadata.NameKey(org)), []byte(metadata.NameKey(user)))
		if bs[string(bucketMembers)].Get(k) == nil {
			return metadata.ErrNotFound
		}
		return bs[string(bucketMembers)].Delete(k)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete member %s of %s: %w", user, org, err)
	}
	return nil
}

// Members implements metadata.Identity.
func (s *Store) Members(ctx context.Context, org string) ([]metadata.Member, error) {
	out := []metadata.Member{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMembers)
		if b == nil {
			return nil
		}
		prefix := append([]byte(metadata.NameKey(org)), 0)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m metadata.Member
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode member %q: %w", k, err)
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltmeta: members of %s: %w", org, err)
	}
	return out, nil
}

// CreateToken implements metadata.Identity.
func (s *Store) CreateToken(ctx context.Context, t metadata.Token) (metadata.Token, error) {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		owner, ok, err := getJSON[metadata.Account](bs[string(bucketAccounts)], []byte(metadata.NameKey(t.Owner)))
		if err != nil {
			return err
		}
		if !ok || (t.Kind == metadata.TokenPersonal && owner.Type != metadata.AccountUser) {
			return fmt.Errorf("owner %s: %w", t.Owner, metadata.ErrNotFound)
		}
		if bs[string(bucketTokenHash)].Get([]byte(t.Hash)) != nil {
			return fmt.Errorf("hash: %w", metadata.ErrExists)
		}
		nameKey := join([]byte(t.Kind), []byte(metadata.NameKey(owner.Name)), []byte(metadata.NameKey(t.Name)))
		if bs[string(bucketTokenNames)].Get(nameKey) != nil {
			return fmt.Errorf("name %q: %w", t.Name, metadata.ErrExists)
		}
		seq, err := bs[string(bucketTokens)].NextSequence()
		if err != nil {
			return err
		}
		t.ID = int64(seq)
		t.Owner = owner.Name
		if t.Created.IsZero() {
			t.Created = s.nowTime()
		}
		t = normToken(t)
		ik := idKey(t.ID)
		if err := putJSON(bs[string(bucketTokens)], ik, t); err != nil {
			return err
		}
		if err := bs[string(bucketTokenHash)].Put([]byte(t.Hash), ik); err != nil {
			return err
		}
		if err := bs[string(bucketTokenNames)].Put(nameKey, ik); err != nil {
			return err
		}
		return bs[string(bucketOwnerTokens)].Put(join([]byte(metadata.NameKey(owner.Name)), []byte(t.Kind), ik), nil)
	})
	if err != nil {
		return metadata.Token{}, fmt.Errorf("boltmeta: create token of %s: %w", t.Owner, err)
	}
	return t, nil
}

// TokenByHash implements metadata.Identity.
func (s *Store) TokenByHash(ctx context.Context, hash string) (metadata.Token, error) {
	var t metadata.Token
	err := s.view(ctx, func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketTokenHash)
		if hb == nil {
			return metadata.ErrNotFound
		}
		ik := hb.Get([]byte(hash))
		if ik == nil {
			return metadata.ErrNotFound
		}
		var ok bool
		var err error
		t, ok, err = getJSON[metadata.Token](tx.Bucket(bucketTokens), ik)
		if err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Token{}, fmt.Errorf("boltmeta: token by hash: %w", err)
	}
	return t, nil
}

// TokenByID implements metadata.Identity.
func (s *Store) TokenByID(ctx context.Context, id int64) (metadata.Token, error) {
	var t metadata.Token
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		t, ok, err = getJSON[metadata.Token](tx.Bucket(bucketTokens), idKey(id))
		if err == nil && !ok {
			err = metadata.ErrNotFound
		}
		return err
	})
	if err != nil {
		return metadata.Token{}, fmt.Errorf("boltmeta: token %d: %w", id, err)
	}
	return t, nil
}

// Tokens implements metadata.Identity.
func (s *Store) Tokens(ctx context.Context, owner string, kind metadata.TokenKind) ([]metadata.Token, error) {
	out := []metadata.Token{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, id := range ownerTokenIDs(tx.Bucket(bucketOwnerTokens), owner, kind) {
			t, ok, err := getJSON[metadata.Token](tx.Bucket(bucketTokens), idKey(id))
			if err != nil {
				return err
			}
			if ok {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltmeta: tokens of %s: %w", owner, err)
	}
	return out, nil
}

// DeleteToken implements metadata.Identity.
func (s *Store) DeleteToken(ctx context.Context, id int64) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		t, ok, err := getJSON[metadata.Token](bs[string(bucketTokens)], idKey(id))
		if err != nil {
			return err
		}
		if !ok {
			return metadata.ErrNotFound
		}
		return deleteToken(bs, t)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: delete token %d: %w", id, err)
	}
	return nil
}

// TouchToken implements metadata.Identity.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		bs, err := identityBuckets(tx)
		if err != nil {
			return err
		}
		t, ok, err := getJSON[metadata.Token](bs[string(bucketTokens)], idKey(id))
		if err != nil {
			return err
		}
		if !ok {
			return metadata.ErrNotFound
		}
		if at = utc(at); !at.After(t.LastUsed) {
			return nil
		}
		t.LastUsed = at
		return putJSON(bs[string(bucketTokens)], idKey(id), t)
	})
	if err != nil {
		return fmt.Errorf("boltmeta: touch token %d: %w", id, err)
	}
	return nil
}
