package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// FuzzAuthorizationHeader sends arbitrary Authorization headers to a
// private repository, the token endpoint and the token API: the answer is
// always 401 (or 429), never a 500.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"", "Basic YWxpY2U6cHc=", "Bearer a.b.c", "token 0123456789abcdef0123456789abcdef01234567",
		"Bearer eyJhbGciOiJub25lIn0.e30.", "Basic Og==", "bearer", "Basic " + "\xff\xfe"} {
		f.Add(s)
	}
	meta := memmeta.New()
	a, err := auth.New(auth.Config{Identity: meta, SigningKeys: [][]byte{testKey}, KDF: cheapKDF, Limits: auth.Limits{FailedLogins: -1},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	h, _ := auth.HashPassword(pw, cheapKDF)
	if _, err := meta.CreateAccount(context.Background(), metadata.Account{Name: "alice", Type: metadata.AccountUser, Visibility: metadata.VisibilityPrivate, PasswordHash: h}); err != nil {
		f.Fatal(err)
	}
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		f.Fatal(err)
	}
	srv := server.New(meta, st, server.WithAuth(a), server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	f.Fuzz(func(t *testing.T, authz string) {
		for _, target := range []string{"/v2/alice/app/manifests/v1", "/v2/token?scope=repository:alice/app:push", "/api/v1/users/alice/tokens"} {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header["Authorization"] = []string{authz}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			switch {
			case rec.Code == http.StatusUnauthorized, rec.Code == http.StatusTooManyRequests:
			case target == "/v2/token?scope=repository:alice/app:push" && authz == "" && rec.Code == http.StatusOK:
				// an anonymous token (granting nothing)
			default:
				t.Fatalf("%s with Authorization %q: %d %s", target, authz, rec.Code, rec.Body)
			}
		}
	})
}
