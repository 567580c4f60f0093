// Package peerreg obtains and starts the other registries that regkit's
// suites are compared against: CNCF Distribution (go install from the Go
// module proxy at a pinned version), Debian's docker-registry (apt-get) and
// Gitea (built from the Go module proxy at a pinned version, see gitea.go).
// Nothing of theirs is kept in this repository: each is fetched and built
// at run time, and every server listens on a free loopback port.
package peerreg

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
	"time"
)

// DistributionVersion is the CNCF Distribution release the peers run.
const DistributionVersion = "v3.1.2"

// Distribution returns the path of CNCF Distribution's registry binary at
// DistributionVersion, installing it with go install when
// $(go env GOPATH)/bin does not hold that version.
func Distribution(ctx context.Context) (string, error) {
	bin := filepath.Join(GoBin(ctx), "registry")
	if _, err := os.Stat(bin); err == nil && strings.Contains(output(ctx, bin, "--version"), DistributionVersion) {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/distribution/distribution/v3/cmd/registry@"+DistributionVersion)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install distribution %s: %w", DistributionVersion, err)
	}
	return bin, nil
}

// DockerRegistry returns Debian's docker-registry (Distribution 2.8),
// installing it with apt-get when running as root.
func DockerRegistry(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("docker-registry is missing: sudo apt-get install -y docker-registry")
	}
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "docker-registry")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("apt-get install docker-registry: %w", err)
	}
	return exec.LookPath("docker-registry")
}

// DistributionConfig is a Distribution config: filesystem storage under
// root, deletes on, listening on addr.
func DistributionConfig(root, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, root, addr)
}

// StartDistribution starts the Distribution-style registry bin (serve
// config) on a free loopback port with its data under dir, and returns its
// base URL and a function that stops it.
func StartDistribution(ctx context.Context, bin, dir string) (string, func(), error) {
	addr, err := FreeAddr()
	if err != nil {
		return "", nil, err
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte(DistributionConfig(filepath.Join(dir, "data"), addr)), 0o644); err != nil {
		return "", nil, err
	}
	url := "http://" + addr
	stop, err := Start(ctx, []string{bin, "serve", config}, nil, filepath.Join(dir, "registry.log"), url+"/v2/")
	return url, stop, err
}

// Start runs args (with env added to this process's environment), its
// output in logPath, and waits until readyURL answers; stop kills it.
func Start(ctx context.Context, args, env []string, logPath, readyURL string) (stop func(), err error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	srv := exec.CommandContext(ctx, args[0], args[1:]...)
	srv.Env = append(os.Environ(), env...)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	stop = func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		logf.Close()
	}
	if err := WaitReady(ctx, readyURL, 60*time.Second); err != nil {
		stop()
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; its log:\n%s", err, tail(string(b), 4000))
	}
	return stop, nil
}

// FreeAddr returns a free loopback host:port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitReady polls url until it answers at all, for at most d.
func WaitReady(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within %s", url, d)
}

// GoBin is $(go env GOPATH)/bin, where go install puts binaries.
func GoBin(ctx context.Context) string {
	return filepath.Join(strings.TrimSpace(output(ctx, "go", "env", "GOPATH")), "bin")
}

func output(ctx context.Context, name string, args ...string) string {
	b, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
