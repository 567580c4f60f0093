package oci_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	ociclient "github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/internal/inproc"
	"github.com/regkit/regkit/conformance/oci"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// TestOCIConformance runs the OCI suite through go test and Ginkgo: against
// REGKIT_CONFORMANCE_URL (with the other REGKIT_CONFORMANCE_* settings)
// when it is set, otherwise against regkit's own server in this process.
// Reports go to REGKIT_CONFORMANCE_REPORT when it is set.
//
// Without a URL, the suite runs once per server backend in a child
// process each (Ginkgo runs one suite per process): file storage with the
// embedded store, file storage with Redis, memory, and memory with auth
// mode "tokens" (credentials of user "conformance", and another owner's
// namespace as the denied namespace).
func TestOCIConformance(t *testing.T) {
	cfg := conformance.Default()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	backend := os.Getenv(inproc.BackendEnv)
	if cfg.URL == "" && backend == "" {
		for _, b := range append(inproc.Backends, proxyBackend) {
			t.Run(b, func(t *testing.T) { inproc.RunChild(t, "TestOCIConformance", b, true) })
		}
		return
	}
	if cfg.URL == "" {
		cfg.URL = startServer(t, backend)
		// regkit implements every optional feature: check them all.
		on := conformance.FeatureOn
		cfg.Referrers, cfg.Delete, cfg.SHA512, cfg.Catalog, cfg.AutoMount = on, on, on, on, on
		if backend == authBackend {
			cfg.Username, cfg.Password = authUser, authPassword
			cfg.Namespace, cfg.DeniedNamespace = authUser, authOtherUser
		}
	}
	inproc.RunSuite(t, "OCI conformance", cfg, func() { oci.Register(cfg) })
}

// proxyBackend is regkit's server whose registry is the Go client
// (client/oci.Registry) of a second regkit server on file+bolt: the suite
// pushes and pulls through the proxy.
const proxyBackend = "proxy"

// startServer starts regkit's server on backend and returns its URL.
func startServer(t *testing.T, backend string) string {
	t.Helper()
	var upstream string
	if backend == proxyBackend {
		upstream, backend = startServer(t, "file+bolt"), "mem+mem"
	}
	meta, store := inproc.Open(t, backend)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []server.Option{server.WithLogger(log), server.WithDelete(true), server.WithAutoMount(true)}
	if backend == authBackend {
		opts = append(opts, server.WithAuth(newAuth(t, meta)))
	}
	if upstream != "" {
		opts = append(opts, server.WithRegistry(ociclient.NewRegistry(ociclient.NewClient(upstream))))
	}
	srv := httptest.NewServer(server.New(meta, store, opts...))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The auth backend: regkit with auth mode "tokens".
const (
	authBackend   = inproc.AuthBackend
	authUser      = "conformance"
	authPassword  = "conformance-password"
	authOtherUser = "someone-else"
)

// newAuth returns the auth service of the auth backend: users
// "conformance" (whose namespace the suite writes) and "someone-else"
// (public, the denied namespace).
func newAuth(t *testing.T, meta metadata.Store) *auth.Service {
	t.Helper()
	ctx := context.Background()
	ident := meta.(metadata.Identity)
	kdf := auth.KDF{Time: 1, Memory: 64, Threads: 1}
	a, err := auth.New(auth.Config{Identity: ident, SigningKeys: [][]byte{[]byte("conformance-signing-key-0123456789abcdef")}, KDF: kdf})
	if err != nil {
		t.Fatal(err)
	}
	for u, pw := range map[string]string{authUser: authPassword, authOtherUser: authPassword + "-other"} {
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
