package accounts_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/accounts"
	"github.com/regkit/regkit/conformance/internal/inproc"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
)

// backends are the in-process backends of the suite: accounts live in the
// metadata store, so both durable stores.
var backends = []string{"file+bolt", "file+redis"}

// TestAccountsConformance runs the account API's suite: against
// REGKIT_CONFORMANCE_URL with a site admin's REGKIT_CONFORMANCE_USERNAME
// and REGKIT_CONFORMANCE_PASSWORD when it is set, otherwise against
// regkit's own server with auth mode tokens, once per backend in a child
// process each.
func TestAccountsConformance(t *testing.T) {
	cfg := conformance.Default()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	backend := os.Getenv(inproc.BackendEnv)
	if cfg.URL == "" && backend == "" {
		for _, b := range backends {
			t.Run(b, func(t *testing.T) { inproc.RunChild(t, "TestAccountsConformance", b, false) })
		}
		return
	}
	if cfg.URL == "" {
		meta, store := inproc.Open(t, backend)
		a := inproc.Auth(t, meta, nil)
		const pw = "conformance-admin-password"
		if _, err := a.Bootstrap(t.Context(), pw); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(server.New(meta, store, server.WithAuth(a),
			server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
		t.Cleanup(srv.Close)
		cfg.URL, cfg.Username, cfg.Password = srv.URL, auth.AdminName, conformance.Secret(pw)
	}
	inproc.RunSuite(t, "Accounts conformance", cfg, func() { accounts.Register(cfg) })
}
