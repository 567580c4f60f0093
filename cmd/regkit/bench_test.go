package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/regkit/regkit/bench"
	"github.com/regkit/regkit/server/storage/emulators"
)

func TestBenchCommand(t *testing.T) {
	code, out, errOut := regkit(t, nil, "bench", "--size", "1MiB", "--chunk", "256KiB", "--range-size", "4KiB",
		"--finish-sizes", "64KiB,1MiB", "--blob-size", "64KiB", "--duration", "100ms", "--concurrency", "2", "--backend", "mem")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"machine:", "load:", "sha256", "chunked", "monolithic", "finish", "range", "manifest", "blob", "p99"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	url := testRegistry(t)
	code, out, errOut = regkit(t, nil, "bench", "--url", url, "--json", "--scenario", "range,manifest",
		"--size", "64KiB", "--range-size", "1KiB", "--duration", "100ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Target != url || len(rep.Rows) != 2 || rep.Rows[0].Scenario != "range" || rep.Rows[1].ReqPerSec <= 0 || rep.Machine.NumCPU == 0 {
		t.Fatalf("report %+v", rep)
	}

	for _, bad := range [][]string{
		{"--scenario", "nope"},
		{"--chunk", "1MiB,0"},
		{"--url", url, "--storage", "mem://"},
		{"--storage", "mem://", "--backend", "file"},
		{"report", "--out", t.TempDir()},
	} {
		if code, _, errOut := regkit(t, nil, append([]string{"bench"}, bad...)...); code != 2 {
			t.Errorf("bench %q: exit %d, want 2 (%s)", bad, code, errOut)
		}
	}
	if code, _, errOut := regkit(t, nil, "bench", "--storage", "nope"); code == 0 || !strings.Contains(errOut, "nope") {
		t.Errorf("bench --storage nope: exit %d, %s", code, errOut)
	}
}

// benchSizes are the tiny sizes of the end-to-end runs of regkit bench.
var benchSizes = []string{"--size", "2MiB", "--chunk", "1MiB,512KiB", "--finish-sizes", "64KiB,3MiB",
	"--range-size", "4KiB", "--blob-size", "256KiB", "--duration", "200ms", "--concurrency", "2"}

// runBenchReport runs regkit bench with args and benchSizes, writing its
// report to a new directory, and returns the report read back and the
// directory.
func runBenchReportCmd(t *testing.T, args ...string) (bench.Report, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "report")
	code, out, errOut := regkit(t, nil, append(append([]string{"bench", "--report", dir}, benchSizes...), args...)...)
	if code != 0 {
		t.Fatalf("regkit bench %q: exit %d: %s\n%s", args, code, errOut, out)
	}
	rep, err := bench.ReadReport(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return rep, dir
}

// checkBenchReport checks the rows of a report of a benchSizes run and
// the files beside it; redirect says whether the target redirects blob
// GETs (a bucket that signs).
func checkBenchReport(t *testing.T, rep bench.Report, dir string, redirect bool) {
	t.Helper()
	const mib = 1 << 20
	want := map[string]func(bench.Row) bool{
		"sha256 one core: the yardstick of uploads":         func(r bench.Row) bool { return r.Bytes == 2*mib && r.MBps > 0 },
		"chunked 2MiB in 1MiB chunks":                       func(r bench.Row) bool { return r.Bytes == 2*mib && r.Ops >= 1 && r.MBps > 0 },
		"chunked 2MiB in 512KiB chunks":                     func(r bench.Row) bool { return r.Bytes == 2*mib && r.Ops >= 1 && r.MBps > 0 },
		"monolithic 2MiB in one POST":                       func(r bench.Row) bool { return r.Bytes == 2*mib && r.Ops == 1 },
		"finish final PUT of 64KiB":                         func(r bench.Row) bool { return r.Bytes == 64<<10 && r.Ops == 1 && r.P50ms > 0 },
		"finish final PUT of 3MiB":                          func(r bench.Row) bool { return r.Bytes == 3*mib && r.Ops == 1 && r.P50ms > 0 },
		"range 4KiB ranges of 2MiB, 2 clients":              func(r bench.Row) bool { return r.Ops > 0 && r.Bytes == int64(r.Ops)*4<<10 && r.ReqPerSec > 0 },
		"manifest GET by tag, 2 clients":                    func(r bench.Row) bool { return r.Ops > 0 && r.Bytes > int64(r.Ops)*100 && r.ReqPerSec > 0 },
		"blob whole 256KiB, 2 clients":                      func(r bench.Row) bool { return r.Ops > 0 && r.Bytes == int64(r.Ops)*256<<10 },
		"blob whole 256KiB, 2 clients, 307 to a signed URL": func(r bench.Row) bool { return r.Ops > 0 && r.Bytes == int64(r.Ops)*256<<10 },
	}
	if !redirect {
		delete(want, "blob whole 256KiB, 2 clients, 307 to a signed URL")
	}
	var keys []string
	for _, r := range rep.Rows {
		keys = append(keys, r.Key())
		ok, known := want[r.Key()]
		if !known {
			t.Errorf("unexpected row %+v", r)
		} else if !ok(r) {
			t.Errorf("row %q is not sane: %+v", r.Key(), r)
		}
	}
	for k := range want {
		if !slices.Contains(keys, k) {
			t.Errorf("no row %q in %q", k, keys)
		}
	}
	if rep.Machine.NumCPU == 0 || rep.Load == "" || !strings.Contains(rep.Command, "--report") || rep.Started.IsZero() {
		t.Errorf("report header: %+v", rep)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{"sha256", "chunked", "monolithic", "finish", "range", "manifest", "blob"} {
		if !strings.Contains(string(md), "| "+sc+" |") {
			t.Errorf("report.md has no %s row:\n%s", sc, md)
		}
		if fi, err := os.Stat(filepath.Join(dir, sc+".svg")); err != nil || fi.Size() == 0 {
			t.Errorf("chart of %s: %v", sc, err)
		}
	}
}

// TestBenchStorage runs regkit bench --storage end to end at tiny sizes on
// mem:// and on the S3 emulator (whose bucket signs, so the blob scenario
// has a redirect row), then compares the two reports with regkit bench
// report.
func TestBenchStorage(t *testing.T) {
	memRep, memDir := runBenchReportCmd(t, "--storage", "mem://")
	if memRep.Target != "regkit mem+bolt" {
		t.Errorf("target %q", memRep.Target)
	}
	checkBenchReport(t, memRep, memDir, false)

	e := emulators.Start(t, emulators.S3)
	s3Rep, s3Dir := runBenchReportCmd(t, "--storage", e.NewBucket(t), "--name", "regkit on versitygw")
	if s3Rep.Target != "regkit on versitygw" {
		t.Errorf("target %q", s3Rep.Target)
	}
	checkBenchReport(t, s3Rep, s3Dir, true)
	// S3 advertises OCI-Chunk-Min-Length (5MiB): the chunked rows say
	// they were sent in larger chunks.
	for _, r := range s3Rep.Rows {
		if r.Scenario == "chunked" && (r.Ops != 1 || !strings.Contains(r.Note, "5MiB")) {
			t.Errorf("S3 chunked row %+v: want one 5MiB PATCH and a note", r)
		}
	}

	out := filepath.Join(t.TempDir(), "compared")
	code, stdout, errOut := regkit(t, nil, "bench", "report", "--out", out,
		filepath.Join(memDir, "report.json"), filepath.Join(s3Dir, "report.json"), filepath.Join(s3Dir, "report.json"))
	if code != 0 {
		t.Fatalf("bench report: exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "regkit on versitygw: 10 rows, 2 run(s)") {
		t.Errorf("bench report output:\n%s", stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| regkit mem+bolt | regkit on versitygw |") || !strings.Contains(string(md), "(×") {
		t.Errorf("compared report.md:\n%s", md)
	}
	var combined []bench.Report
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err == nil {
		err = json.Unmarshal(b, &combined)
	}
	if err != nil || len(combined) != 2 || combined[1].Runs != 2 {
		t.Errorf("combined report.json: %v, %d reports", err, len(combined))
	}
}
