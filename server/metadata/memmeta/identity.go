package memmeta

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"
	"weak"

	"github.com/regkit/regkit/server/metadata"
)

var _ metadata.Identity = (*Store)(nil)

// identity is the identity part of a Store. It lives beside the Store (in
// identities, keyed by a weak pointer and dropped when the Store is
// collected) so that the Identity implementation stays in this file.
type identity struct {
	mu       sync.Mutex
	seq      int64
	accounts map[string]metadata.Account           // NameKey → account
	members  map[string]map[string]metadata.Member // org key → user key → member
	tokens   map[int64]metadata.Token
	byHash   map[string]int64
}

var identities sync.Map // weak.Pointer[Store] → *identity

func (s *Store) ident() *identity {
	key := weak.Make(s)
	if v, ok := identities.Load(key); ok {
		return v.(*identity)
	}
	v, loaded := identities.LoadOrStore(key, &identity{
		accounts: map[string]metadata.Account{},
		members:  map[string]map[string]metadata.Member{},
		tokens:   map[int64]metadata.Token{},
		byHash:   map[string]int64{},
	})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { identities.Delete(k) }, key)
	}
	return v.(*identity)
}

func cloneToken(t metadata.Token) metadata.Token {
	t.Scopes = slices.Clone(t.Scopes)
	t.PackageTypes = slices.Clone(t.PackageTypes)
	return t
}

// CreateAccount implements metadata.Identity.
func (s *Store) CreateAccount(ctx context.Context, a metadata.Account) (metadata.Account, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Account{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	k := metadata.NameKey(a.Name)
	if _, ok := id.accounts[k]; ok {
		return metadata.Account{}, fmt.Errorf("memmeta: create account %s: %w", a.Name, metadata.ErrExists)
	}
	id.seq++
	a.ID = id.seq
	if a.Created.IsZero() {
		a.Created = s.nowTime()
	}
	a.Created = normTime(a.Created)
	id.accounts[k] = a
	return a, nil
}

// GetAccount implements metadata.Identity.
func (s *Store) GetAccount(ctx context.Context, name string) (metadata.Account, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Account{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	a, ok := id.accounts[metadata.NameKey(name)]
	if !ok {
		return metadata.Account{}, fmt.Errorf("memmeta: account %s: %w", name, metadata.ErrNotFound)
	}
	return a, nil
}

// UpdateAccount implements metadata.Identity.
func (s *Store) UpdateAccount(ctx context.Context, a metadata.Account) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	k := metadata.NameKey(a.Name)
	old, ok := id.accounts[k]
	if !ok {
		return fmt.Errorf("memmeta: update account %s: %w", a.Name, metadata.ErrNotFound)
	}
	a.ID, a.Name, a.Type, a.Created = old.ID, old.Name, old.Type, old.Created
	id.accounts[k] = a
	return nil
}

// DeleteAccount implements metadata.Identity.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	k := metadata.NameKey(name)
	if _, ok := id.accounts[k]; !ok {
		return fmt.Errorf("memmeta: delete account %s: %w", name, metadata.ErrNotFound)
	}
	delete(id.accounts, k)
	delete(id.members, k)
	for _, users := range id.members {
		delete(users, k)
	}
	for tid, t := range id.tokens {
		if metadata.NameKey(t.Owner) == k {
			delete(id.byHash, t.Hash)
			delete(id.tokens, tid)
		}
	}
	return nil
}

// Accounts implements metadata.Identity.
func (s *Store) Accounts(ctx context.Context, last string, n int) ([]metadata.Account, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	keys := make([]string, 0, len(id.accounts))
	lk := metadata.NameKey(last)
	for k := range id.accounts {
		if last == "" || k > lk {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := []metadata.Account{}
	for _, k := range keys {
		if n >= 0 && len(out) == n {
			return out, true, nil
		}
		out = append(out, id.accounts[k])
	}
	return out, false, nil
}

// SetMember implements metadata.Identity.
func (s *Store) SetMember(ctx context.Context, org, user string, role metadata.Role) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	o, ok := id.accounts[metadata.NameKey(org)]
	if !ok || o.Type != metadata.AccountOrganization {
		return fmt.Errorf("memmeta: organization %s: %w", org, metadata.ErrNotFound)
	}
	u, ok := id.accounts[metadata.NameKey(user)]
	if !ok || u.Type != metadata.AccountUser {
		return fmt.Errorf("memmeta: user %s: %w", user, metadata.ErrNotFound)
	}
	orgKey := metadata.NameKey(org)
	if id.members[orgKey] == nil {
		id.members[orgKey] = map[string]metadata.Member{}
	}
	id.members[orgKey][metadata.NameKey(user)] = metadata.Member{Org: o.Name, User: u.Name, Role: role}
	return nil
}

// GetMember implements metadata.Identity.
func (s *Store) GetMember(ctx context.Context, org, user string) (metadata.Member, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Member{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	m, ok := id.members[metadata.NameKey(org)][metadata.NameKey(user)]
	if !ok {
		return metadata.Member{}, fmt.Errorf("memmeta: member %s of %s: %w", user, org, metadata.ErrNotFound)
	}
	return m, nil
}

// DeleteMember implements metadata.Identity.
func (s *Store) DeleteMember(ctx context.Context, org, user string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	users := id.members[metadata.NameKey(org)]
	if _, ok := users[metadata.NameKey(user)]; !ok {
		return fmt.Errorf("memmeta: member %s of %s: %w", user, org, metadata.ErrNotFound)
	}
	delete(users, metadata.NameKey(user))
	return nil
}

// Members implements metadata.Identity.
func (s *Store) Members(ctx context.Context, org string) ([]metadata.Member, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	users := id.members[metadata.NameKey(org)]
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]metadata.Member, 0, len(keys))
	for _, k := range keys {
		out = append(out, users[k])
	}
	return out, nil
}

// CreateToken implements metadata.Identity.
func (s *Store) CreateToken(ctx context.Context, t metadata.Token) (metadata.Token, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Token{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	owner, ok := id.accounts[metadata.NameKey(t.Owner)]
	if !ok || (t.Kind == metadata.TokenPersonal && owner.Type != metadata.AccountUser) {
		return metadata.Token{}, fmt.Errorf("memmeta: create token: owner %s: %w", t.Owner, metadata.ErrNotFound)
	}
	if _, ok := id.byHash[t.Hash]; ok {
		return metadata.Token{}, fmt.Errorf("memmeta: create token: hash: %w", metadata.ErrExists)
	}
	for _, o := range id.tokens {
		if o.Kind == t.Kind && metadata.NameKey(o.Owner) == metadata.NameKey(t.Owner) && metadata.NameKey(o.Name) == metadata.NameKey(t.Name) {
			return metadata.Token{}, fmt.Errorf("memmeta: create token %q of %s: %w", t.Name, t.Owner, metadata.ErrExists)
		}
	}
	id.seq++
	t.ID = id.seq
	t.Owner = owner.Name
	if t.Created.IsZero() {
		t.Created = s.nowTime()
	}
	t.Created, t.Expires, t.LastUsed = normTime(t.Created), normTime(t.Expires), normTime(t.LastUsed)
	t = cloneToken(t)
	id.tokens[t.ID] = t
	id.byHash[t.Hash] = t.ID
	return cloneToken(t), nil
}

// TokenByHash implements metadata.Identity.
func (s *Store) TokenByHash(ctx context.Context, hash string) (metadata.Token, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Token{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	tid, ok := id.byHash[hash]
	if !ok {
		return metadata.Token{}, fmt.Errorf("memmeta: token by hash: %w", metadata.ErrNotFound)
	}
	return cloneToken(id.tokens[tid]), nil
}

// TokenByID implements metadata.Identity.
func (s *Store) TokenByID(ctx context.Context, tid int64) (metadata.Token, error) {
	if err := ctx.Err(); err != nil {
		return metadata.Token{}, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	t, ok := id.tokens[tid]
	if !ok {
		return metadata.Token{}, fmt.Errorf("memmeta: token %d: %w", tid, metadata.ErrNotFound)
	}
	return cloneToken(t), nil
}

// Tokens implements metadata.Identity.
func (s *Store) Tokens(ctx context.Context, owner string, kind metadata.TokenKind) ([]metadata.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	out := []metadata.Token{}
	k := metadata.NameKey(owner)
	for _, t := range id.tokens {
		if t.Kind == kind && metadata.NameKey(t.Owner) == k {
			out = append(out, cloneToken(t))
		}
	}
	slices.SortFunc(out, func(a, b metadata.Token) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteToken implements metadata.Identity.
func (s *Store) DeleteToken(ctx context.Context, tid int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	t, ok := id.tokens[tid]
	if !ok {
		return fmt.Errorf("memmeta: delete token %d: %w", tid, metadata.ErrNotFound)
	}
	delete(id.byHash, t.Hash)
	delete(id.tokens, tid)
	return nil
}

// TouchToken implements metadata.Identity.
func (s *Store) TouchToken(ctx context.Context, tid int64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := s.ident()
	id.mu.Lock()
	defer id.mu.Unlock()
	t, ok := id.tokens[tid]
	if !ok {
		return fmt.Errorf("memmeta: touch token %d: %w", tid, metadata.ErrNotFound)
	}
	if at = normTime(at); at.After(t.LastUsed) {
		t.LastUsed = at
		id.tokens[tid] = t
	}
	return nil
}
