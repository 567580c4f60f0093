package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteMarkdown writes reps as Markdown: for one report, a table of its
// rows with every number; for several, one row per scenario and
// parameters with each target's headline value (MetricOf) and its ratio
// to the first target's. Both end with the final PUT's largest-to-smallest
// ratio per target and the rows' notes.
func WriteMarkdown(w io.Writer, reps []Report) error {
	bw := bufio.NewWriter(w)
	if len(reps) == 1 {
		writeSingle(bw, reps[0])
	} else {
		writeCompared(bw, reps)
	}
	writeFinishRatios(bw, reps)
	writeNotes(bw, reps)
	return bw.Flush()
}

func writeHeader(w *bufio.Writer, rep Report) {
	fmt.Fprintf(w, "- target: %s\n", mdCell(rep.Target))
	fmt.Fprintf(w, "  - machine: %s\n", mdCell(rep.Machine.String()))
	if rep.Runs > 1 {
		fmt.Fprintf(w, "  - numbers: the median of %d runs\n", rep.Runs)
	}
	if rep.Load != "" {
		fmt.Fprintf(w, "  - load average (1, 5, 15 min) at start → end: %s\n", mdCell(rep.Load))
	}
	if !rep.Started.IsZero() {
		fmt.Fprintf(w, "  - started: %s\n", rep.Started.UTC().Format(time.RFC3339))
	}
	if rep.Command != "" {
		fmt.Fprintf(w, "  - command: `%s`\n", strings.ReplaceAll(rep.Command, "`", "'"))
	}
}

func writeSingle(w *bufio.Writer, rep Report) {
	fmt.Fprintf(w, "# regkit bench: %s\n\n", mdCell(rep.Target))
	writeHeader(w, rep)
	fmt.Fprintf(w, "\n| scenario | parameters | MB/s | req/s | p50 ms | p99 ms | ops | bytes |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %d |\n", r.Scenario, mdCell(r.Parameters),
			fmtNum(r.MBps), fmtNum(r.ReqPerSec), fmtNum(r.P50ms), fmtNum(r.P99ms), r.Ops, r.Bytes)
	}
}

func writeCompared(w *bufio.Writer, reps []Report) {
	names := make([]string, len(reps))
	for i, rep := range reps {
		names[i] = mdCell(rep.Target)
	}
	fmt.Fprintf(w, "# regkit bench: %s\n\n", strings.Join(names, " vs "))
	for _, rep := range reps {
		writeHeader(w, rep)
	}
	fmt.Fprintf(w, "\nEach cell: the headline number, and in parentheses its ratio to %s's (%s).\n", names[0], "×1 = the same")
	fmt.Fprintf(w, "\n| scenario | parameters | metric | %s |\n", strings.Join(names, " | "))
	fmt.Fprintf(w, "|---|---|---|%s\n", strings.Repeat("--:|", len(reps)))
	for _, sc := range scenariosOf(reps) {
		m := MetricOf(sc)
		better := "higher is better"
		if !m.HigherIsBetter {
			better = "lower is better"
		}
		for _, k := range keysOf(reps, sc) {
			fmt.Fprintf(w, "| %s | %s | %s (%s) |", sc, mdCell(k.Parameters), m.Unit, better)
			first, hasFirst := reps[0].row(k.Key())
			for i, rep := range reps {
				r, ok := rep.row(k.Key())
				switch {
				case !ok:
					fmt.Fprint(w, " — |")
				case i == 0 || !hasFirst || first.Value() == 0:
					fmt.Fprintf(w, " %s |", fmtNum(r.Value()))
				default:
					fmt.Fprintf(w, " %s (×%s) |", fmtNum(r.Value()), fmtRatio(r.Value()/first.Value()))
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// writeFinishRatios writes, per target, the time of the final PUT of the
// largest upload over the smallest's: the cost of a commit that does not
// copy does not grow with size.
func writeFinishRatios(w *bufio.Writer, reps []Report) {
	var lines []string
	for _, rep := range reps {
		var small, large Row
		for _, r := range rep.Rows {
			if r.Scenario != "finish" {
				continue
			}
			if small.Scenario == "" || r.Bytes < small.Bytes {
				small = r
			}
			if large.Scenario == "" || r.Bytes > large.Bytes {
				large = r
			}
		}
		if small.Scenario == "" || small.Bytes == large.Bytes || small.Value() == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("- %s: %s ms / %s ms = ×%s", mdCell(rep.Target),
			fmtNum(large.Value()), fmtNum(small.Value()), fmtRatio(large.Value()/small.Value())))
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nFinal PUT, largest upload over smallest:\n\n%s\n", strings.Join(lines, "\n"))
	}
}

func writeNotes(w *bufio.Writer, reps []Report) {
	var lines []string
	for _, rep := range reps {
		for _, r := range rep.Rows {
			if r.Note != "" {
				lines = append(lines, fmt.Sprintf("- %s, %s %s: %s", mdCell(rep.Target), r.Scenario, mdCell(r.Parameters), mdCell(r.Note)))
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nNotes:\n\n%s\n", strings.Join(lines, "\n"))
	}
}

// mdCell makes s safe in a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// fmtNum formats a measurement with three significant digits or so; 0 is
// "-" (not measured).
func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtRatio(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
