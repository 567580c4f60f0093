package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
)

func TestJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := auth.Claims{Issuer: "svc", Audience: "svc", Subject: "alice", IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expires: now.Add(time.Minute).Unix(), ID: "x",
		Access: []auth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}}}
	tok, err := auth.SignJWT(key1, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auth.VerifyJWT([][]byte{key2, key1}, "svc", tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "alice" || len(got.Access) != 1 || !slices.Equal(got.Access[0].Actions, []string{"pull", "push"}) {
		t.Fatalf("claims = %+v", got)
	}
	parts := strings.Split(tok, ".")
	b64 := base64.RawURLEncoding
	forge := func(header, payload string) string {
		return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + parts[2]
	}
	otherKey, _ := auth.SignJWT(key2, c)
	tampered := []byte(tok)
	tampered[len(parts[0])+5] ^= 1
	cases := []struct {
		name string
		tok  string
		keys [][]byte
		now  time.Time
		want error
	}{
		{"expired", tok, [][]byte{key1}, now.Add(2 * time.Minute), auth.ErrTokenExpired},
		{"expired beyond the clock skew", tok, [][]byte{key1}, now.Add(time.Minute + 31*time.Second), auth.ErrTokenExpired},
		{"unknown kid", forge(`{"alg":"HS256","typ":"JWT","kid":"0000000000000000"}`, `{"iss":"svc","aud":"svc","exp":9999999999}`), [][]byte{key1}, now, auth.ErrTokenSignature},
		{"typ not JWT", forge(`{"alg":"HS256","typ":"JWE"}`, `{"iss":"svc","aud":"svc","exp":9999999999}`), [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"no exp", hs256(key1, `{"alg":"HS256","typ":"JWT"}`, `{"iss":"svc","aud":"svc"}`), [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"no aud", hs256(key1, `{"alg":"HS256","typ":"JWT"}`, `{"iss":"svc","exp":9999999999}`), [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"not yet valid", tok, [][]byte{key1}, now.Add(-time.Hour), auth.ErrTokenExpired},
		{"other key", otherKey, [][]byte{key1}, now, auth.ErrTokenSignature},
		{"tampered payload", string(tampered), [][]byte{key1}, now, auth.ErrTokenSignature},
		{"alg none", forge(`{"alg":"none","typ":"JWT"}`, `{"iss":"svc","aud":"svc","exp":9999999999}`), [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"alg HS512", forge(`{"alg":"HS512"}`, `{}`), [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"no signature", parts[0] + "." + parts[1] + ".", [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"garbage", "a.b.c", [][]byte{key1}, now, auth.ErrTokenMalformed},
		{"huge", strings.Repeat("a", 9000) + ".b.c", [][]byte{key1}, now, auth.ErrTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.VerifyJWT(tc.keys, "svc", tc.tok, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	// Within the tolerated clock skew: just expired, or not quite valid yet.
	for _, at := range []time.Time{now.Add(time.Minute + 20*time.Second), now.Add(-20 * time.Second)} {
		if _, err := auth.VerifyJWT([][]byte{key1}, "svc", tok, at); err != nil {
			t.Errorf("at %v: %v", at.Sub(now), err)
		}
	}
	// A token in the exact form earlier regkit versions issued (header
	// alg, typ, kid in that order; MAC by hand) still verifies: replicas
	// of two versions accept each other's tokens during an upgrade.
	old := hs256(key1, `{"alg":"HS256","typ":"JWT","kid":"`+auth.KeyID(key1)+`"}`,
		`{"iss":"svc","aud":"svc","sub":"bob","iat":1700000000,"nbf":1700000000,"exp":1700000060,"jti":"j","access":[{"type":"repository","name":"bob/x","actions":["pull"]}],"tid":7}`)
	if got, err := auth.VerifyJWT([][]byte{key1}, "svc", old, now); err != nil || got.Subject != "bob" || got.TokenID != 7 || got.Access[0].Name != "bob/x" {
		t.Errorf("earlier format: %+v, %v", got, err)
	}
	// Another service's token.
	c.Issuer, c.Audience = "other", "other"
	foreign, _ := auth.SignJWT(key1, c)
	if _, err := auth.VerifyJWT([][]byte{key1}, "svc", foreign, now); !errors.Is(err, auth.ErrTokenMalformed) {
		t.Fatalf("foreign service: %v", err)
	}
}

// hs256 signs header and payload (JSON) with key by hand: HMAC-SHA256
// over the base64url segments.
func hs256(key []byte, header, payload string) string {
	b64 := base64.RawURLEncoding
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

func TestPassword(t *testing.T) {
	k := auth.KDF{Time: 1, Memory: 64, Threads: 1}
	h, err := auth.HashPassword("correct horse", k)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := auth.VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, err := auth.VerifyPassword(h, "correct horsE"); ok || err != nil {
		t.Fatalf("wrong password: %v, %v", ok, err)
	}
	h2, _ := auth.HashPassword("correct horse", k)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$!!"} {
		if ok, err := auth.VerifyPassword(bad, "x"); ok || !errors.Is(err, auth.ErrBadHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want ErrBadHash", bad, ok, err)
		}
	}
}

func TestSecret(t *testing.T) {
	s, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !auth.LooksLikeSecret(s) || len(auth.HashSecret(s)) != 64 {
		t.Fatalf("secret %q", s)
	}
	s2, _ := auth.NewSecret()
	if s == s2 {
		t.Fatal("two secrets are equal")
	}
	for _, bad := range []string{"", "xyz", strings.ToUpper(s), s + "0"} {
		if auth.LooksLikeSecret(bad) {
			t.Errorf("LooksLikeSecret(%q)", bad)
		}
	}
}

func TestNormalizeScopes(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
		err  bool
	}{
		{[]string{"write:package"}, []string{"delete:packages", "write:packages"}, false},
		{[]string{"write:packages"}, []string{"write:packages"}, false},
		{[]string{"read:package,write:package", "delete:packages", "READ:packages"}, []string{"delete:packages", "read:packages", "write:packages"}, false},
		{[]string{"write:repository"}, nil, true},
		{nil, nil, true},
		{[]string{" , "}, nil, true},
	}
	for _, tc := range cases {
		got, err := auth.NormalizeScopes(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("NormalizeScopes(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want auth.Access
		ok   bool
	}{
		{"repository:alice/app:pull,push", auth.Access{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}, true},
		{"repository(plugin):a/b:pull", auth.Access{Type: "repository", Name: "a/b", Actions: []string{"pull"}}, true},
		{"repository:host:5000/a:pull", auth.Access{Type: "repository", Name: "host:5000/a", Actions: []string{"pull"}}, true},
		{"registry:catalog:*", auth.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}, true},
		{"repository:a", auth.Access{}, false},
		{":a:pull", auth.Access{}, false},
		{"repository::pull", auth.Access{}, false},
	}
	for _, tc := range cases {
		got, ok := auth.ParseScope(tc.in)
		if ok != tc.ok || got.Type != tc.want.Type || got.Name != tc.want.Name || !slices.Equal(got.Actions, tc.want.Actions) {
			t.Errorf("ParseScope(%q) = %+v, %v", tc.in, got, ok)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	b := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name string
		h    string
		want auth.Credentials
		err  bool
	}{
		{"empty", "", auth.Credentials{}, false},
		{"basic", b("alice:pw:with:colons"), auth.Credentials{Kind: auth.BasicCredentials, Username: "alice", Password: "pw:with:colons"}, false},
		{"basic token as user", b("0123456789abcdef0123456789abcdef01234567:"), auth.Credentials{Kind: auth.BasicCredentials, Username: "0123456789abcdef0123456789abcdef01234567", Token: "0123456789abcdef0123456789abcdef01234567"}, false},
		{"bearer", "Bearer abc.def.ghi", auth.Credentials{Kind: auth.BearerCredentials, Token: "abc.def.ghi"}, false},
		{"token", "token 0123", auth.Credentials{Kind: auth.TokenCredentials, Token: "0123"}, false},
		{"scheme case", "bEaReR x", auth.Credentials{Kind: auth.BearerCredentials, Token: "x"}, false},
		{"no value", "Bearer", auth.Credentials{}, true},
		{"blank value", "Bearer   ", auth.Credentials{}, true},
		{"unknown scheme", "Digest x", auth.Credentials{}, true},
		{"bad base64", "Basic !!!", auth.Credentials{}, true},
		{"no colon", b("alice"), auth.Credentials{}, true},
		{"empty basic", b(":"), auth.Credentials{}, true},
		{"two values", "Bearer a b", auth.Credentials{}, true},
		{"bad token chars", "Bearer a\"b", auth.Credentials{}, true},
		{"long header", "Bearer " + strings.Repeat("a", 9000), auth.Credentials{}, true},
		{"long password", b("a:" + strings.Repeat("p", 2000)), auth.Credentials{}, true},
		{"long user", b(strings.Repeat("u", 300) + ":p"), auth.Credentials{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.ParseAuthorization(tc.h)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseAuthorization = %+v, %v", got, err)
			}
			if err != nil && !errors.Is(err, auth.ErrMalformedCredentials) {
				t.Fatalf("error %v is not ErrMalformedCredentials", err)
			}
		})
	}
}

// FuzzParseAuthorization: any header either parses within the limits or
// is ErrMalformedCredentials; it never panics, and errors never quote the
// input.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"", "Basic YWxpY2U6cHc=", "Bearer a.b.c", "token abc", "Basic", "basic :", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c, err := auth.ParseAuthorization(h)
		if err != nil {
			if !errors.Is(err, auth.ErrMalformedCredentials) {
				t.Fatalf("error %v", err)
			}
			if len(h) > 3 && strings.Contains(err.Error(), h) {
				t.Fatalf("error quotes the header")
			}
			return
		}
		if len(c.Username) > auth.MaxUsernameLength || len(c.Password) > auth.MaxPasswordLength || len(c.Token) > auth.MaxAuthorizationLength {
			t.Fatalf("credentials beyond the limits: %d %d %d", len(c.Username), len(c.Password), len(c.Token))
		}
		if h == "" && c.Kind != auth.NoCredentials {
			t.Fatal("empty header gave credentials")
		}
	})
}

func TestMemoryCounter(t *testing.T) {
	metadatatest.RunCounter(t, auth.NewMemoryCounter())
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"alice", "Alice", "a.b", "a_b", "a__b", "a--b", "x1"} {
		if err := auth.ValidName(ok); err != nil {
			t.Errorf("ValidName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "a..b", "a/b", "a b", "é", strings.Repeat("a", 65), "a___b"} {
		if err := auth.ValidName(bad); err == nil {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
}
