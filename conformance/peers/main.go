// Command peers runs regkit's conformance suites against other
// registries and writes their reports and a Markdown summary: the OCI suite
// against CNCF Distribution v3.1.2 and Debian's docker-registry
// (Distribution 2.8), the generic suite's Gitea-compatible set against
// Gitea 1.26.0 and 1.27.3. It is what `make conformance-peers` runs:
//
//	go run ./conformance/peers -out conformance/peers/results [-only NAME]
//
// Each registry is obtained at run time (conformance/peers/peerreg:
// go install or go build from the Go module proxy at a pinned version,
// apt-get for docker-registry) and started on a free loopback port; then
// `go test` runs the suite against it with REGKIT_CONFORMANCE_URL set.
// Each peer's junit.xml, results.json and report.html land in <out>/<peer>/,
// and <out>/SUMMARY.md tabulates the results per area with every failure
// on one line and the explanation of each peer's failures. With -only,
// the other peers' previous results are kept in the summary.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/generic"
	"github.com/regkit/regkit/conformance/peers/peerreg"
)

// peer is one registry to run a suite against.
type peer struct {
	name  string // directory name
	title string // for the summary
	// suite is the go test package run against it; env its settings.
	suite string
	test  string
	// start obtains and starts the registry under dir, returning the
	// suite's settings (URL, credentials) and how to stop it.
	start func(ctx context.Context, dir string) (env []string, stop func(), err error)
	// notes explain its failures in the summary.
	notes []string
}

func main() {
	out := flag.String("out", "conformance/peers/results", "directory for reports and SUMMARY.md")
	only := flag.String("only", "", "run only this peer (distribution-v3, docker-registry, gitea-v1.26.0, gitea-v1.27.3)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if err := run(ctx, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// distributionPeer is a Distribution-style registry obtained by binary.
func distributionPeer(name, title string, binary func(context.Context) (string, error)) peer {
	return peer{
		name: name, title: title, suite: "./conformance/oci", test: "TestOCIConformance",
		start: func(ctx context.Context, dir string) ([]string, func(), error) {
			bin, err := binary(ctx)
			if err != nil {
				return nil, nil, err
			}
			url, stop, err := peerreg.StartDistribution(ctx, bin, dir)
			if err != nil {
				return nil, nil, err
			}
			return []string{conformance.EnvPrefix + "URL=" + url, conformance.EnvPrefix + "NAMESPACE=peers"}, stop, nil
		},
	}
}

// giteaPeer is Gitea at version, run with the Gitea-compatible set of the
// generic suite (generic.GiteaCompatible).
func giteaPeer(version string, notes []string) peer {
	return peer{
		name: "gitea-" + version, title: "Gitea " + version + " (generic suite, Gitea-compatible set)",
		suite: "./conformance/generic", test: "TestGenericConformance", notes: notes,
		start: func(ctx context.Context, dir string) ([]string, func(), error) {
			build, err := peerreg.Gitea(ctx, version)
			if err != nil {
				return nil, nil, err
			}
			g, err := peerreg.StartGitea(ctx, build, dir)
			if err != nil {
				return nil, nil, err
			}
			return []string{
				conformance.EnvPrefix + "URL=" + g.URL,
				conformance.EnvPrefix + "OWNER=" + g.User,
				conformance.EnvPrefix + "USERNAME=" + g.User,
				conformance.EnvPrefix + "PASSWORD=" + g.Token,
				conformance.EnvPrefix + "LABELS=" + generic.GiteaCompatible,
			}, g.Stop, nil
		},
	}
}

func peers() []peer {
	return []peer{
		distributionPeer("distribution-v3", "CNCF Distribution "+peerreg.DistributionVersion, peerreg.Distribution),
		distributionPeer("docker-registry", "Debian docker-registry (Distribution 2.8)", peerreg.DockerRegistry),
		giteaPeer("v1.26.0", giteaNotes126),
		giteaPeer("v1.27.3", giteaNotes127),
	}
}

func run(ctx context.Context, out, only string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var results []peerResult
	for _, p := range peers() {
		if only != "" && p.name != only {
			prev, err := readResults(filepath.Join(out, p.name))
			if err == nil {
				results = append(results, peerResult{peer: p, res: prev})
			}
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

func readResults(dir string) (conformance.Results, error) {
	var res conformance.Results
	b, err := os.ReadFile(filepath.Join(dir, conformance.ResultsFile))
	if err != nil {
		return res, err
	}
	return res, json.Unmarshal(b, &res)
}

func runPeer(ctx context.Context, p peer, dir string) (peerResult, error) {
	tmp, err := os.MkdirTemp("", "regkit-peer-"+p.name+"-")
	if err != nil {
		return peerResult{}, err
	}
	defer os.RemoveAll(tmp)
	env, stop, err := p.start(ctx, tmp)
	if err != nil {
		return peerResult{}, err
	}
	defer stop()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return peerResult{}, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return peerResult{}, err
	}
	test := exec.CommandContext(ctx, "go", "test", p.suite, "-count=1", "-run", p.test, "-ginkgo.no-color", "-ginkgo.succinct")
	test.Env = append(append(os.Environ(), env...), conformance.EnvPrefix+"REPORT="+absDir)
	test.Stdout, test.Stderr = os.Stderr, os.Stderr
	_ = test.Run() // failing specs make go test fail; the results file tells
	res, err := readResults(dir)
	if err != nil {
		return peerResult{}, fmt.Errorf("the suite wrote no results: %w", err)
	}
	res.Registry = p.title
	// Rewrite with the title so the committed file names no random port.
	if b, err := json.MarshalIndent(res, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, conformance.ResultsFile), append(b, '\n'), 0o644)
	}
	return peerResult{peer: p, res: res}, nil
}

// summary renders the per-area table and the failures of every peer.
func summary(results []peerResult) string {
	var b strings.Builder
	b.WriteString("# Conformance of other registries\n\n")
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
		if len(r.peer.notes) > 0 {
			b.WriteString("\nExplained:\n\n")
			for _, note := range r.peer.notes {
				b.WriteString("- " + note + "\n")
			}
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
