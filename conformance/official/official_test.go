package official_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/conformance/internal/inproc"
	"github.com/regkit/regkit/conformance/official"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/spec/oci"
)

// Credentials of the auth configuration.
const (
	authUser     = "conformance"
	authPassword = "conformance-password"
)

// expectedSkip is a harness test a configuration cannot pass, and why.
type expectedSkip struct {
	// test matches the harness's test path.
	test *regexp.Regexp
	// reason says why it is skipped.
	reason string
}

// configuration is one server setup the harness runs against.
type configuration struct {
	name    string
	backend string // an inproc backend
	auth    bool
	// skips are the only tests allowed to be skipped; each must be
	// skipped (once the server passes one, it leaves this list).
	skips []expectedSkip
}

var configurations = []configuration{
	{name: "file+embedded", backend: "file+bolt"},
	{name: "file+redis", backend: "file+redis"},
	{name: "s3+redis", backend: "s3+redis"},
	{name: "auth-tokens", backend: "file+bolt", auth: true},
}

// TestOfficialHarness runs the pinned official OCI conformance harness
// with every API and data option on against regkit's server (as regkit
// serve --auto-mount --sparse-manifests --delete builds it) on each
// configuration, and requires 0 failures and no skip besides the named
// ones. Its log lines carry the harness's closing counts (make test runs
// this package with -v to show them).
func TestOfficialHarness(t *testing.T) {
	harness := harnessBinary(t)
	for _, c := range configurations {
		t.Run(c.name, func(t *testing.T) {
			url := startRegkit(t, c, nil)
			res := runHarness(t, harness, url, c)
			t.Logf("official harness on %s: %s", c.name, res.Counts.Line())
			for _, p := range problems(res, c) {
				t.Error(p)
			}
		})
	}
}

// TestOfficialHarnessCatchesBrokenServer shows that the wiring above can
// fail: a server that drops Docker-Content-Digest from every response (a
// header the harness requires with OCI_VERSION=dev) makes problems report
// failures.
func TestOfficialHarnessCatchesBrokenServer(t *testing.T) {
	harness := harnessBinary(t)
	c := configurations[0]
	url := startRegkit(t, c, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(dropHeader{ResponseWriter: w, name: oci.DockerContentDigest}, r)
		})
	})
	res := runHarness(t, harness, url, c)
	t.Logf("official harness on a server without %s: %s", oci.DockerContentDigest, res.Counts.Line())
	ps := problems(res, c)
	if len(ps) == 0 || res.Counts.Fail == 0 {
		t.Fatalf("a server that drops %s passed the official harness: %s", oci.DockerContentDigest, res.Counts.Line())
	}
	found := false
	for _, tc := range res.Cases {
		if tc.Failed() && strings.Contains(tc.Message, oci.DockerContentDigest) {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no failed test names %s; problems: %v", oci.DockerContentDigest, ps[:min(len(ps), 5)])
	}
}

// dropHeader removes one header from every response.
type dropHeader struct {
	http.ResponseWriter
	name string
}

func (d dropHeader) WriteHeader(code int) {
	d.Header().Del(d.name)
	d.ResponseWriter.WriteHeader(code)
}

func (d dropHeader) Write(b []byte) (int, error) {
	d.Header().Del(d.name)
	return d.ResponseWriter.Write(b)
}

func (d dropHeader) ReadFrom(r io.Reader) (int64, error) {
	d.Header().Del(d.name)
	return io.Copy(d.ResponseWriter, r)
}

// problems lists what keeps res from being a pass on c: failures, errors,
// disabled tests, skips c does not name, and named skips that did not
// happen.
func problems(res *official.Result, c configuration) []string {
	var out []string
	if res.Counts.Fail != 0 || res.Counts.Error != 0 || res.Counts.Disabled != 0 {
		out = append(out, "closing counts: "+res.Counts.Line())
	}
	matched := make([]int, len(c.skips))
	for _, tc := range res.Cases {
		switch {
		case tc.Failed():
			out = append(out, "failed: "+tc.Name+": "+firstLine(tc.Message))
		case tc.Skipped():
			named := false
			for i, s := range c.skips {
				if s.test.MatchString(tc.Name) {
					matched[i]++
					named = true
				}
			}
			if !named {
				out = append(out, "skipped without a named reason: "+tc.Name+": "+firstLine(tc.Message))
			}
		}
	}
	for i, s := range c.skips {
		if matched[i] == 0 {
			out = append(out, "expected skip did not happen (remove it from the list): "+s.test.String()+" ("+s.reason+")")
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// harnessBinary builds the harness pinned by go.mod's tool directive (go
// tool -n builds and caches it, printing its path).
func harnessBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(official.HarnessEnv); p != "" {
		return p
	}
	cmd := exec.Command("go", "tool", "-n", "conformance")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool -n conformance: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// startRegkit starts regkit's server for c in this process, wrapped by
// wrap when not nil, and returns its URL.
func startRegkit(t *testing.T, c configuration, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	meta, store := inproc.Open(t, c.backend)
	opts := []server.Option{
		server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		server.WithDelete(true), server.WithAutoMount(true), server.WithSparseManifests(true),
	}
	if c.auth {
		opts = append(opts, server.WithAuth(inproc.Auth(t, meta, map[string]string{authUser: authPassword})))
	}
	var h http.Handler = server.New(meta, store, opts...)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// runHarness runs the harness against url with c's credentials.
func runHarness(t *testing.T, harness, url string, c configuration) *official.Result {
	t.Helper()
	o := official.Options{
		URL:        url,
		Repo1:      authUser + "/official/repo1",
		Repo2:      authUser + "/official/repo2",
		ResultsDir: t.TempDir(),
		Harness:    []string{harness},
		Environ:    cleanEnv(),
	}
	if c.auth {
		o.Username, o.Password = authUser, authPassword
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := official.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// cleanEnv is the environment without OCI_* variables, so a developer's
// settings cannot change what the test checks.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestPinnedInGoMod checks that go.mod's tool directive and requirement
// pin the harness at the Version this package names, so `go tool
// conformance`, the test above and `go run Module@Version` (what regkit
// conformance official runs) are one program.
func TestPinnedInGoMod(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := string(b)
	if !regexp.MustCompile(`(?m)^tool `+regexp.QuoteMeta(official.Module)+`$`).MatchString(mod) &&
		!regexp.MustCompile(`(?m)^\s+`+regexp.QuoteMeta(official.Module)+`$`).MatchString(mod) {
		t.Errorf("go.mod has no tool directive for %s", official.Module)
	}
	if !strings.Contains(mod, official.Module+" "+official.Version) {
		t.Errorf("go.mod does not require %s %s", official.Module, official.Version)
	}
}
