package generic_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/generic"
	"github.com/regkit/regkit/conformance/internal/inproc"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// ownerEnv names the owner of a run against REGKIT_CONFORMANCE_URL.
const ownerEnv = "REGKIT_CONFORMANCE_OWNER"

// TestGenericConformance runs the generic registry's suite through go test
// and Ginkgo: against REGKIT_CONFORMANCE_URL (owner REGKIT_CONFORMANCE_OWNER,
// the other REGKIT_CONFORMANCE_* settings as for the OCI suite) when it is
// set, otherwise against regkit's own server in this process, once per
// backend in a child process each: file storage with the embedded store,
// file storage with Redis, memory, and memory with auth mode "tokens"
// (a personal token of the owner, sent as the password of Basic auth).
func TestGenericConformance(t *testing.T) {
	cfg := conformance.Default()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	owner := os.Getenv(ownerEnv)
	backend := os.Getenv(inproc.BackendEnv)
	if cfg.URL == "" && backend == "" {
		for _, b := range inproc.Backends {
			t.Run(b, func(t *testing.T) { inproc.RunChild(t, "TestGenericConformance", b, false) })
		}
		return
	}
	if cfg.URL == "" {
		var token string
		cfg.URL, token = startServer(t, backend)
		owner = "conformance"
		if token != "" {
			// Basic auth with the token as the password: /api takes it
			// as it is, /v2 through its token endpoint.
			cfg.Username, cfg.Password = owner, conformance.Secret(token)
		}
	}
	inproc.RunSuite(t, "Generic conformance", cfg, func() { generic.Register(cfg, owner) })
}

// startServer starts regkit on backend and returns its URL and, with
// auth, a token of owner "conformance".
func startServer(t *testing.T, backend string) (string, string) {
	t.Helper()
	meta, store := inproc.Open(t, backend)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []server.Option{server.WithLogger(log)}
	token := ""
	if backend == inproc.AuthBackend {
		a, tok := newAuth(t, meta)
		opts, token = append(opts, server.WithAuth(a)), tok
	}
	srv := httptest.NewServer(server.New(meta, store, opts...))
	t.Cleanup(srv.Close)
	return srv.URL, token
}

// newAuth returns the auth service of the auth backend, with the private
// user "conformance", and a personal token of it with write and delete
// scopes.
func newAuth(t *testing.T, meta metadata.Store) (*auth.Service, string) {
	t.Helper()
	ctx := context.Background()
	ident := meta.(metadata.Identity)
	a, err := auth.New(auth.Config{Identity: ident, SigningKeys: [][]byte{[]byte("conformance-signing-key-0123456789abcdef")},
		KDF: auth.KDF{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ident.CreateAccount(ctx, metadata.Account{Name: "conformance", Type: metadata.AccountUser, Visibility: metadata.VisibilityPrivate}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.NewToken(ctx, metadata.Token{Kind: metadata.TokenPersonal, Owner: "conformance", Name: "suite", Scopes: []string{"write:packages", "delete:packages"}})
	if err != nil {
		t.Fatal(err)
	}
	return a, secret
}
