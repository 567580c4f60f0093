package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/regkit/regkit/bench"
	"github.com/regkit/regkit/internal/bytesize"
)

// benchScenarios are the scenarios of regkit bench, in the order "all"
// runs them.
var benchScenarios = []string{"chunked", "monolithic", "finish", "range", "manifest"}

// benchRow is one line of the report.
type benchRow struct {
	Scenario   string  `json:"scenario"`
	Parameters string  `json:"parameters"`
	MBps       float64 `json:"mb_per_s,omitempty"`
	ReqPerSec  float64 `json:"req_per_s,omitempty"`
	P50ms      float64 `json:"p50_ms,omitempty"`
	P99ms      float64 `json:"p99_ms,omitempty"`
	Ops        int     `json:"ops"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

func newBenchRow(r bench.Result, params string) benchRow {
	row := benchRow{
		Scenario: r.Scenario, Parameters: params, Ops: r.Ops, Bytes: r.Bytes, Seconds: r.Elapsed.Seconds(),
		MBps: r.MBps(), ReqPerSec: r.OpsPerSec(),
	}
	if len(r.Latencies) > 0 {
		row.P50ms = float64(r.Percentile(0.50)) / 1e6
		row.P99ms = float64(r.Percentile(0.99)) / 1e6
	}
	return row
}

// benchReport is the JSON form of a run.
type benchReport struct {
	Target  string        `json:"target"`
	Machine bench.Machine `json:"machine"`
	Rows    []benchRow    `json:"results"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("bench", "", stderr, &cf)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: regkit bench [flags]\n\nRuns upload, range-read and manifest benchmarks against --url, or an\nin-process server on a temporary directory.\n\nflags:\n")
		fs.PrintDefaults()
	}
	scenario := fs.String("scenario", "all", "what to run: "+strings.Join(benchScenarios, ", ")+", or all (comma-separated list allowed)")
	sizeFlag := fs.String("size", "256MiB", "size of the uploaded blobs and of the blob range reads read from")
	chunkFlag := fs.String("chunk", "8MiB", "chunk size of chunked uploads")
	rangeFlag := fs.String("range-size", "64KiB", "size of each range read")
	concurrency := fs.Int("concurrency", bench.DefaultConcurrency, "concurrent clients of the range and manifest scenarios")
	duration := fs.Duration("duration", 10*time.Second, "how long the range and manifest scenarios run")
	backend := fs.String("backend", "file", "storage of the in-process server: file (with the embedded metadata store) or mem")
	dir := fs.String("dir", "", "data directory of the in-process server (default: a temporary directory, removed afterwards)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	size, err := parseSizeFlag(fs, "size", *sizeFlag)
	if err != nil {
		return err
	}
	chunk, err := parseSizeFlag(fs, "chunk", *chunkFlag)
	if err != nil {
		return err
	}
	rangeSize, err := parseSizeFlag(fs, "range-size", *rangeFlag)
	if err != nil {
		return err
	}
	var run []string
	for _, s := range strings.Split(*scenario, ",") {
		switch s = strings.TrimSpace(s); {
		case s == "all":
			run = append(run, benchScenarios...)
		case slices.Contains(benchScenarios, s):
			run = append(run, s)
		default:
			return usagef(fs, "unknown scenario %q (want %s or all)", s, strings.Join(benchScenarios, ", "))
		}
	}
	if size < rangeSize && slices.Contains(run, "range") {
		return usagef(fs, "--size %s is smaller than --range-size %s", *sizeFlag, *rangeFlag)
	}

	var target *bench.Target
	if cf.url != "" {
		c, err := cf.client()
		if err != nil {
			return err
		}
		target = &bench.Target{URL: cf.url, Client: c, Name: cf.url}
	} else {
		d := *dir
		if d == "" {
			if d, err = os.MkdirTemp("", "regkit-bench-"); err != nil {
				return err
			}
			defer os.RemoveAll(d)
		}
		if target, err = bench.Start(ctx, bench.Backend(*backend), d); err != nil {
			return err
		}
		defer target.Close()
	}
	if err := target.Client.Ping(ctx); err != nil {
		return fmt.Errorf("%s: %w", target.URL, err)
	}

	report := benchReport{Target: target.Name, Machine: bench.ThisMachine()}
	if !cf.json {
		fmt.Fprintf(stdout, "target:  %s\nmachine: %s\n\n", target.Name, report.Machine)
	}
	// Rows are printed as they come (a run takes a while), so the
	// columns have fixed widths.
	const rowFormat = "%-10s  %-40s  %9s  %9s  %9s  %9s\n"
	if !cf.json {
		fmt.Fprintf(stdout, rowFormat, "SCENARIO", "PARAMETERS", "MB/s", "req/s", "p50", "p99")
	}
	add := func(r bench.Result, params string) {
		row := newBenchRow(r, params)
		report.Rows = append(report.Rows, row)
		if cf.json {
			return
		}
		mbps, req := "-", "-"
		switch r.Scenario {
		case "sha256", "chunked", "monolithic", "range":
			mbps = fmt.Sprintf("%.1f", row.MBps)
		}
		if r.Ops > 1 {
			req = fmt.Sprintf("%.1f", row.ReqPerSec)
		}
		fmt.Fprintf(stdout, rowFormat, row.Scenario, row.Parameters, mbps, req, fmtLatency(r, 0.50), fmtLatency(r, 0.99))
	}
	c := target.Client
	seed := uint64(time.Now().UnixNano())
	load := bench.Load{Concurrency: *concurrency, Duration: *duration}
	if slices.Contains(run, "chunked") || slices.Contains(run, "monolithic") {
		add(bench.SHA256(min(size, 256<<20)), "one core: the yardstick of uploads")
	}
	for _, s := range run {
		var err error
		switch s {
		case "chunked":
			var r bench.Result
			if r, err = bench.ChunkedUpload(ctx, c, "regkit-bench/chunked", size, chunk, seed); err == nil {
				add(r, fmt.Sprintf("%s in %s chunks", bytesize.Format(size), bytesize.Format(chunk)))
			}
		case "monolithic":
			var r bench.Result
			if r, err = bench.MonolithicUpload(ctx, c, "regkit-bench/monolithic", size, seed+1); err == nil {
				add(r, bytesize.Format(size)+" in one POST")
			}
		case "finish":
			for i, sz := range []int64{1 << 20, size} {
				var r bench.Result
				if r, err = bench.FinishUpload(ctx, c, "regkit-bench/finish", sz, chunk, seed+2+uint64(i)); err != nil {
					break
				}
				add(r, "closing PUT of "+bytesize.Format(sz))
			}
		case "range":
			d, perr := bench.PrepareRangeBlob(ctx, c, "regkit-bench/range", size, 7)
			if err = perr; err == nil {
				var r bench.Result
				if r, err = bench.RangeRead(ctx, c, "regkit-bench/range", d, size, rangeSize, load); err == nil {
					add(r, fmt.Sprintf("%s ranges of %s, %d clients", bytesize.Format(rangeSize), bytesize.Format(size), load.Concurrency))
				}
			}
		case "manifest":
			if _, err = bench.PrepareManifest(ctx, c, "regkit-bench/manifest", "latest"); err == nil {
				var r bench.Result
				if r, err = bench.ManifestGet(ctx, c, "regkit-bench/manifest", "latest", load); err == nil {
					add(r, fmt.Sprintf("GET by tag, %d clients", load.Concurrency))
				}
			}
		}
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s, err)
		}
	}
	if cf.json {
		return output(stdout, true, report, "")
	}
	return nil
}

// fmtLatency formats a percentile of r, or "-" without latencies.
func fmtLatency(r bench.Result, p float64) string {
	if len(r.Latencies) < 2 {
		if len(r.Latencies) == 1 {
			return r.Latencies[0].Round(10 * time.Microsecond).String()
		}
		return "-"
	}
	return r.Percentile(p).Round(10 * time.Microsecond).String()
}
