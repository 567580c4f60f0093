package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/oci"
	"github.com/regkit/regkit/conformance/official"
)

// officialReportDir is where the harness's own reports go inside --report.
const officialReportDir = "official"

// runConformanceOfficial implements "regkit conformance official": it runs
// the pinned official OCI conformance harness against any registry with
// every API and data option on (or as the feature flags and OCI_*
// variables set them), then regkit's own OCI suite (unless -regkit=false),
// and writes one report with both verdicts side by side per route ID. It
// exits 1 when either failed anything. args are those after "official".
func runConformanceOfficial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := conformance.Default()
	fs := flag.NewFlagSet("regkit conformance official", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	harness := fs.String("harness", "", "built official harness binary (env "+official.HarnessEnv+"; default: go run "+official.Module+"@"+official.Version+")")
	withRegkit := fs.Bool("regkit", true, "also run regkit's own OCI suite into the same report")
	verbose := fs.Bool("v", false, "print the harness's whole result tree and its log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: regkit conformance official --url URL [--namespace NS] [--username U --password P] [--report DIR] [--regkit=false]")
		fmt.Fprintln(stderr, "\nOCI_* variables in the environment override the harness settings (see docs/ci.md).")
		fs.PrintDefaults()
	}
	if err := parseConformanceFlags(fs, cfg, args); err != nil {
		return err
	}
	if cfg.Token != "" && cfg.Username == "" {
		return fmt.Errorf("%w: the official harness logs in with --username and --password only", errUsage)
	}
	fmt.Fprintf(stdout, "regkit conformance official: harness %s@%s; %s\n", official.Module, official.Version, cfg)

	o, cleanup, err := officialOptions(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if *harness != "" {
		o.Harness = []string{*harness}
	}
	if *verbose {
		o.Log = stderr
	}
	if err := detectSparse(ctx, cfg, &o, stdout); err != nil {
		return err
	}
	res, err := official.Run(ctx, o)
	if err != nil {
		return err
	}
	if *verbose {
		fmt.Fprint(stdout, res.Output)
	}
	for _, c := range res.Cases {
		if c.Failed() {
			fmt.Fprintf(stdout, "official FAIL %s: %s\n", c.Name, firstLine(c.Message))
		}
	}
	offLine := res.Counts.Line()
	total := conformance.Summary{Passed: res.Counts.Pass, Failed: res.Counts.Fail + res.Counts.Error, Skipped: res.Counts.Skip + res.Counts.Disabled}

	var regkitSum *conformance.Summary
	if *withRegkit {
		sum, err := conformance.Run(ctx, cfg, oci.Register)
		if err != nil {
			return err
		}
		regkitSum = &sum
		total.Passed += sum.Passed
		total.Failed += sum.Failed
		total.Skipped += sum.Skipped + sum.Unsupported
	}
	if cfg.ReportDir != "" {
		if err := conformance.MergeOfficial(cfg.ReportDir, res.Report(officialReportDir)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reports: %s/{%s,%s,%s} (the harness's own: %s/)\n", cfg.ReportDir, conformance.JUnitFile, conformance.ResultsFile, conformance.HTMLFile, filepath.Join(cfg.ReportDir, officialReportDir))
	}
	fmt.Fprintf(stdout, "official harness: %s\n", offLine)
	if regkitSum != nil {
		fmt.Fprintf(stdout, "regkit suite: %s (%d unsupported)\n", regkitSum.Line(), regkitSum.Unsupported)
	}
	fmt.Fprintln(stdout, total.Line())
	if total.Failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

// officialOptions turns cfg into the harness's options: two fresh
// repositories under cfg.Namespace, the credentials, the results directory
// (<report>/official, or a temporary one that cleanup removes), and the
// features cfg switches off.
func officialOptions(cfg *conformance.Config) (official.Options, func(), error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return official.Options{}, nil, err
	}
	base := cfg.Namespace + "/official-" + hex.EncodeToString(b[:])
	o := official.Options{
		URL:         cfg.URL,
		Username:    cfg.Username,
		Password:    cfg.Password.Value(),
		Repo1:       base + "/repo1",
		Repo2:       base + "/repo2",
		InsecureTLS: cfg.InsecureTLS,
		Settings:    map[string]string{},
	}
	cleanup := func() {}
	if cfg.ReportDir != "" {
		o.ResultsDir = filepath.Join(cfg.ReportDir, officialReportDir)
	} else {
		dir, err := os.MkdirTemp("", "regkit-official-")
		if err != nil {
			return o, nil, err
		}
		o.ResultsDir = dir
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	off := func(f conformance.Feature, keys ...string) {
		if f == conformance.FeatureOff {
			for _, k := range keys {
				o.Settings[k] = "false"
			}
		}
	}
	off(cfg.Referrers, "OCI_API_REFERRER")
	off(cfg.Delete, "OCI_API_BLOBS_DELETE", "OCI_API_MANIFESTS_DELETE", "OCI_API_TAGS_DELETE")
	off(cfg.AutoMount, "OCI_API_BLOBS_MOUNT_ANONYMOUS")
	off(cfg.SHA512, "OCI_DATA_SHA512")
	return o, cleanup, nil
}

// sparseFilter selects the harness's sparse-manifest tests.
const sparseFilter = "OCI Conformance Test/sparse"

// detectSparse settles whether the registry accepts sparse manifests
// (images and indexes whose blobs or children are missing), unless
// OCI_DATA_SPARSE is set: -missing-blob-check on means it does not, off
// that it does, auto runs the harness's sparse tests alone to find out.
// Both suites then test the registry as it is configured: the harness's
// sparse data only where it is accepted, regkit's refusal specs only where
// it is not.
func detectSparse(ctx context.Context, cfg *conformance.Config, o *official.Options, stdout io.Writer) error {
	if os.Getenv("OCI_DATA_SPARSE") != "" {
		return nil
	}
	sparse := cfg.MissingBlobCheck == conformance.FeatureOff
	if cfg.MissingBlobCheck == conformance.FeatureAuto || cfg.MissingBlobCheck == "" {
		probe := *o
		probe.Settings = map[string]string{"OCI_FILTER_TEST": sparseFilter, "OCI_DATA_SPARSE": "true"}
		for k, v := range o.Settings {
			probe.Settings[k] = v
		}
		dir, err := os.MkdirTemp("", "regkit-official-probe-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		probe.ResultsDir, probe.Log = dir, nil
		res, err := official.Run(ctx, probe)
		if err != nil && !errors.Is(err, official.ErrNoJUnit) {
			return fmt.Errorf("sparse manifest probe: %w", err)
		}
		sparse = res.Counts.Pass > 0 && res.Counts.Fail == 0 && res.Counts.Error == 0
		if sparse {
			cfg.MissingBlobCheck = conformance.FeatureOff
		} else {
			cfg.MissingBlobCheck = conformance.FeatureOn
		}
	}
	o.Settings["OCI_DATA_SPARSE"] = strconv.FormatBool(sparse)
	fmt.Fprintf(stdout, "sparse manifests accepted: %t (official OCI_DATA_SPARSE=%t, regkit missing-blob-check=%s)\n", sparse, sparse, cfg.MissingBlobCheck)
	return nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
