// Command peers runs the OCI conformance suite against other registries —
// CNCF Distribution v3.1.2 and Debian's docker-registry (Distribution 2.8) —
// and writes their reports and a Markdown summary. It is what
// `make conformance-peers` runs:
//
//	go run ./conformance/peers -out conformance/peers/results
//
// It installs what is missing (go install for Distribution, apt-get for
// docker-registry when running as root), starts each registry on a free
// loopback port with filesystem storage and deletes enabled, runs
// `go test ./conformance/oci` against it with REGKIT_CONFORMANCE_URL set, and
// stops it. Each peer's junit.xml, results.json and report.html land in
// <out>/<peer>/, and <out>/SUMMARY.md tabulates the results per area with
// every failure on one line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/regkit/regkit/conformance"
)

// peer is one registry to run the suite against.
type peer struct {
	name    string // directory name
	title   string // for the summary
	binary  func(ctx context.Context) (string, error)
	command func(bin, config string) []string
}

func main() {
	out := flag.String("out", "conformance/peers/results", "directory for reports and SUMMARY.md")
	only := flag.String("only", "", "run only this peer (distribution-v3 or docker-registry)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := run(ctx, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func peers() []peer {
	return []peer{
		{
			name:  "distribution-v3",
			title: "CNCF Distribution v3.1.2",
			binary: func(ctx context.Context) (string, error) {
				gobin := strings.TrimSpace(output(ctx, "go", "env", "GOPATH")) + "/bin"
				bin := filepath.Join(gobin, "registry")
				if _, err := os.Stat(bin); err == nil && strings.Contains(output(ctx, bin, "--version"), "v3.1.2") {
					return bin, nil
				}
				cmd := exec.CommandContext(ctx, "go", "install", "github.com/distribution/distribution/v3/cmd/registry@v3.1.2")
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Run(); err != nil {
					return "", fmt.Errorf("go install distribution v3.1.2: %w", err)
				}
				return bin, nil
			},
			command: func(bin, config string) []string { return []string{bin, "serve", config} },
		},
		{
			name:  "docker-registry",
			title: "Debian docker-registry (Distribution 2.8)",
			binary: func(ctx context.Context) (string, error) {
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
			},
			command: func(bin, config string) []string { return []string{bin, "serve", config} },
		},
	}
}

func run(ctx context.Context, out, only string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var results []peerResult
	for _, p := range peers() {
		if only != "" && p.name != only {
			continue
		}
		r, err := runPeer(ctx, p, filepath.Join(out, p.name))
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		results = append(results, r)
		fmt.Printf("%s: %s (%d unsupported)\n", p.title, r.res.Summary.Line(), r.res.Summary.Unsupported)
	}
	return os.WriteFile(filepath.Join(out, "SUMMARY.md"), []byte(summary(results)), 0o644)
}

type peerResult struct {
	peer peer
	res  conformance.Results
}

func runPeer(ctx context.Context, p peer, dir string) (peerResult, error) {
	bin, err := p.binary(ctx)
	if err != nil {
		return peerResult{}, err
	}
	tmp, err := os.MkdirTemp("", "regkit-peer-"+p.name+"-")
	if err != nil {
		return peerResult{}, err
	}
	defer os.RemoveAll(tmp)
	addr, err := freeAddr()
	if err != nil {
		return peerResult{}, err
	}
	config := filepath.Join(tmp, "config.yml")
	if err := os.WriteFile(config, []byte(registryConfig(filepath.Join(tmp, "data"), addr)), 0o644); err != nil {
		return peerResult{}, err
	}
	args := p.command(bin, config)
	srv := exec.CommandContext(ctx, args[0], args[1:]...)
	logf, err := os.Create(filepath.Join(tmp, "registry.log"))
	if err != nil {
		return peerResult{}, err
	}
	defer logf.Close()
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return peerResult{}, err
	}
	defer func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}()
	url := "http://" + addr
	if err := waitReady(ctx, url+"/v2/"); err != nil {
		return peerResult{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return peerResult{}, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return peerResult{}, err
	}
	test := exec.CommandContext(ctx, "go", "test", "./conformance/oci", "-count=1", "-run", "TestOCIConformance", "-ginkgo.no-color", "-ginkgo.succinct")
	test.Env = append(os.Environ(),
		conformance.EnvPrefix+"URL="+url,
		conformance.EnvPrefix+"REPORT="+absDir,
		conformance.EnvPrefix+"NAMESPACE=peers",
	)
	test.Stdout, test.Stderr = os.Stderr, os.Stderr
	_ = test.Run() // failing specs make go test fail; the results file tells
	b, err := os.ReadFile(filepath.Join(dir, conformance.ResultsFile))
	if err != nil {
		return peerResult{}, fmt.Errorf("the suite wrote no results: %w", err)
	}
	var res conformance.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return peerResult{}, err
	}
	res.Registry = p.title
	return peerResult{peer: p, res: res}, nil
}

// registryConfig is a Distribution config: filesystem storage, deletes on.
func registryConfig(root, addr string) string {
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

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 30s", url)
}

func output(ctx context.Context, name string, args ...string) string {
	b, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(b)
}

// summary renders the per-area table and the failures of every peer.
func summary(results []peerResult) string {
	var b strings.Builder
	b.WriteString("# OCI conformance of other registries\n\n")
	b.WriteString("Generated by `make conformance-peers` (`go run ./conformance/peers`). Cells are passed / failed / skipped / unsupported.\n\n")
	areas := map[string]bool{}
	for _, r := range results {
		for a := range r.res.Areas {
			areas[a] = true
		}
	}
	var names []string
	for a := range areas {
		names = append(names, a)
	}
	sort.Strings(names)
	b.WriteString("| Registry | Total |")
	for _, a := range names {
		b.WriteString(" " + a + " |")
	}
	b.WriteString("\n|---|---|")
	for range names {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	cell := func(s conformance.Summary) string {
		return fmt.Sprintf("%d / %d / %d / %d", s.Passed, s.Failed, s.Skipped, s.Unsupported)
	}
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s |", r.peer.title, cell(r.res.Summary))
		for _, a := range names {
			if g := r.res.Areas[a]; g != nil {
				b.WriteString(" " + cell(g.Summary) + " |")
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	for _, r := range results {
		fmt.Fprintf(&b, "\n## %s: failures\n\n", r.peer.title)
		n := 0
		for _, s := range r.res.Specs {
			if s.Status != conformance.StatusFailed {
				continue
			}
			n++
			fmt.Fprintf(&b, "- %s — `%s`\n", s.Name, firstLine(s.Message))
		}
		if n == 0 {
			b.WriteString("None.\n")
		}
		fmt.Fprintf(&b, "\nReports: [report.html](%s/report.html), [results.json](%s/results.json), [junit.xml](%s/junit.xml)\n", r.peer.name, r.peer.name, r.peer.name)
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "`", "'")
}
