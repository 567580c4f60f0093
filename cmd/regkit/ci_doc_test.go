package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/peers/peerreg"
)

// asRegkitEnv makes the test binary act as the regkit command (see
// TestMain), so the CI documentation's commands run this package's code.
const asRegkitEnv = "REGKIT_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asRegkitEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// ciJob is one CI job of docs/ci.md: the commands the test runs and the
// variables they read.
type ciJob struct {
	name   string
	script string
	env    map[string]string
}

// ciJobs extracts the GitHub Actions step "Run the conformance suites" and
// the GitLab job's script from docs/ci.md.
func ciJobs(t *testing.T) []ciJob {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1)
	var jobs []ciJob
	for _, blk := range blocks {
		var gh struct {
			Jobs map[string]struct {
				Env   map[string]string `yaml:"env"`
				Steps []struct {
					Name string `yaml:"name"`
					Run  string `yaml:"run"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(blk[1], &gh); err != nil {
			t.Fatalf("docs/ci.md: a yaml block does not parse: %v", err)
		}
		if job, ok := gh.Jobs["oci-conformance"]; ok {
			for _, s := range job.Steps {
				if s.Name == "Run the conformance suites" {
					jobs = append(jobs, ciJob{name: "github", script: s.Run, env: job.Env})
				}
			}
			continue
		}
		var gl map[string]struct {
			Variables map[string]string `yaml:"variables"`
			Script    []string          `yaml:"script"`
		}
		if err := yaml.Unmarshal(blk[1], &gl); err != nil {
			continue
		}
		if job, ok := gl["oci-conformance"]; ok && len(job.Script) > 0 {
			jobs = append(jobs, ciJob{name: "gitlab", script: strings.Join(job.Script, "\n"), env: job.Variables})
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("docs/ci.md: want the GitHub step and the GitLab script, found %d jobs", len(jobs))
	}
	for _, j := range jobs {
		if !strings.Contains(j.script, "regkit conformance official") {
			t.Fatalf("docs/ci.md %s: the script does not run regkit conformance official:\n%s", j.name, j.script)
		}
	}
	return jobs
}

// runCIJob runs job's commands in a fresh directory against url, with the
// job's variables (REGISTRY_URL pointing at url), regkit on PATH being
// this test binary. It returns the output, the merged report and the
// exit error.
func runCIJob(t *testing.T, job ciJob, url string) (string, conformance.Results, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	shim := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q \"$@\"\n", asRegkitEnv, self)
	if err := os.WriteFile(filepath.Join(bin, "regkit"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "OCI_") && !strings.HasPrefix(kv, conformance.EnvPrefix) && !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	for k, v := range job.env {
		if strings.Contains(v, "${{") { // a GitHub secret: none in this test
			v = ""
		}
		if k == "REGISTRY_URL" {
			v = url
		}
		env = append(env, k+"="+v)
	}
	if _, ok := job.env["REGISTRY_URL"]; !ok {
		t.Fatalf("docs/ci.md %s: the job sets no REGISTRY_URL", job.name)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", job.script)
	cmd.Dir, cmd.Env = dir, env
	out, runErr := cmd.CombinedOutput()
	var res conformance.Results
	b, err := os.ReadFile(filepath.Join(dir, "conformance-report", conformance.ResultsFile))
	if err != nil {
		t.Fatalf("docs/ci.md %s: no merged report (%v): %v\n%s", job.name, runErr, err, tailString(string(out), 4000))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{conformance.JUnitFile, conformance.HTMLFile, "official/junit.xml", "official/report.html"} {
		if _, err := os.Stat(filepath.Join(dir, "conformance-report", f)); err != nil {
			t.Errorf("docs/ci.md %s: the report lacks %s", job.name, f)
		}
	}
	if res.Official == nil {
		t.Fatalf("docs/ci.md %s: the report has no official results", job.name)
	}
	return string(out), res, runErr
}

// TestCIDocAgainstRegkit runs the commands of docs/ci.md against regkit
// serve (with --auto-mount --sparse-manifests, as the page suggests for
// testing regkit): both suites pass, nothing fails.
func TestCIDocAgainstRegkit(t *testing.T) {
	for _, job := range ciJobs(t) {
		t.Run(job.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			cfg.Addr, cfg.Data = "127.0.0.1:0", t.TempDir()
			cfg.AutoMount, cfg.SparseManifests = true, true
			cfg.GCInterval = 0
			addr, stop := startServe(t, cfg)
			defer stop()
			out, res, err := runCIJob(t, job, "http://"+addr)
			if err != nil || res.Summary.Failed != 0 || res.Official.Summary.Failed != 0 {
				t.Fatalf("docs/ci.md %s against regkit serve: %v\n%s", job.name, err, tailString(out, 6000))
			}
			if res.Official.Summary.Passed < 800 || res.Summary.Passed < 300 {
				t.Fatalf("too few tests ran: official %+v, regkit %+v", res.Official.Summary, res.Summary)
			}
			t.Logf("%s job against regkit serve: %s", job.name, lastLine(out))
		})
	}
}

// TestCIDocAgainstDistribution runs the same commands against CNCF
// Distribution v3.1.2 (installed with go install, as make
// conformance-peers does): they fail, and the report shows the official
// harness failing on referrers and on sha512.
func TestCIDocAgainstDistribution(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := peerreg.Distribution(ctx)
	if err != nil {
		t.Fatalf("CNCF Distribution %s: %v", peerreg.DistributionVersion, err)
	}
	for _, job := range ciJobs(t) {
		t.Run(job.name, func(t *testing.T) {
			url, stop, err := peerreg.StartDistribution(ctx, bin, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			out, res, runErr := runCIJob(t, job, url)
			if runErr == nil {
				t.Fatalf("docs/ci.md %s passed against Distribution %s:\n%s", job.name, peerreg.DistributionVersion, tailString(out, 4000))
			}
			var referrers, sha512 int
			for _, s := range res.Official.Specs {
				if s.Status != conformance.StatusFailed {
					continue
				}
				if strings.HasSuffix(s.Name, "/referrers") {
					referrers++
				}
				if strings.Contains(s.Name, "sha512") {
					sha512++
				}
			}
			if referrers == 0 || sha512 == 0 {
				t.Errorf("official harness failures on referrers: %d, on sha512: %d; want both > 0", referrers, sha512)
			}
			if g := res.Routes["end-12a"]; g == nil || g.Official == nil || g.Official.Failed == 0 {
				t.Errorf("route end-12a shows no official failure: %+v", g)
			}
			t.Logf("%s job against Distribution %s: %s (official failures: %d on referrers, %d on sha512)", job.name, peerreg.DistributionVersion, lastLine(out), referrers, sha512)
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
