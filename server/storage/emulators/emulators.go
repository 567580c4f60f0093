// Package emulators starts the object-storage emulators that regkit's
// backend tests run against — versitygw (S3, posix backend),
// fake-gcs-server (GCS) and Azurite (Azure Blob) — on free loopback
// ports, and makes fresh buckets on them. The emulators are real servers
// (installed by .ci/storage-emulators.sh, `make test-deps`); a test that
// asks for one that is not installed fails, naming the install command.
//
// The SDKs read their endpoints and credentials from the environment, so
// Start sets the variables of its kind for the whole process
// (AWS_ACCESS_KEY_ID, STORAGE_EMULATOR_HOST, AZURE_STORAGE_ACCOUNT, ...).
// An emulator of a kind keeps its port across Stop and Start within a
// process (the GCS driver caches its client with the endpoint).
package emulators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Kind names an emulator.
type Kind string

// The emulators.
const (
	S3    Kind = "s3"    // versitygw, posix backend
	GCS   Kind = "gcs"   // fake-gcs-server, filesystem backend
	Azure Kind = "azure" // Azurite (blob service)
)

// Kinds lists every emulator.
var Kinds = []Kind{S3, GCS, Azure}

// Credentials the emulators are started with.
const (
	S3AccessKey  = "regkitaccess"
	S3SecretKey  = "regkitsecret1234"
	AzureAccount = "devstoreaccount1"
	// AzureKey is Azurite's well-known development account key.
	AzureKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

const installHint = "install the emulators with `make test-deps` (bash .ci/storage-emulators.sh)"

var (
	portsMu sync.Mutex
	ports   = map[Kind]int{}
)

// Emulator is one running (or stopped) emulator process.
type Emulator struct {
	Kind Kind
	// Addr is host:port of its endpoint.
	Addr string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	n    int
}

var (
	sharedMu sync.Mutex
	shared   = map[Kind]*Emulator{}
)

// Shared returns the process-wide emulator of kind k, starting it on
// first use with its data in a temporary directory. StopShared stops them
// (call it from TestMain after m.Run).
func Shared(k Kind) (*Emulator, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if e := shared[k]; e != nil {
		return e, nil
	}
	dir, err := os.MkdirTemp("", "regkit-emulator-")
	if err != nil {
		return nil, err
	}
	e := &Emulator{Kind: k, dir: dir}
	if e.Addr, err = portOf(k); err != nil {
		return nil, err
	}
	if err := e.setEnv(); err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	shared[k] = e
	return e, nil
}

// StopShared stops the emulators Shared started and removes their data.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for k, e := range shared {
		e.Stop()
		_ = os.RemoveAll(e.dir)
		delete(shared, k)
	}
}

func portOf(k Kind) (string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	port, ok := ports[k]
	if !ok {
		var err error
		if port, err = freePort(); err != nil {
			return "", fmt.Errorf("emulators: free port: %w", err)
		}
		ports[k] = port
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// Start starts an emulator of kind k with its data in a temporary
// directory of t, sets the process environment its SDK needs, and stops
// it when t ends. It fails t when the emulator is not installed.
func Start(t testing.TB, k Kind) *Emulator {
	t.Helper()
	e := &Emulator{Kind: k, dir: t.TempDir()}
	var err error
	if e.Addr, err = portOf(k); err != nil {
		t.Fatal(err)
	}
	if err := e.setEnv(); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (e *Emulator) setEnv() error {
	var env map[string]string
	switch e.Kind {
	case S3:
		env = map[string]string{"AWS_ACCESS_KEY_ID": S3AccessKey, "AWS_SECRET_ACCESS_KEY": S3SecretKey, "AWS_REGION": "us-east-1"}
	case GCS:
		env = map[string]string{"STORAGE_EMULATOR_HOST": e.Addr}
	case Azure:
		env = map[string]string{"AZURE_STORAGE_ACCOUNT": AzureAccount, "AZURE_STORAGE_KEY": AzureKey}
	default:
		return fmt.Errorf("emulators: unknown kind %q", e.Kind)
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Lookup returns the path of the emulator program of kind k, or an error
// naming the install command.
func Lookup(k Kind) (string, error) {
	name := map[Kind]string{S3: "versitygw", GCS: "fake-gcs-server", Azure: "azurite-blob"}[k]
	var dirs []string
	if k == Azure {
		tools := os.Getenv("REGKIT_TOOLS")
		if tools == "" {
			home, _ := os.UserHomeDir()
			tools = filepath.Join(home, ".cache", "regkit")
		}
		dirs = append(dirs, filepath.Join(tools, "azurite", "node_modules", ".bin"))
	} else {
		if gobin := goEnv("GOBIN"); gobin != "" {
			dirs = append(dirs, gobin)
		}
		if gp := goEnv("GOPATH"); gp != "" {
			dirs = append(dirs, filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("emulators: %s (the %s emulator) is not installed: %s", name, k, installHint)
}

func goEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Start (re)starts the stopped emulator on its address, over the data it
// had, and waits until it answers.
func (e *Emulator) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		return nil
	}
	prog, err := Lookup(e.Kind)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(e.Addr)
	data := filepath.Join(e.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	var args []string
	switch e.Kind {
	case S3:
		args = []string{"--port", e.Addr, "--access", S3AccessKey, "--secret", S3SecretKey, "posix", data}
	case GCS:
		args = []string{"-scheme", "http", "-host", "127.0.0.1", "-port", port, "-public-host", e.Addr,
			"-external-url", "http://" + e.Addr, "-backend", "filesystem", "-filesystem-root", data, "-log-level", "error"}
	case Azure:
		args = []string{"--blobHost", "127.0.0.1", "--blobPort", port, "--location", data, "--silent",
			"--skipApiVersionCheck", "--loose", "--disableProductStyleUrl"}
	}
	if ready(e.Addr) {
		// Another emulator answers there (Start and Shared of one kind in
		// one process share the port): starting would only seem to work.
		return fmt.Errorf("emulators: %s is in use by another %s emulator of this process (use one: Start or Shared)", e.Addr, e.Kind)
	}
	e.n++
	logf, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("log.%d", e.n)))
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("emulators: start %s: %w", prog, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(done) }()
	e.cmd, e.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ready(e.Addr) {
			return nil
		}
		select {
		case <-done:
			e.cmd = nil
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("emulators: %s exited at start: %s", prog, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stopLocked()
			return fmt.Errorf("emulators: %s did not answer on %s within 60s", prog, e.Addr)
		}
	}
}

func ready(addr string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// Stop stops the emulator (its process group) and waits for it to exit;
// its data stays for a later Start. versitygw and fake-gcs-server are
// killed (SIGKILL): they write through to their directory. Azurite keeps
// its metadata (containers, blobs, staged blocks) in memory and saves it
// every 5 s, so a kill would lose the last seconds of writes — which no
// outage of a real service does — and it is stopped with SIGTERM (it
// closes its listener and saves), killed only if it has not exited
// within 15 s.
func (e *Emulator) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopLocked()
}

func (e *Emulator) stopLocked() {
	if e.cmd == nil {
		return
	}
	pgid := -e.cmd.Process.Pid
	if e.Kind == Azure {
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-e.done:
			e.cmd = nil
			return
		case <-time.After(15 * time.Second):
		}
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-e.done
	e.cmd = nil
}

// NewBucket creates an empty bucket (container) with a fresh name and
// returns the gocloud URL that opens it.
func (e *Emulator) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("regkit-%d-%d", time.Now().UnixNano()%1_000_000_000, bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.createBucket(ctx, name); err != nil {
		t.Fatalf("emulators: create %s bucket %s: %v", e.Kind, name, err)
	}
	return e.URL(name)
}

// URL returns the gocloud URL of bucket name on e.
func (e *Emulator) URL(name string) string {
	switch e.Kind {
	case S3:
		return "s3://" + name + "?endpoint=http://" + e.Addr + "&use_path_style=true&region=us-east-1"
	case GCS:
		return "gs://" + name
	case Azure:
		return "azblob://" + name + "?protocol=http&domain=" + e.Addr + "&localemu=true"
	}
	return ""
}

var errStatus = errors.New("unexpected status")
