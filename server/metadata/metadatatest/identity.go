package metadatatest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// RunIdentity runs the contract suite of metadata.Identity against the
// stores newStore returns: accounts, memberships and tokens. newStore is
// called once per subtest (subtests run in parallel) and must return an
// empty store sharing no data with the others; it registers its own
// cleanup.
func RunIdentity(t *testing.T, newStore func(t *testing.T) metadata.Identity) {
	open := func(t *testing.T) metadata.Identity {
		t.Helper()
		t.Parallel()
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		return s
	}
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open(t)) })
	t.Run("Members", func(t *testing.T) { testMembers(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("DeleteAccount", func(t *testing.T) { testDeleteAccount(t, open(t)) })
	t.Run("ConcurrentTokens", func(t *testing.T) { testConcurrentTokens(t, open(t)) })
}

// RunCounter runs the contract of metadata.Counter against c.
func RunCounter(t *testing.T, c metadata.Counter) {
	ctx := t.Context()
	key := fmt.Sprintf("contract-%d", time.Now().UnixNano())
	n, left, err := c.Hit(ctx, key, time.Minute, 0)
	noErr(t, err, "peek of a new key")
	if n != 0 || left != 0 {
		t.Fatalf("peek of a new key = %d, %v; want 0, 0", n, left)
	}
	for i := int64(1); i <= 3; i++ {
		n, left, err = c.Hit(ctx, key, time.Minute, 1)
		noErr(t, err, "hit")
		if n != i || left <= 0 || left > time.Minute {
			t.Fatalf("hit %d = %d, %v; want %d, (0, 1m]", i, n, left, i)
		}
	}
	n, _, err = c.Hit(ctx, key, time.Minute, 0)
	noErr(t, err, "peek")
	if n != 3 {
		t.Fatalf("peek = %d, want 3", n)
	}
	short := key + "-short"
	if _, _, err := c.Hit(ctx, short, 50*time.Millisecond, 5); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	n, _, err = c.Hit(ctx, short, 50*time.Millisecond, 1)
	noErr(t, err, "hit after the window")
	if n != 1 {
		t.Fatalf("hit after the window = %d, want 1 (a new window)", n)
	}
	var wg sync.WaitGroup
	par := key + "-par"
	for range 20 {
		wg.Go(func() {
			if _, _, err := c.Hit(ctx, par, time.Minute, 1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, _, _ := c.Hit(ctx, par, time.Minute, 0); n != 20 {
		t.Fatalf("20 concurrent hits counted %d", n)
	}
}

func mustAccount(t *testing.T, s metadata.Identity, a metadata.Account) metadata.Account {
	t.Helper()
	got, err := s.CreateAccount(t.Context(), a)
	noErr(t, err, "CreateAccount "+a.Name)
	return got
}

func testAccounts(t *testing.T, s metadata.Identity) {
	ctx := t.Context()
	alice := mustAccount(t, s, metadata.Account{Name: "Alice", Type: metadata.AccountUser, Visibility: metadata.VisibilityPublic,
		Email: "a@example.com", PasswordHash: "$argon2id$x", SiteAdmin: true, Created: at(1)})
	if alice.ID == 0 || !alice.Created.Equal(at(1)) {
		t.Fatalf("created %+v: want an ID and the given time", alice)
	}
	org := mustAccount(t, s, metadata.Account{Name: "team", Type: metadata.AccountOrganization, Visibility: metadata.VisibilityPrivate})
	if org.ID == alice.ID || org.Created.IsZero() {
		t.Fatalf("second account %+v: want a new ID and a creation time", org)
	}
	_, err := s.CreateAccount(ctx, metadata.Account{Name: "ALICE", Type: metadata.AccountOrganization})
	wantErr(t, err, metadata.ErrExists, "CreateAccount with a name differing in case")

	got, err := s.GetAccount(ctx, "aLiCe")
	noErr(t, err, "GetAccount")
	if got.Name != "Alice" || got.ID != alice.ID || got.PasswordHash != "$argon2id$x" || !got.SiteAdmin ||
		got.Email != "a@example.com" || got.Type != metadata.AccountUser || got.Visibility != metadata.VisibilityPublic || !got.Created.Equal(at(1)) {
		t.Fatalf("GetAccount = %+v, want %+v", got, alice)
	}
	_, err = s.GetAccount(ctx, "nobody")
	wantErr(t, err, metadata.ErrNotFound, "GetAccount of a missing account")

	upd := got
	upd.Name, upd.ID, upd.Type, upd.Created = "alice", 999, metadata.AccountOrganization, at(99)
	upd.Visibility, upd.PasswordHash, upd.SiteAdmin, upd.FullName = metadata.VisibilityPrivate, "$argon2id$y", false, "Alice A."
	noErr(t, s.UpdateAccount(ctx, upd), "UpdateAccount")
	got, err = s.GetAccount(ctx, "alice")
	noErr(t, err, "GetAccount after update")
	if got.Name != "Alice" || got.ID != alice.ID || got.Type != metadata.AccountUser || !got.Created.Equal(at(1)) ||
		got.Visibility != metadata.VisibilityPrivate || got.PasswordHash != "$argon2id$y" || got.SiteAdmin || got.FullName != "Alice A." {
		t.Fatalf("after UpdateAccount: %+v", got)
	}
	wantErr(t, s.UpdateAccount(ctx, metadata.Account{Name: "nobody"}), metadata.ErrNotFound, "UpdateAccount of a missing account")

	mustAccount(t, s, metadata.Account{Name: "bob", Type: metadata.AccountUser})
	mustAccount(t, s, metadata.Account{Name: "carol", Type: metadata.AccountUser})
	names := func(as []metadata.Account) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.Name)
		}
		return out
	}
	all, more, err := s.Accounts(ctx, "", -1)
	noErr(t, err, "Accounts")
	checkStrings(t, "Accounts", names(all), more, []string{"Alice", "bob", "carol", "team"}, false)
	page, more, err := s.Accounts(ctx, "", 2)
	noErr(t, err, "Accounts n=2")
	checkStrings(t, "Accounts n=2", names(page), more, []string{"Alice", "bob"}, true)
	page, more, err = s.Accounts(ctx, "BOB", 5)
	noErr(t, err, "Accounts after BOB")
	checkStrings(t, "Accounts after BOB", names(page), more, []string{"carol", "team"}, false)
}

func testMembers(t *testing.T, s metadata.Identity) {
	ctx := t.Context()
	mustAccount(t, s, metadata.Account{Name: "Org", Type: metadata.AccountOrganization})
	mustAccount(t, s, metadata.Account{Name: "u1", Type: metadata.AccountUser})
	mustAccount(t, s, metadata.Account{Name: "U2", Type: metadata.AccountUser})

	noErr(t, s.SetMember(ctx, "org", "u2", metadata.RoleWrite), "SetMember u2")
	noErr(t, s.SetMember(ctx, "ORG", "u1", metadata.RoleRead), "SetMember u1")
	m, err := s.GetMember(ctx, "org", "U1")
	noErr(t, err, "GetMember")
	if m != (metadata.Member{Org: "Org", User: "u1", Role: metadata.RoleRead}) {
		t.Fatalf("GetMember = %+v", m)
	}
	noErr(t, s.SetMember(ctx, "org", "u1", metadata.RoleAdmin), "SetMember again")
	ms, err := s.Members(ctx, "org")
	noErr(t, err, "Members")
	want := []metadata.Member{{Org: "Org", User: "u1", Role: metadata.RoleAdmin}, {Org: "Org", User: "U2", Role: metadata.RoleWrite}}
	if !slices.Equal(ms, want) {
		t.Fatalf("Members = %+v, want %+v", ms, want)
	}
	wantErr(t, s.SetMember(ctx, "u1", "u2", metadata.RoleRead), metadata.ErrNotFound, "SetMember with a user as the org")
	wantErr(t, s.SetMember(ctx, "org", "org", metadata.RoleRead), metadata.ErrNotFound, "SetMember with an org as the user")
	wantErr(t, s.SetMember(ctx, "nope", "u1", metadata.RoleRead), metadata.ErrNotFound, "SetMember of a missing org")
	wantErr(t, s.SetMember(ctx, "org", "nope", metadata.RoleRead), metadata.ErrNotFound, "SetMember of a missing user")
	_, err = s.GetMember(ctx, "org", "nope")
	wantErr(t, err, metadata.ErrNotFound, "GetMember of a non-member")

	noErr(t, s.DeleteMember(ctx, "org", "u2"), "DeleteMember")
	wantErr(t, s.DeleteMember(ctx, "org", "u2"), metadata.ErrNotFound, "second DeleteMember")
	_, err = s.GetMember(ctx, "org", "u2")
	wantErr(t, err, metadata.ErrNotFound, "GetMember after DeleteMember")
	ms, err = s.Members(ctx, "nope")
	noErr(t, err, "Members of a missing org")
	if ms == nil || len(ms) != 0 {
		t.Fatalf("Members of a missing org = %#v, want empty non-nil", ms)
	}
}

func testTokens(t *testing.T, s metadata.Identity) {
	ctx := t.Context()
	mustAccount(t, s, metadata.Account{Name: "Dev", Type: metadata.AccountUser})
	mustAccount(t, s, metadata.Account{Name: "org", Type: metadata.AccountOrganization})
	tok := metadata.Token{Hash: "h1", Kind: metadata.TokenPersonal, Owner: "dev", Name: "CI", LastEight: "abcdefgh",
		Scopes: []string{"read:packages", "write:packages"}, Created: at(1), Expires: at(3600)}
	t1, err := s.CreateToken(ctx, tok)
	noErr(t, err, "CreateToken")
	if t1.ID == 0 || t1.Owner != "Dev" {
		t.Fatalf("CreateToken = %+v: want an ID and the owner's stored name", t1)
	}
	check := func(what string, got, want metadata.Token) {
		t.Helper()
		if got.ID != want.ID || got.Hash != want.Hash || got.Kind != want.Kind || got.Owner != want.Owner || got.Name != want.Name ||
			got.LastEight != want.LastEight || !slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.PackageTypes, want.PackageTypes) ||
			!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !got.LastUsed.Equal(want.LastUsed) {
			t.Fatalf("%s = %+v, want %+v", what, got, want)
		}
	}
	got, err := s.TokenByHash(ctx, "h1")
	noErr(t, err, "TokenByHash")
	check("TokenByHash", got, t1)
	got, err = s.TokenByID(ctx, t1.ID)
	noErr(t, err, "TokenByID")
	check("TokenByID", got, t1)

	_, err = s.CreateToken(ctx, metadata.Token{Hash: "h1", Kind: metadata.TokenPersonal, Owner: "dev", Name: "other"})
	wantErr(t, err, metadata.ErrExists, "CreateToken with a taken hash")
	_, err = s.CreateToken(ctx, metadata.Token{Hash: "h2", Kind: metadata.TokenPersonal, Owner: "DEV", Name: "ci"})
	wantErr(t, err, metadata.ErrExists, "CreateToken with a taken name")
	_, err = s.CreateToken(ctx, metadata.Token{Hash: "h2", Kind: metadata.TokenPersonal, Owner: "nobody", Name: "x"})
	wantErr(t, err, metadata.ErrNotFound, "CreateToken for a missing owner")
	_, err = s.CreateToken(ctx, metadata.Token{Hash: "h2", Kind: metadata.TokenPersonal, Owner: "org", Name: "x"})
	wantErr(t, err, metadata.ErrNotFound, "personal CreateToken for an organization")

	// The same name is fine for another kind and another owner.
	d1, err := s.CreateToken(ctx, metadata.Token{Hash: "h3", Kind: metadata.TokenDeploy, Owner: "dev", Name: "ci",
		Scopes: []string{"read:packages"}, PackageTypes: []string{"container"}})
	noErr(t, err, "deploy CreateToken with a personal token's name")
	d2, err := s.CreateToken(ctx, metadata.Token{Hash: "h4", Kind: metadata.TokenDeploy, Owner: "org", Name: "ci"})
	noErr(t, err, "deploy CreateToken for an org")
	if d1.ID <= t1.ID || d2.ID <= d1.ID {
		t.Fatalf("token IDs %d, %d, %d are not increasing", t1.ID, d1.ID, d2.ID)
	}
	t2, err := s.CreateToken(ctx, metadata.Token{Hash: "h5", Kind: metadata.TokenPersonal, Owner: "dev", Name: "laptop"})
	noErr(t, err, "second personal token")

	ids := func(ts []metadata.Token) []int64 {
		out := []int64{}
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	list, err := s.Tokens(ctx, "DEV", metadata.TokenPersonal)
	noErr(t, err, "Tokens personal")
	if !slices.Equal(ids(list), []int64{t1.ID, t2.ID}) {
		t.Fatalf("Tokens(dev, personal) = %v", ids(list))
	}
	check("Tokens[0]", list[0], t1)
	list, err = s.Tokens(ctx, "dev", metadata.TokenDeploy)
	noErr(t, err, "Tokens deploy")
	if !slices.Equal(ids(list), []int64{d1.ID}) {
		t.Fatalf("Tokens(dev, deploy) = %v", ids(list))
	}
	check("deploy token", list[0], d1)
	list, err = s.Tokens(ctx, "nobody", metadata.TokenPersonal)
	noErr(t, err, "Tokens of nobody")
	if list == nil || len(list) != 0 {
		t.Fatalf("Tokens of nobody = %#v", list)
	}

	noErr(t, s.TouchToken(ctx, t1.ID, at(10)), "TouchToken")
	noErr(t, s.TouchToken(ctx, t1.ID, at(5)), "TouchToken earlier")
	got, err = s.TokenByHash(ctx, "h1")
	noErr(t, err, "TokenByHash after touch")
	if !got.LastUsed.Equal(at(10)) {
		t.Fatalf("LastUsed = %v, want %v", got.LastUsed, at(10))
	}
	wantErr(t, s.TouchToken(ctx, 987654, at(1)), metadata.ErrNotFound, "TouchToken of a missing token")

	noErr(t, s.DeleteToken(ctx, t1.ID), "DeleteToken")
	wantErr(t, s.DeleteToken(ctx, t1.ID), metadata.ErrNotFound, "second DeleteToken")
	_, err = s.TokenByHash(ctx, "h1")
	wantErr(t, err, metadata.ErrNotFound, "TokenByHash after delete")
	_, err = s.TokenByID(ctx, t1.ID)
	wantErr(t, err, metadata.ErrNotFound, "TokenByID after delete")
	// The name and hash are free again.
	_, err = s.CreateToken(ctx, metadata.Token{Hash: "h1", Kind: metadata.TokenPersonal, Owner: "dev", Name: "ci"})
	noErr(t, err, "CreateToken reusing a deleted token's name and hash")
}

func testDeleteAccount(t *testing.T, s metadata.Identity) {
	ctx := t.Context()
	mustAccount(t, s, metadata.Account{Name: "org", Type: metadata.AccountOrganization})
	mustAccount(t, s, metadata.Account{Name: "org2", Type: metadata.AccountOrganization})
	mustAccount(t, s, metadata.Account{Name: "u", Type: metadata.AccountUser})
	mustAccount(t, s, metadata.Account{Name: "v", Type: metadata.AccountUser})
	noErr(t, s.SetMember(ctx, "org", "u", metadata.RoleRead), "SetMember")
	noErr(t, s.SetMember(ctx, "org", "v", metadata.RoleRead), "SetMember")
	noErr(t, s.SetMember(ctx, "org2", "u", metadata.RoleWrite), "SetMember")
	tu, err := s.CreateToken(ctx, metadata.Token{Hash: "hu", Kind: metadata.TokenPersonal, Owner: "u", Name: "t"})
	noErr(t, err, "CreateToken")
	to, err := s.CreateToken(ctx, metadata.Token{Hash: "ho", Kind: metadata.TokenDeploy, Owner: "org", Name: "t"})
	noErr(t, err, "CreateToken")
	tv, err := s.CreateToken(ctx, metadata.Token{Hash: "hv", Kind: metadata.TokenPersonal, Owner: "v", Name: "t"})
	noErr(t, err, "CreateToken")

	noErr(t, s.DeleteAccount(ctx, "U"), "DeleteAccount user")
	wantErr(t, s.DeleteAccount(ctx, "u"), metadata.ErrNotFound, "second DeleteAccount")
	_, err = s.GetAccount(ctx, "u")
	wantErr(t, err, metadata.ErrNotFound, "GetAccount after delete")
	for _, org := range []string{"org", "org2"} {
		_, err = s.GetMember(ctx, org, "u")
		wantErr(t, err, metadata.ErrNotFound, "membership of a deleted user in "+org)
	}
	_, err = s.TokenByID(ctx, tu.ID)
	wantErr(t, err, metadata.ErrNotFound, "token of a deleted user")
	_, err = s.TokenByHash(ctx, "hu")
	wantErr(t, err, metadata.ErrNotFound, "token of a deleted user by hash")

	noErr(t, s.DeleteAccount(ctx, "org"), "DeleteAccount org")
	ms, err := s.Members(ctx, "org")
	noErr(t, err, "Members of a deleted org")
	if len(ms) != 0 {
		t.Fatalf("Members of a deleted org = %+v", ms)
	}
	_, err = s.TokenByID(ctx, to.ID)
	wantErr(t, err, metadata.ErrNotFound, "deploy token of a deleted org")
	if _, err := s.TokenByID(ctx, tv.ID); err != nil {
		t.Fatalf("another user's token was deleted: %v", err)
	}
	// A new account of the same name starts empty.
	mustAccount(t, s, metadata.Account{Name: "u", Type: metadata.AccountUser})
	list, err := s.Tokens(ctx, "u", metadata.TokenPersonal)
	noErr(t, err, "Tokens of the new u")
	if len(list) != 0 {
		t.Fatalf("the new u inherited tokens %+v", list)
	}
	_, err = s.GetMember(ctx, "org2", "u")
	wantErr(t, err, metadata.ErrNotFound, "the new u inherited a membership")
	all, _, err := s.Accounts(ctx, "", -1)
	noErr(t, err, "Accounts")
	if len(all) != 3 {
		t.Fatalf("Accounts after deletes = %+v", all)
	}
}

func testConcurrentTokens(t *testing.T, s metadata.Identity) {
	ctx := t.Context()
	mustAccount(t, s, metadata.Account{Name: "u", Type: metadata.AccountUser})
	var wg sync.WaitGroup
	var mu sync.Mutex
	okCount := 0
	for i := range 16 {
		wg.Go(func() {
			// Half of them race for the same name.
			name := fmt.Sprintf("t%d", i)
			if i%2 == 0 {
				name = "same"
			}
			_, err := s.CreateToken(context.WithoutCancel(ctx), metadata.Token{Hash: fmt.Sprintf("h%d", i), Kind: metadata.TokenPersonal, Owner: "u", Name: name})
			if err == nil {
				mu.Lock()
				okCount++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if okCount != 9 {
		t.Fatalf("%d of 16 concurrent CreateToken succeeded, want 9 (8 unique names + 1 of the 8 racing for one)", okCount)
	}
	list, err := s.Tokens(ctx, "u", metadata.TokenPersonal)
	noErr(t, err, "Tokens")
	if len(list) != 9 {
		t.Fatalf("Tokens lists %d, want 9", len(list))
	}
}
