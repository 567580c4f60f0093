// Package official runs the official OCI Distribution conformance harness
// (github.com/opencontainers/distribution-spec/conformance, pinned in
// regkit's go.mod as a tool) against a registry and reads its verdicts:
// the closing counts it prints and the test cases of its junit.xml, each
// mapped to the spec/oci route IDs it exercises.
//
// The harness is a Go program configured by OCI_* environment variables;
// Options.Env turns Options into them with every API and data option on
// (OCI_VERSION=dev, sparse manifests, upload cancellation, digest headers,
// ?tag= parameters, anonymous mounts, sha512, ...). OCI_* variables of the
// caller's environment override those defaults, and Options.Settings
// override both.
package official

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Module and Version pin the official harness; go.mod's tool directive
// names the same module at the same version (a test checks it).
const (
	Module  = "github.com/opencontainers/distribution-spec/conformance"
	Version = "v0.0.0-20260831232431-97274622c111"
)

// ErrNoJUnit is returned, with the closing counts, when the harness
// printed its counts but wrote no junit.xml.
var ErrNoJUnit = errors.New("official harness wrote no junit.xml")

// HarnessEnv names the variable that points at a built harness binary.
const HarnessEnv = "REGKIT_OFFICIAL_HARNESS"

// Options configure one run of the harness.
type Options struct {
	// URL is the registry's base URL (http:// or https://, no path).
	URL string
	// Username and Password log in; empty runs anonymously.
	Username, Password string
	// Repo1 and Repo2 are the repositories the harness pushes to (the
	// second is the source of cross-repository mounts).
	Repo1, Repo2 string
	// ResultsDir receives the harness's junit.xml, results.yaml and
	// report.html.
	ResultsDir string
	// Harness is the command that runs the harness; empty uses Command.
	Harness []string
	// InsecureTLS accepts any certificate on https.
	InsecureTLS bool
	// Settings are OCI_* variables that override every other source.
	Settings map[string]string
	// Environ is the environment the harness starts from (os.Environ when
	// nil); its OCI_* variables override Defaults.
	Environ []string
	// Log receives the harness's stderr (its log lines); nil discards it.
	Log io.Writer
}

// Defaults are the harness settings of a run with every API and data
// option on, besides the registry, repositories and credentials.
func Defaults() map[string]string {
	m := map[string]string{
		"OCI_VERSION":    "dev",
		"OCI_LOG":        "warn",
		"OCI_CACHE_AUTH": "true",
	}
	for _, k := range []string{
		"API_PULL", "API_PUSH",
		"API_BLOBS_ATOMIC", "API_BLOBS_DELETE", "API_BLOBS_DIGEST_HEADER", "API_BLOBS_MOUNT_ANONYMOUS", "API_BLOBS_UPLOAD_CANCEL",
		"API_MANIFESTS_ATOMIC", "API_MANIFESTS_DELETE", "API_MANIFESTS_DIGEST_HEADER", "API_MANIFESTS_TAG_PARAM",
		"API_TAGS_ATOMIC", "API_TAGS_DELETE", "API_TAGS_LIST", "API_REFERRER",
		"DATA_IMAGE", "DATA_INDEX", "DATA_INDEX_LIST", "DATA_SPARSE", "DATA_ARTIFACT", "DATA_SUBJECT",
		"DATA_SUBJECT_MISSING", "DATA_ARTIFACT_LIST", "DATA_SUBJECT_LIST", "DATA_DATA_FIELD",
		"DATA_NONDISTRIBUTABLE", "DATA_CUSTOM_FIELDS", "DATA_NO_LAYERS", "DATA_EMPTY_BLOB", "DATA_SHA512",
	} {
		m["OCI_"+k] = "true"
	}
	return m
}

// Env returns every OCI_* variable of the run: Defaults, then the
// registry, repositories, credentials and results directory of o, then
// the OCI_* variables of o.Environ, then o.Settings.
func (o Options) Env() (map[string]string, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("official harness: registry URL %q: want http(s)://host[:port]", o.URL)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		return nil, fmt.Errorf("official harness: registry URL %q: the harness cannot test a registry under a path (%s)", o.URL, p)
	}
	if o.Repo1 == "" || o.Repo2 == "" {
		return nil, errors.New("official harness: two repositories are needed")
	}
	m := Defaults()
	m["OCI_REGISTRY"] = u.Host
	switch {
	case u.Scheme == "http":
		m["OCI_TLS"] = "disabled"
	case o.InsecureTLS:
		m["OCI_TLS"] = "insecure"
	default:
		m["OCI_TLS"] = "enabled"
	}
	m["OCI_REPO1"], m["OCI_REPO2"] = o.Repo1, o.Repo2
	m["OCI_USERNAME"], m["OCI_PASSWORD"] = o.Username, o.Password
	if o.ResultsDir != "" {
		dir, err := filepath.Abs(o.ResultsDir)
		if err != nil {
			return nil, err
		}
		m["OCI_RESULTS_DIR"] = dir
	}
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "OCI_") && v != "" {
			m[k] = v
		}
	}
	for k, v := range o.Settings {
		m[k] = v
	}
	return m, nil
}

// Command returns the command that runs the pinned harness: the binary
// named by REGKIT_OFFICIAL_HARNESS, else `go run Module@Version` (the Go
// toolchain fetches and builds exactly that version, once).
func Command() ([]string, error) {
	if p := os.Getenv(HarnessEnv); p != "" {
		return []string{p}, nil
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("official harness: set %s to a built harness, or install Go so that `go run %s@%s` can build it: %w", HarnessEnv, Module, Version, err)
	}
	return []string{gobin, "run", Module + "@" + Version}, nil
}

// Run runs the harness and reads its results. A registry that fails tests
// is not an error (see Result.Counts); an error means the harness could
// not run or left no report (ErrNoJUnit comes with the Result of its
// closing counts).
func Run(ctx context.Context, o Options) (*Result, error) {
	settings, err := o.Env()
	if err != nil {
		return nil, err
	}
	dir := settings["OCI_RESULTS_DIR"]
	if dir == "" {
		return nil, errors.New("official harness: a results directory is needed")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"junit.xml", "results.yaml", "report.html"} {
		_ = os.Remove(filepath.Join(dir, f)) // never read a previous run's verdicts
	}
	harness := o.Harness
	if len(harness) == 0 {
		if harness, err = Command(); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, harness[0], harness[1:]...)
	cmd.Dir = dir // the harness reads ./oci-conformance.yaml when present: run where none is
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = []string{"OCI_CONFIGURATION="}
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OCI_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+settings[k])
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.Discard
	if o.Log != nil {
		cmd.Stderr = o.Log
	}
	runErr := cmd.Run()
	res := &Result{Output: stdout.String(), Dir: dir}
	counts, ok := parseCounts(res.Output)
	if !ok {
		return nil, fmt.Errorf("official harness %s: no closing counts in its output (%v): %s", strings.Join(harness, " "), runErr, tail(res.Output, 2000))
	}
	res.Counts = counts
	junit, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		// With OCI_FILTER_TEST the harness fails to write results.yaml for
		// the APIs it did not test, and stops before junit.xml.
		return res, fmt.Errorf("%w (%v): %w", ErrNoJUnit, runErr, err)
	}
	if res.Cases, err = ParseJUnit(junit); err != nil {
		return nil, err
	}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return nil, fmt.Errorf("official harness: %w", runErr)
	}
	return res, nil
}

// Result is what one run of the harness found.
type Result struct {
	// Counts are the closing counts the harness printed.
	Counts Counts
	// Cases are the test cases of its junit.xml.
	Cases []Case
	// Output is what it printed on stdout (its result tree and counts).
	Output string
	// Dir holds its junit.xml, results.yaml and report.html.
	Dir string
}

// Counts are the harness's closing counts ("OCI Conformance Result" and
// the status lines after it).
type Counts struct {
	Result                                   string
	Disabled, Skip, Pass, Fail, Error, Total int
}

// Line renders the counts as "official harness: N passed, N failed, N
// skipped" followed by the harness's own terms.
func (c Counts) Line() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped (harness: Pass %d, FAIL %d, Error %d, Skip %d, Disabled %d, Total %d, result %s)",
		c.Pass, c.Fail+c.Error, c.Skip+c.Disabled, c.Pass, c.Fail, c.Error, c.Skip, c.Disabled, c.Total, c.Result)
}

var (
	resultRE = regexp.MustCompile(`(?m)^OCI Conformance Result: (\S+)`)
	countRE  = regexp.MustCompile(`(?m)^  (Disabled|Skip|Pass|FAIL|Error|Total)\.*:\s+(\d+)$`)
)

// parseCounts reads the closing counts from the harness's stdout.
func parseCounts(out string) (Counts, bool) {
	i := resultRE.FindStringSubmatchIndex(out)
	if i == nil {
		return Counts{}, false
	}
	c := Counts{Result: out[i[2]:i[3]]}
	seen := 0
	for _, m := range countRE.FindAllStringSubmatch(out[i[1]:], 6) {
		n, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "Disabled":
			c.Disabled = n
		case "Skip":
			c.Skip = n
		case "Pass":
			c.Pass = n
		case "FAIL":
			c.Fail = n
		case "Error":
			c.Error = n
		case "Total":
			c.Total = n
		}
		seen++
	}
	return c, seen == 6
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
