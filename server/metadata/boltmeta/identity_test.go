package boltmeta_test

import (
	"path/filepath"
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
)

// TestIdentityReopen shows that identity data survives a restart.
func TestIdentityReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, metadata.Account{Name: "u", Type: metadata.AccountUser}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, metadata.Token{Hash: "h", Kind: metadata.TokenPersonal, Owner: "u", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltmeta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.TokenByHash(ctx, "h"); err != nil || got.ID != tok.ID {
		t.Fatalf("TokenByHash after reopen = %+v, %v", got, err)
	}
	// IDs keep increasing after a restart.
	tok2, err := s.CreateToken(ctx, metadata.Token{Hash: "h2", Kind: metadata.TokenPersonal, Owner: "u", Name: "t2"})
	if err != nil || tok2.ID <= tok.ID {
		t.Fatalf("second token %+v, %v", tok2, err)
	}
}
