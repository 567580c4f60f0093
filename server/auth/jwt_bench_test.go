package auth_test

import (
	"testing"
	"time"

	"github.com/regkit/regkit/server/auth"
)

// BenchmarkVerifyJWT measures what every authenticated request pays before
// its metadata lookups (the manifest GET path with --auth tokens): the
// verification of a typical bearer token with one pull scope, with the
// current key second in the key list (a rotation in progress).
func BenchmarkVerifyJWT(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	c := auth.Claims{Issuer: "svc", Audience: "svc", Subject: "alice", IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expires: now.Add(5 * time.Minute).Unix(), ID: "0123456789abcdef", PasswordStamp: "0123456789abcdef",
		Access: []auth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull"}}}}
	tok, err := auth.SignJWT(key1, c)
	if err != nil {
		b.Fatal(err)
	}
	keys := [][]byte{key2, key1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.VerifyJWT(keys, "svc", tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignJWT measures issuing a token (the token endpoint).
func BenchmarkSignJWT(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	c := auth.Claims{Issuer: "svc", Audience: "svc", Subject: "alice", IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expires: now.Add(5 * time.Minute).Unix(), ID: "0123456789abcdef",
		Access: []auth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.SignJWT(key1, c); err != nil {
			b.Fatal(err)
		}
	}
}
