// Package inproc runs regkit's conformance suites against regkit's own
// server inside go test: one child process per server backend (Ginkgo
// runs one suite per process), each opening the backend's stores.
package inproc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/server/storage/emulators"
)

// BackendEnv selects the backend of the in-process server of a child run.
const BackendEnv = "REGKIT_CONFORMANCE_BACKEND"

// AuthBackend is memory storage with auth mode "tokens".
const AuthBackend = "mem+mem+auth"

// Backends are the backends a suite runs on: "<storage>+<metadata>[+auth]".
var Backends = []string{"file+bolt", "file+redis", "mem+mem", AuthBackend,
	"s3+bolt", "s3+redis", "gcs+bolt", "azure+redis"}

// RunChild runs test (a top-level test name) in a child process with
// BackendEnv set to backend, and fails t unless the suite's closing line
// says nothing failed (and, unless skipsOK, nothing was skipped).
func RunChild(t *testing.T, test, backend string, skipsOK bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), BackendEnv+"="+backend)
	out, err := cmd.CombinedOutput()
	line := regexp.MustCompile(`(?m)\d+ passed, (\d+) failed, (\d+) skipped.*$`).FindSubmatch(out)
	if err != nil || line == nil || string(line[1]) != "0" || (!skipsOK && string(line[2]) != "0") {
		if len(out) > 20000 {
			out = out[len(out)-20000:]
		}
		t.Fatalf("%s on %s: %v\n%s", test, backend, err, out)
	}
	t.Logf("%s: %s", backend, line[0])
}

// Open opens the stores of backend for one test; they are closed when it
// ends.
func Open(t *testing.T, backend string) (metadata.Store, *storage.Store) {
	t.Helper()
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
	case "mem+mem", AuthBackend:
		meta = memmeta.New()
	case "s3+bolt", "s3+redis", "gcs+bolt", "azure+redis":
		// An object-storage emulator of this child process.
		kind, md, _ := strings.Cut(backend, "+")
		bucketURL = emulators.Start(t, emulators.Kind(kind)).NewBucket(t)
		if md == "redis" {
			meta = redismeta.New(redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
		} else {
			meta, err = boltmeta.Open(filepath.Join(t.TempDir(), "meta.db"))
		}
	default:
		t.Fatalf("unknown %s %q", BackendEnv, backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	store, err := storage.Open(context.Background(), bucketURL, meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return meta, store
}
