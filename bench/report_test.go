package bench

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testReports are two targets' reports: a measured everything, b (whose
// name needs escaping everywhere) lacks the large final PUT and has
// chunked at half of a's throughput, in two runs.
func testReports() []Report {
	a := Report{Target: "regkit s3+bolt", Machine: ThisMachine(), Load: "0.10 0.20 0.30 → 1.00 0.50 0.40", Rows: []Row{
		{Scenario: "chunked", Parameters: "256MiB in 8MiB chunks", MBps: 200, Ops: 32, Bytes: 256 << 20, Seconds: 1.3},
		{Scenario: "chunked", Parameters: "256MiB in 1MiB chunks", MBps: 100, Ops: 256, Bytes: 256 << 20, Seconds: 2.6},
		{Scenario: "finish", Parameters: "final PUT of 1MiB", P50ms: 10, Ops: 1, Bytes: 1 << 20},
		{Scenario: "finish", Parameters: "final PUT of 1GiB", P50ms: 15, Ops: 1, Bytes: 1 << 30, Note: "sent in 8MiB chunks"},
		{Scenario: "manifest", Parameters: "GET by tag, 8 clients", ReqPerSec: 4000, Ops: 40000, Bytes: 40000 * 500},
	}}
	b1 := Report{Target: `dist <v3> & "s3"`, Machine: ThisMachine(), Load: "1 1 1 → 2 2 2", Rows: []Row{
		{Scenario: "chunked", Parameters: "256MiB in 8MiB chunks", MBps: 90, Ops: 32, Bytes: 256 << 20},
		{Scenario: "finish", Parameters: "final PUT of 1MiB", P50ms: 30, Ops: 1, Bytes: 1 << 20},
		{Scenario: "manifest", Parameters: "GET by tag, 8 clients", ReqPerSec: 1000, Ops: 10000, Bytes: 10000 * 500},
	}}
	b2 := b1
	b2.Rows = append([]Row(nil), b1.Rows...)
	b2.Rows[0].MBps, b2.Rows[1].P50ms, b2.Rows[2].ReqPerSec = 110, 50, 3000
	return []Report{a, b1, b2}
}

func TestCombine(t *testing.T) {
	runs := []Report{{Target: "x", Rows: []Row{{Scenario: "s", MBps: 1}}}, {Target: "x", Rows: []Row{{Scenario: "s", MBps: 5}}},
		{Target: "y", Rows: []Row{{Scenario: "s", MBps: 7}}}, {Target: "x", Rows: []Row{{Scenario: "s", MBps: 3}}}}
	c := Combine(runs)
	if len(c) != 2 || c[0].Target != "x" || c[0].Runs != 3 || c[0].Rows[0].MBps != 3 || c[1].Rows[0].MBps != 7 || c[1].Runs != 0 {
		t.Fatalf("Combine: %+v", c)
	}
	if c := Combine(testReports()); c[1].Runs != 2 || c[1].Rows[0].MBps != 100 || c[1].Rows[1].P50ms != 40 || !strings.Contains(c[1].Load, "; ") {
		t.Fatalf("median of two runs: %+v", c[1])
	}
}

// parseSVG checks that path is well-formed XML with an <svg> root and
// returns the titles of its bars (<rect class="bar">).
func parseSVG(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var bars []string
	root, inBar := "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			for _, a := range el.Attr {
				if el.Name.Local == "rect" && a.Name.Local == "class" && a.Value == "bar" {
					inBar = true
					bars = append(bars, "")
				}
			}
		case xml.CharData:
			if inBar {
				bars[len(bars)-1] += string(el)
			}
		case xml.EndElement:
			if el.Name.Local == "rect" {
				inBar = false
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q", path, root)
	}
	return bars
}

func TestWriteDirCompared(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteDir(dir, testReports()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2+3 {
		t.Fatalf("files %q, want report.json, report.md and 3 charts", files)
	}
	var reps []Report
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err == nil {
		err = json.Unmarshal(b, &reps)
	}
	if err != nil || len(reps) != 2 || reps[1].Runs != 2 || reps[0].Rows[4].ReqPerSec != 4000 {
		t.Fatalf("report.json: %v, %+v", err, reps)
	}

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, line := range strings.Split(string(md), "\n") {
		if f := strings.Split(line, " | "); strings.HasPrefix(line, "| ") && len(f) > 2 {
			rows[strings.TrimPrefix(f[0], "| ")]++
		}
	}
	if rows["chunked"] != 2 || rows["finish"] != 2 || rows["manifest"] != 1 {
		t.Errorf("report.md table rows per scenario %v:\n%s", rows, md)
	}
	for _, want := range []string{
		"| chunked | 256MiB in 8MiB chunks | MB/s (higher is better) | 200 | 100 (×0.50) |",
		"| chunked | 256MiB in 1MiB chunks | MB/s (higher is better) | 100 | — |",
		"| finish | final PUT of 1MiB | ms (lower is better) | 10.0 | 40.0 (×4.00) |",
		"| manifest | GET by tag, 8 clients | req/s (higher is better) | 4000 | 2000 (×0.50) |",
		"regkit s3+bolt: 15.0 ms / 10.0 ms = ×1.50",
		"the median of 2 runs",
		"sent in 8MiB chunks",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}

	for sc, want := range map[string][]string{
		"chunked":  {"regkit s3+bolt: 200 MB/s", `dist <v3> & "s3": 100 MB/s (×0.50)`, "regkit s3+bolt: 100 MB/s"},
		"finish":   {"regkit s3+bolt: 10.0 ms", `dist <v3> & "s3": 40.0 ms (×4.00)`, "regkit s3+bolt: 15.0 ms"},
		"manifest": {"regkit s3+bolt: 4000 req/s", `dist <v3> & "s3": 2000 req/s (×0.50)`},
	} {
		bars := parseSVG(t, filepath.Join(dir, sc+".svg"))
		if strings.Join(bars, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s.svg bars:\n%s\nwant:\n%s", sc, strings.Join(bars, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestWriteDirSingle(t *testing.T) {
	dir := t.TempDir()
	in := testReports()[0]
	if _, err := WriteDir(dir, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != in.Target || len(got.Rows) != len(in.Rows) || got.Rows[1] != in.Rows[1] || got.Machine != in.Machine || got.Load != in.Load {
		t.Fatalf("read back %+v, want %+v", got, in)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range in.Rows {
		if !strings.Contains(string(md), "| "+r.Scenario+" | "+r.Parameters+" |") {
			t.Errorf("report.md has no row of %q:\n%s", r.Key(), md)
		}
	}
	if bars := parseSVG(t, filepath.Join(dir, "finish.svg")); len(bars) != 2 {
		t.Errorf("finish.svg: bars %q, want 2", bars)
	}
	if _, err := ReadReport(filepath.Join(dir, "finish.svg")); err == nil {
		t.Error("ReadReport of an SVG: no error")
	}
}
