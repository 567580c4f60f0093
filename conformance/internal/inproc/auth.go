package inproc

import (
	"context"
	"testing"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// Auth returns an auth service (auth mode "tokens") over meta with one
// public user per entry of users (name → password).
func Auth(t *testing.T, meta metadata.Store, users map[string]string) *auth.Service {
	t.Helper()
	ctx := context.Background()
	ident, ok := meta.(metadata.Identity)
	if !ok {
		t.Fatalf("metadata store %T keeps no accounts", meta)
	}
	kdf := auth.KDF{Time: 1, Memory: 64, Threads: 1}
	a, err := auth.New(auth.Config{Identity: ident, SigningKeys: [][]byte{[]byte("conformance-signing-key-0123456789abcdef")}, KDF: kdf})
	if err != nil {
		t.Fatal(err)
	}
	for u, pw := range users {
		h, err := auth.HashPassword(pw, kdf)
		if err == nil {
			_, err = ident.CreateAccount(ctx, metadata.Account{Name: u, Type: metadata.AccountUser, Visibility: metadata.VisibilityPublic, PasswordHash: h})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}
