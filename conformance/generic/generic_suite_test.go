package generic_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/generic"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage"
)

// ownerEnv names the owner of a run against REGKIT_CONFORMANCE_URL.
const ownerEnv = "REGKIT_CONFORMANCE_OWNER"

// backendEnv selects the backend of the in-process server of a child run.
const backendEnv = "REGKIT_CONFORMANCE_BACKEND"

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
	backend := os.Getenv(backendEnv)
	if cfg.URL == "" && backend == "" {
		for _, b := range []string{"file+bolt", "file+redis", "mem+mem", authBackend} {
			t.Run(b, func(t *testing.T) { runChild(t, b) })
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
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	generic.Register(cfg, owner)
	ReportAfterSuite("conformance reports", func(r Report) {
		sum, err := conformance.WriteReports(cfg.ReportDir, r, cfg)
		if err != nil {
			t.Errorf("writing reports: %v", err)
		}
		t.Logf("%s (%d unsupported) against %s", sum.Line(), sum.Unsupported, cfg.URL)
	})
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if cfg.Labels != "" {
		suiteConfig.LabelFilter = cfg.Labels
	}
	RunSpecs(t, "Generic conformance", suiteConfig, reporterConfig)
}

// runChild runs this test in a child process against backend and fails
// unless every spec passed and none was skipped.
func runChild(t *testing.T, backend string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestGenericConformance$", "-test.v")
	cmd.Env = append(os.Environ(), backendEnv+"="+backend)
	out, err := cmd.CombinedOutput()
	line := regexp.MustCompile(`(?m)(\d+) passed, (\d+) failed, (\d+) skipped.*$`).FindSubmatch(out)
	if err != nil || line == nil || string(line[2]) != "0" || string(line[3]) != "0" {
		t.Fatalf("generic suite on %s: %v\n%s", backend, err, tail(out, 20000))
	}
	t.Logf("%s: %s", backend, line[0])
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// authBackend is regkit with auth mode "tokens".
const authBackend = "mem+mem+auth"

// startServer starts regkit on backend ("<storage>+<metadata>[+auth]")
// and returns its URL and, with auth, a token of owner "conformance".
func startServer(t *testing.T, backend string) (string, string) {
	t.Helper()
	ctx := context.Background()
	var (
		meta      metadata.Store
		bucketURL = "mem://"
		err       error
	)
	switch backend {
	case "file+bolt":
		bucketURL = "file://" + t.TempDir()
		meta, err = boltmeta.Open(filepath.Join(t.TempDir(), "meta.db"))
	case "file+redis":
		bucketURL = "file://" + t.TempDir()
		meta = redismeta.New(redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
	case "mem+mem", authBackend:
		meta = memmeta.New()
	default:
		t.Fatalf("unknown %s %q", backendEnv, backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	store, err := storage.Open(ctx, bucketURL, meta)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []server.Option{server.WithLogger(log)}
	token := ""
	if backend == authBackend {
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
