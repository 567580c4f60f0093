package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/regkit/regkit/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return runBenchReport(args[1:], stdout, stderr)
	}
	var cf clientFlags
	fs := newClientFlagSet("bench", "", stderr, &cf)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: regkit bench [flags]
       regkit bench report --out DIR REPORT.json...

Runs upload, range-read, manifest and blob GET benchmarks against --url, or
an in-process server over --storage (any bucket URL regkit serve takes, with
the embedded metadata store in --dir) or --backend. --report DIR writes
report.json, report.md and one SVG chart per scenario; "regkit bench report"
compares several report.json files (medians of the runs of each target,
ratios to the first target).

flags:
`)
		fs.PrintDefaults()
	}
	scenario := fs.String("scenario", "all", "what to run: "+strings.Join(bench.Scenarios, ", ")+", or all (comma-separated list allowed)")
	sizeFlag := fs.String("size", "256MiB", "size of chunked and monolithic uploads and of the blob the range reads read from")
	chunkFlag := fs.String("chunk", "8MiB,1MiB", "chunk sizes of chunked uploads, one row each (the first also chunks the finish uploads)")
	finishFlag := fs.String("finish-sizes", "1MiB,1GiB", "sizes of the uploads whose final PUT the finish scenario times, one row each")
	rangeFlag := fs.String("range-size", "64KiB", "size of each range read")
	blobFlag := fs.String("blob-size", "16MiB", "size of the blob the blob scenario GETs whole")
	concurrency := fs.Int("concurrency", bench.DefaultConcurrency, "concurrent clients of the range, manifest and blob scenarios")
	duration := fs.Duration("duration", 10*time.Second, "how long each of the range, manifest and blob scenarios runs")
	backend := fs.String("backend", "file", "storage of the in-process server when --storage is not set: file (with the embedded metadata store) or mem (with in-memory metadata)")
	storageURL := fs.String("storage", "", "run the in-process server over this bucket URL (file:///dir, mem://, s3://..., gs://..., azblob://...; credentials from each SDK's environment) with the embedded metadata store in --dir")
	dir := fs.String("dir", "", "data directory of the in-process server (default: a temporary directory, removed afterwards)")
	name := fs.String("name", "", "name of the target in the report (default: the URL, or \"regkit <scheme>+bolt\")")
	reportDir := fs.String("report", "", "write report.json, report.md and <scenario>.svg charts to this directory")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	suite, err := benchSuite(fs, *scenario, *sizeFlag, *chunkFlag, *finishFlag, *rangeFlag, *blobFlag)
	if err != nil {
		return err
	}
	suite.Load = bench.Load{Concurrency: *concurrency, Duration: *duration}
	suite.Seed = uint64(time.Now().UnixNano())
	if err := suite.Validate(); err != nil {
		return usagef(fs, "%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cf.url != "" && (*storageURL != "" || set["backend"]) {
		return usagef(fs, "--url measures a running registry: it does not go with --storage or --backend")
	}
	if *storageURL != "" && set["backend"] {
		return usagef(fs, "--storage and --backend both choose the in-process server's storage: give one")
	}

	target, closeTarget, err := benchTarget(ctx, &cf, *storageURL, *backend, *dir)
	if err != nil {
		return err
	}
	defer closeTarget()
	if *name != "" {
		target.Name = *name
	}
	if err := target.Client.Ping(ctx); err != nil {
		return fmt.Errorf("%s: %w", target.URL, err)
	}

	report := bench.Report{Target: target.Name, Machine: bench.ThisMachine(), Started: time.Now().UTC(),
		Command: benchCommandLine(args)}
	loadStart := bench.LoadAvg()
	if !cf.json {
		fmt.Fprintf(stdout, "target:  %s\nmachine: %s\nload:    %s\n\n", target.Name, report.Machine, loadStart)
		if target.Redirect == nil && *storageURL != "" {
			fmt.Fprintf(stdout, "(the bucket cannot sign URLs: the blob scenario has no redirect row)\n\n")
		}
	}
	// Rows are printed as they come (a run takes a while), so the
	// columns have fixed widths.
	const rowFormat = "%-10s  %-44s  %9s  %9s  %9s  %9s\n"
	if !cf.json {
		fmt.Fprintf(stdout, rowFormat, "SCENARIO", "PARAMETERS", "MB/s", "req/s", "p50", "p99")
	}
	err = suite.Run(ctx, target, func(row bench.Row) {
		report.Rows = append(report.Rows, row)
		if cf.json {
			return
		}
		mbps, req := "-", "-"
		if bench.MetricOf(row.Scenario).Unit == "MB/s" || row.Scenario == "range" {
			mbps = fmt.Sprintf("%.1f", row.MBps)
		}
		if row.Ops > 1 {
			req = fmt.Sprintf("%.1f", row.ReqPerSec)
		}
		fmt.Fprintf(stdout, rowFormat, row.Scenario, row.Parameters, mbps, req, fmtMillis(row.P50ms), fmtMillis(row.P99ms))
		if row.Note != "" {
			fmt.Fprintf(stdout, "%-10s  (%s)\n", "", row.Note)
		}
	})
	if err != nil {
		return err
	}
	if loadStart != "" {
		report.Load = loadStart + " → " + bench.LoadAvg()
	}
	if *reportDir != "" {
		files, err := bench.WriteDir(*reportDir, report)
		if err != nil {
			return err
		}
		if !cf.json {
			fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
		}
	}
	if cf.json {
		return output(stdout, true, report, "")
	}
	return nil
}

// benchSuite parses the size and scenario flags into a suite.
func benchSuite(fs *flag.FlagSet, scenario, size, chunks, finish, rangeSize, blobSize string) (bench.Suite, error) {
	var s bench.Suite
	for _, sc := range strings.Split(scenario, ",") {
		if sc = strings.TrimSpace(sc); sc == "all" {
			s.Scenarios = append(s.Scenarios, bench.Scenarios...)
		} else {
			s.Scenarios = append(s.Scenarios, sc)
		}
	}
	var err error
	if s.Size, err = parseSizeFlag(fs, "size", size); err != nil {
		return s, err
	}
	if s.Chunks, err = parseSizeList(fs, "chunk", chunks); err != nil {
		return s, err
	}
	if s.FinishSizes, err = parseSizeList(fs, "finish-sizes", finish); err != nil {
		return s, err
	}
	if s.RangeSize, err = parseSizeFlag(fs, "range-size", rangeSize); err != nil {
		return s, err
	}
	if s.BlobSize, err = parseSizeFlag(fs, "blob-size", blobSize); err != nil {
		return s, err
	}
	return s, nil
}

// parseSizeList parses a comma-separated list of positive sizes.
func parseSizeList(fs *flag.FlagSet, name, v string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(v, ",") {
		n, err := parseSizeFlag(fs, name, strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, usagef(fs, "--%s: %q is not a positive size", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchTarget returns the registry to measure: --url, or an in-process
// server over --storage or --backend with its data in dir (a temporary
// directory when dir is "").
func benchTarget(ctx context.Context, cf *clientFlags, storageURL, backend, dir string) (*bench.Target, func(), error) {
	if cf.url != "" {
		c, err := cf.client()
		if err != nil {
			return nil, nil, err
		}
		return &bench.Target{URL: cf.url, Client: c, Name: cf.url}, func() {}, nil
	}
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "regkit-bench-")
		if err != nil {
			return nil, nil, err
		}
		dir, cleanup = d, func() { _ = os.RemoveAll(d) }
	}
	var (
		t   *bench.Target
		err error
	)
	if storageURL != "" {
		t, err = bench.StartWith(ctx, dir, bench.Options{Storage: storageURL})
	} else {
		t, err = bench.Start(ctx, bench.Backend(backend), dir)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return t, func() { _ = t.Close(); cleanup() }, nil
}

// benchCommandLine is the command line of a run for its report, with the
// values of --password and --token hidden.
func benchCommandLine(args []string) string {
	out := []string{"regkit", "bench"}
	hide := false
	for _, a := range args {
		switch {
		case hide:
			a, hide = "***", false
		case strings.HasPrefix(a, "-"):
			n, _, withValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if n == "password" || n == "token" {
				if withValue {
					a = a[:strings.Index(a, "=")+1] + "***"
				} else {
					hide = true
				}
			}
		}
		if strings.ContainsAny(a, " &?;\"'") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// fmtMillis formats a latency in milliseconds, or "-" without one.
func fmtMillis(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return (time.Duration(ms * 1e6)).Round(10 * time.Microsecond).String()
}

// runBenchReport is "regkit bench report": merge report.json files into
// one comparison.
func runBenchReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("regkit bench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write report.md, report.json (the combined reports) and the SVG charts to (required)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: regkit bench report --out DIR REPORT.json...

Compares the report.json files of several runs of regkit bench --report:
the runs of one target become the median of each number; the Markdown table
and the SVG charts show each target beside the first, with the ratio.

flags:
`)
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args, -1)
	if err != nil {
		return err
	}
	if *out == "" || len(files) == 0 {
		return usagef(fs, "want --out DIR and at least one report.json")
	}
	var reps []bench.Report
	for _, f := range files {
		rep, err := bench.ReadReport(f)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	written, err := bench.WriteDir(*out, reps...)
	if err != nil {
		return err
	}
	combined := bench.Combine(reps)
	for _, rep := range combined {
		fmt.Fprintf(stdout, "%s: %d rows, %d run(s)\n", rep.Target, len(rep.Rows), max(rep.Runs, 1))
	}
	fmt.Fprintf(stdout, "wrote %s\n", strings.Join(written, ", "))
	return nil
}
