package metadata

import (
	"context"
	"fmt"
	"time"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Identity tables, all in the shard "identity" so that every method is
// one transaction (identity writes are rare; uniqueness spans accounts).
var (
	tAccount  = driver.Table{Name: "account", Ordered: true}  // NameKey → Account
	tMember   = driver.Table{Name: "member", Ordered: true}   // org key NUL user key → Member
	tMemberOf = driver.Table{Name: "memberof", Ordered: true} // user key NUL org key → ""
	tTokenID  = driver.Table{Name: "tokenid", Ordered: true}  // idKey → hash
	tTokenOwn = driver.Table{Name: "tokenown", Ordered: true} // owner key NUL kind NUL idKey → hash
	tToken    = driver.Table{Name: "token"}                   // hash → Token
	tSeq      = driver.Table{Name: "seq"}                     // "" → last ID
)

// idKey encodes an ID so that keys sort like the IDs.
func idKey(id int64) string { return fmt.Sprintf("%016x", id) }

// nextID returns the next ID of the sequence in tx's shard.
func nextID(tx driver.Tx, n int64) (int64, error) {
	seq, _, err := get[int64](tx, tSeq, "")
	if err != nil {
		return 0, err
	}
	return seq + 1, put(tx, tSeq, "", seq+n)
}

// identityVersionKey is the key in tSeq of the identity version: a
// counter that every identity write but TouchToken increments in its own
// transaction, so that a cache of decisions made from identity records is
// valid exactly while the version is unchanged (IdentityVersion).
const identityVersionKey = "version"

// identity runs fn as an identity write: fn's writes and the increment of
// the identity version commit together.
func (db *DB) identity(ctx context.Context, fn func(tx driver.Tx) error) error {
	return db.update(ctx, shardIdentity, func(tx driver.Tx) error {
		if err := db.ensureVisible(tx); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		v, _, err := get[int64](tx, tSeq, identityVersionKey)
		if err != nil {
			return err
		}
		return put(tx, tSeq, identityVersionKey, v+1)
	})
}

// IdentityVersion implements IdentityVersioner with one Get.
func (db *DB) IdentityVersion(ctx context.Context) (int64, error) {
	v, _, err := getRec[int64](ctx, db, shardIdentity, tSeq, identityVersionKey)
	return v, err
}

// CreateAccount implements Identity.
func (db *DB) CreateAccount(ctx context.Context, a Account) (Account, error) {
	err := db.identity(ctx, func(tx driver.Tx) error {
		k := NameKey(a.Name)
		if _, ok, err := tx.Get(tAccount, k); err != nil || ok {
			if ok {
				return errorf(ErrExists, "create account %s", a.Name)
			}
			return err
		}
		id, err := nextID(tx, 1)
		if err != nil {
			return err
		}
		a.ID = id
		if a.Created = utc(a.Created); a.Created.IsZero() {
			a.Created = utc(tx.Now())
		}
		if err := db.indexAccount(tx, nil, &a); err != nil {
			return err
		}
		return put(tx, tAccount, k, a)
	})
	if err != nil {
		return Account{}, err
	}
	return a, nil
}

// GetAccount implements Identity with one Get.
func (db *DB) GetAccount(ctx context.Context, name string) (Account, error) {
	a, ok, err := getRec[Account](ctx, db, shardIdentity, tAccount, NameKey(name))
	if err == nil && !ok {
		err = notFound("account %s", name)
	}
	return a, err
}

// UpdateAccount implements Identity.
func (db *DB) UpdateAccount(ctx context.Context, a Account) error {
	return db.identity(ctx, func(tx driver.Tx) error {
		k := NameKey(a.Name)
		old, ok, err := get[Account](tx, tAccount, k)
		if err != nil {
			return err
		} else if !ok {
			return notFound("update account %s", a.Name)
		}
		a.ID, a.Name, a.Type, a.Created = old.ID, old.Name, old.Type, old.Created
		if err := db.indexAccount(tx, &old, &a); err != nil {
			return err
		}
		return put(tx, tAccount, k, a)
	})
}

// deleteAll deletes the keys of t with prefix.
func deleteAll(tx driver.Tx, t driver.Table, prefix string) ([]driver.KV, error) {
	kvs, err := rangeAll(tx, t, prefix)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		if err := tx.Delete(t, kv.Key); err != nil {
			return nil, err
		}
	}
	return kvs, nil
}

// DeleteAccount implements Identity: the account, its memberships as a
// user and as an organization, and its tokens, in one transaction.
func (db *DB) DeleteAccount(ctx context.Context, name string) error {
	return db.identity(ctx, func(tx driver.Tx) error {
		k := NameKey(name)
		old, ok, err := get[Account](tx, tAccount, k)
		if err != nil || !ok {
			if err == nil {
				err = notFound("delete account %s", name)
			}
			return err
		}
		if err := db.indexAccount(tx, &old, nil); err != nil {
			return err
		}
		if err := tx.Delete(tAccount, k); err != nil {
			return err
		}
		members, err := deleteAll(tx, tMember, k+"\x00")
		if err != nil {
			return err
		}
		for _, kv := range members {
			if err := tx.Delete(tMemberOf, kv.Key[len(k)+1:]+"\x00"+k); err != nil {
				return err
			}
		}
		orgs, err := deleteAll(tx, tMemberOf, k+"\x00")
		if err != nil {
			return err
		}
		for _, kv := range orgs {
			if err := tx.Delete(tMember, kv.Key[len(k)+1:]+"\x00"+k); err != nil {
				return err
			}
		}
		toks, err := deleteAll(tx, tTokenOwn, k+"\x00")
		if err != nil {
			return err
		}
		for _, kv := range toks {
			if err := deleteToken(tx, string(kv.Value)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Accounts implements Identity with one Range.
func (db *DB) Accounts(ctx context.Context, last string, n int) ([]Account, bool, error) {
	after := ""
	if last != "" {
		after = NameKey(last)
	}
	kvs, more, err := db.d.Range(ctx, shardIdentity, tAccount, "", after, n)
	if err != nil {
		return nil, false, mapErr(err)
	}
	out := make([]Account, len(kvs))
	for i, kv := range kvs {
		if err := decode(kv.Value, &out[i]); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

// SetMember implements Identity.
func (db *DB) SetMember(ctx context.Context, org, user string, role Role) error {
	return db.identity(ctx, func(tx driver.Tx) error {
		ok, uk := NameKey(org), NameKey(user)
		o, found, err := get[Account](tx, tAccount, ok)
		if err != nil {
			return err
		} else if !found || o.Type != AccountOrganization {
			return notFound("organization %s", org)
		}
		u, found, err := get[Account](tx, tAccount, uk)
		if err != nil {
			return err
		} else if !found || u.Type != AccountUser {
			return notFound("user %s", user)
		}
		if err := tx.Put(tMemberOf, uk+"\x00"+ok, nil); err != nil {
			return err
		}
		return put(tx, tMember, ok+"\x00"+uk, Member{Org: o.Name, User: u.Name, Role: role})
	})
}

// GetMember implements Identity with one Get.
func (db *DB) GetMember(ctx context.Context, org, user string) (Member, error) {
	m, ok, err := getRec[Member](ctx, db, shardIdentity, tMember, NameKey(org)+"\x00"+NameKey(user))
	if err == nil && !ok {
		err = notFound("member %s of %s", user, org)
	}
	return m, err
}

// DeleteMember implements Identity.
func (db *DB) DeleteMember(ctx context.Context, org, user string) error {
	return db.identity(ctx, func(tx driver.Tx) error {
		ok, uk := NameKey(org), NameKey(user)
		if _, found, err := tx.Get(tMember, ok+"\x00"+uk); err != nil || !found {
			if err == nil {
				err = notFound("member %s of %s", user, org)
			}
			return err
		}
		if err := tx.Delete(tMemberOf, uk+"\x00"+ok); err != nil {
			return err
		}
		return tx.Delete(tMember, ok+"\x00"+uk)
	})
}

// Members implements Identity with one Range.
func (db *DB) Members(ctx context.Context, org string) ([]Member, error) {
	kvs, _, err := db.d.Range(ctx, shardIdentity, tMember, NameKey(org)+"\x00", "", -1)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]Member, len(kvs))
	for i, kv := range kvs {
		if err := decode(kv.Value, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func tokenOwnKey(t Token) string {
	return NameKey(t.Owner) + "\x00" + string(t.Kind) + "\x00" + idKey(t.ID)
}

// ownTokens returns the tokens of kind owned by owner, by ID.
func ownTokens(r driver.Reader, owner string, kind TokenKind) ([]Token, error) {
	kvs, err := rangeAll(r, tTokenOwn, NameKey(owner)+"\x00"+string(kind)+"\x00")
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(kvs))
	for _, kv := range kvs {
		t, ok, err := get[Token](r, tToken, string(kv.Value))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// CreateToken implements Identity.
func (db *DB) CreateToken(ctx context.Context, t Token) (Token, error) {
	err := db.identity(ctx, func(tx driver.Tx) error {
		owner, ok, err := get[Account](tx, tAccount, NameKey(t.Owner))
		if err != nil {
			return err
		} else if !ok || (t.Kind == TokenPersonal && owner.Type != AccountUser) {
			return notFound("create token: owner %s", t.Owner)
		}
		if _, ok, err := tx.Get(tToken, t.Hash); err != nil || ok {
			if ok {
				return errorf(ErrExists, "create token: hash")
			}
			return err
		}
		same, err := ownTokens(tx, t.Owner, t.Kind)
		if err != nil {
			return err
		}
		for _, o := range same {
			if NameKey(o.Name) == NameKey(t.Name) {
				return errorf(ErrExists, "create token %q of %s", t.Name, t.Owner)
			}
		}
		if t.ID, err = nextID(tx, 1); err != nil {
			return err
		}
		t.Owner = owner.Name
		if t.Created = utc(t.Created); t.Created.IsZero() {
			t.Created = utc(tx.Now())
		}
		t.Expires, t.LastUsed = utc(t.Expires), utc(t.LastUsed)
		if err := tx.Put(tTokenID, idKey(t.ID), []byte(t.Hash)); err != nil {
			return err
		}
		if err := tx.Put(tTokenOwn, tokenOwnKey(t), []byte(t.Hash)); err != nil {
			return err
		}
		return put(tx, tToken, t.Hash, t)
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// TokenByHash implements Identity with one Get.
func (db *DB) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, ok, err := getRec[Token](ctx, db, shardIdentity, tToken, hash)
	if err == nil && !ok {
		err = notFound("token by hash")
	}
	return t, err
}

// TokenByID implements Identity with one Follow.
func (db *DB) TokenByID(ctx context.Context, id int64) (Token, error) {
	b, ok, err := db.d.Follow(ctx, shardIdentity, tTokenID, idKey(id), tToken)
	if err != nil {
		return Token{}, mapErr(err)
	}
	if !ok {
		return Token{}, notFound("token %d", id)
	}
	var t Token
	return t, decode(b, &t)
}

// Tokens implements Identity.
func (db *DB) Tokens(ctx context.Context, owner string, kind TokenKind) ([]Token, error) {
	var out []Token
	err := db.view(ctx, shardIdentity, func(r driver.Reader) (err error) {
		out, err = ownTokens(r, owner, kind)
		return err
	})
	return out, err
}

// deleteToken removes the token of hash and its index entries.
func deleteToken(tx driver.Tx, hash string) error {
	t, ok, err := get[Token](tx, tToken, hash)
	if err != nil || !ok {
		return err
	}
	for _, del := range []struct {
		t driver.Table
		k string
	}{{tToken, hash}, {tTokenID, idKey(t.ID)}, {tTokenOwn, tokenOwnKey(t)}} {
		if err := tx.Delete(del.t, del.k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteToken implements Identity.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	return db.identity(ctx, func(tx driver.Tx) error {
		hash, ok, err := tx.Get(tTokenID, idKey(id))
		if err != nil || !ok {
			if err == nil {
				err = notFound("delete token %d", id)
			}
			return err
		}
		return deleteToken(tx, string(hash))
	})
}

// TouchToken implements Identity.
// It does not change the identity version: the time of last use decides
// nothing.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return db.update(ctx, shardIdentity, func(tx driver.Tx) error {
		hash, ok, err := tx.Get(tTokenID, idKey(id))
		if err != nil || !ok {
			if err == nil {
				err = notFound("touch token %d", id)
			}
			return err
		}
		t, ok, err := get[Token](tx, tToken, string(hash))
		if err != nil || !ok {
			if err == nil {
				err = notFound("touch token %d", id)
			}
			return err
		}
		if at = utc(at); !at.After(t.LastUsed) {
			return nil
		}
		t.LastUsed = at
		return put(tx, tToken, t.Hash, t)
	})
}
