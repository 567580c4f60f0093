package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Row is one line of a report: what a scenario measured with one set of
// parameters.
type Row struct {
	// Scenario is the Result's scenario.
	Scenario string `json:"scenario"`
	// Parameters say what was measured ("256 MiB in 8 MiB chunks"); with
	// Scenario they are the row's key across reports.
	Parameters string  `json:"parameters"`
	MBps       float64 `json:"mb_per_s,omitempty"`
	ReqPerSec  float64 `json:"req_per_s,omitempty"`
	P50ms      float64 `json:"p50_ms,omitempty"`
	P99ms      float64 `json:"p99_ms,omitempty"`
	Ops        int     `json:"ops"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	// Note says what differs from the parameters on this target, if
	// anything.
	Note string `json:"note,omitempty"`
}

// NewRow returns the row of r measured with params.
func NewRow(r Result, params string) Row {
	row := Row{
		Scenario: r.Scenario, Parameters: params, Ops: r.Ops, Bytes: r.Bytes, Seconds: r.Elapsed.Seconds(),
		MBps: r.MBps(), ReqPerSec: r.OpsPerSec(),
	}
	if len(r.Latencies) > 0 {
		row.P50ms = float64(r.Percentile(0.50)) / 1e6
		row.P99ms = float64(r.Percentile(0.99)) / 1e6
	}
	return row
}

// Key identifies the row across reports: scenario and parameters.
func (r Row) Key() string { return r.Scenario + " " + r.Parameters }

// Metric is the headline number of a scenario's rows, the one the
// Markdown comparison and the charts show.
type Metric struct {
	// Unit is "MB/s", "req/s" or "ms".
	Unit string
	// HigherIsBetter is false for times.
	HigherIsBetter bool
}

// MetricOf returns the headline metric of scenario: the time of the final
// PUT, the request rate of range reads and manifest GETs, the throughput
// of everything else.
func MetricOf(scenario string) Metric {
	switch scenario {
	case "finish":
		return Metric{Unit: "ms"}
	case "range", "manifest":
		return Metric{Unit: "req/s", HigherIsBetter: true}
	}
	return Metric{Unit: "MB/s", HigherIsBetter: true}
}

// Value returns the row's headline metric (MetricOf its scenario).
func (r Row) Value() float64 {
	switch MetricOf(r.Scenario).Unit {
	case "ms":
		if r.P50ms > 0 {
			return r.P50ms
		}
		return r.Seconds * 1e3
	case "req/s":
		return r.ReqPerSec
	}
	return r.MBps
}

// Report is the record of one run of a suite (or the medians of several
// runs on one target, Combine): report.json.
type Report struct {
	// Target names the registry measured.
	Target string `json:"target"`
	// Machine is the computer the client ran on (and, for in-process
	// targets, the server).
	Machine Machine `json:"machine"`
	// Load is the machine's load average (1, 5, 15 minutes) at the start
	// and at the end of the run, e.g. "0.52 0.30 0.20 → 2.10 1.02 0.55".
	Load string `json:"load,omitempty"`
	// Started is when the run began.
	Started time.Time `json:"started"`
	// Command is the command line of the run.
	Command string `json:"command,omitempty"`
	// Runs is how many runs the rows are the medians of (0: one).
	Runs int `json:"runs,omitempty"`
	// Rows are the measurements, in the order they were taken.
	Rows []Row `json:"results"`
}

// Scenarios returns the scenarios of rep's rows, in order, once each.
func (rep Report) Scenarios() []string {
	var out []string
	for _, r := range rep.Rows {
		if !slices.Contains(out, r.Scenario) {
			out = append(out, r.Scenario)
		}
	}
	return out
}

// row returns rep's row of key.
func (rep Report) row(key string) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Key() == key {
			return r, true
		}
	}
	return Row{}, false
}

// ReadReport reads a report.json.
func ReadReport(path string) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return Report{}, fmt.Errorf("%s: %w", path, err)
	}
	if rep.Target == "" || len(rep.Rows) == 0 {
		return Report{}, fmt.Errorf("%s: not a regkit bench report (no target or no results)", path)
	}
	return rep, nil
}

// Combine merges the reports of the same target (in the order targets
// first appear) into one report whose every number is the median of its
// runs; Runs counts them, Load lists each run's load.
func Combine(reps []Report) []Report {
	var order []string
	byTarget := map[string][]Report{}
	for _, r := range reps {
		if _, ok := byTarget[r.Target]; !ok {
			order = append(order, r.Target)
		}
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	out := make([]Report, 0, len(order))
	for _, name := range order {
		runs := byTarget[name]
		if len(runs) == 1 {
			out = append(out, runs[0])
			continue
		}
		c := Report{Target: name, Machine: runs[0].Machine, Started: runs[0].Started, Command: runs[0].Command}
		var loads []string
		var keys []string
		rows := map[string][]Row{}
		for _, run := range runs {
			c.Runs += max(run.Runs, 1)
			if run.Load != "" {
				loads = append(loads, run.Load)
			}
			for _, r := range run.Rows {
				if _, ok := rows[r.Key()]; !ok {
					keys = append(keys, r.Key())
				}
				rows[r.Key()] = append(rows[r.Key()], r)
			}
		}
		c.Load = strings.Join(loads, "; ")
		for _, k := range keys {
			c.Rows = append(c.Rows, medianRow(rows[k]))
		}
		out = append(out, c)
	}
	return out
}

// medianRow returns a row whose every number is the median of rs's.
func medianRow(rs []Row) Row {
	m := rs[0]
	med := func(f func(Row) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	m.MBps = med(func(r Row) float64 { return r.MBps })
	m.ReqPerSec = med(func(r Row) float64 { return r.ReqPerSec })
	m.P50ms = med(func(r Row) float64 { return r.P50ms })
	m.P99ms = med(func(r Row) float64 { return r.P99ms })
	m.Seconds = med(func(r Row) float64 { return r.Seconds })
	m.Ops = int(med(func(r Row) float64 { return float64(r.Ops) }) + 0.5)
	m.Bytes = int64(med(func(r Row) float64 { return float64(r.Bytes) }) + 0.5)
	return m
}

// median returns the median of v (the mean of the middle two for an even
// count); v is reordered.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// WriteDir writes reps to dir (created if missing): report.md, the
// Markdown table of them (compared, when there are several targets), one
// SVG chart per scenario (<scenario>.svg), and report.json, the report
// itself when there is one, else the array of them. Reports of one
// target are combined first (Combine). It returns the files written.
func WriteDir(dir string, reps ...Report) ([]string, error) {
	if len(reps) == 0 {
		return nil, errors.New("no report to write")
	}
	reps = Combine(reps)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	write := func(name string, f func(*os.File) error) error {
		p := filepath.Join(dir, name)
		fh, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := errors.Join(f(fh), fh.Close()); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, p)
		return nil
	}
	var v any = reps
	if len(reps) == 1 {
		v = reps[0]
	}
	err := write("report.json", func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
	if err == nil {
		err = write("report.md", func(f *os.File) error { return WriteMarkdown(f, reps) })
	}
	for _, sc := range scenariosOf(reps) {
		if err != nil {
			break
		}
		err = write(sc+".svg", func(f *os.File) error { return WriteSVG(f, sc, reps) })
	}
	return files, err
}

// scenariosOf returns the scenarios of every report, in order, once each.
func scenariosOf(reps []Report) []string {
	var out []string
	for _, rep := range reps {
		for _, s := range rep.Scenarios() {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// keysOf returns the row keys of scenario (every scenario when "") across
// reps, in order of first appearance, with a row that has each.
func keysOf(reps []Report, scenario string) []Row {
	var out []Row
	seen := map[string]bool{}
	for _, rep := range reps {
		for _, r := range rep.Rows {
			if (scenario == "" || r.Scenario == scenario) && !seen[r.Key()] {
				seen[r.Key()] = true
				out = append(out, r)
			}
		}
	}
	return out
}
