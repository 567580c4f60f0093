package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The geometry of the charts, in pixels.
const (
	svgWidth    = 760
	svgLabelW   = 300 // the column of the row labels
	svgValueW   = 120 // room for the value after the longest bar
	svgBarH     = 16
	svgBarGap   = 3
	svgGroupGap = 12
	svgTop      = 34
)

// svgColors are the bar colors of the targets, in order (then again).
var svgColors = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// WriteSVG writes a horizontal bar chart of scenario's rows in reps: one
// group per parameters, one bar per target that measured them (in the
// order of reps, colored as the legend says), all on one scale, each
// labelled with its value (and, past the first target, the ratio to the
// first's). Bars are <rect class="bar"> elements with a <title>.
func WriteSVG(w io.Writer, scenario string, reps []Report) error {
	keys := keysOf(reps, scenario)
	if len(keys) == 0 {
		return fmt.Errorf("no %s rows to chart", scenario)
	}
	m := MetricOf(scenario)
	var top float64
	for _, rep := range reps {
		for _, r := range rep.Rows {
			if r.Scenario == scenario {
				top = max(top, r.Value())
			}
		}
	}
	legend := 0
	if len(reps) > 1 {
		legend = len(reps)
	}
	groupH := len(reps)*(svgBarH+svgBarGap) + svgGroupGap
	height := svgTop + legend*18 + len(keys)*groupH + 10

	bw := bufio.NewWriter(w)
	better := "higher is better"
	if !m.HigherIsBetter {
		better = "lower is better"
	}
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(bw, `<text x="8" y="20" font-size="14" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("%s: %s (%s)", scenario, m.Unit, better)))
	y := svgTop
	if legend > 0 {
		for i, rep := range reps {
			fmt.Fprintf(bw, `<rect class="legend" x="8" y="%d" width="12" height="12" fill="%s"/>`, y, svgColors[i%len(svgColors)])
			fmt.Fprintf(bw, `<text x="26" y="%d">%s</text>`+"\n", y+10, esc(rep.Target))
			y += 18
		}
	}
	span := float64(svgWidth - svgLabelW - svgValueW)
	for _, k := range keys {
		label := k.Parameters
		if r := []rune(label); len(r) > 46 {
			label = string(r[:45]) + "…"
		}
		fmt.Fprintf(bw, `<text x="8" y="%d">%s</text>`+"\n", y+svgBarH-4, esc(label))
		first, hasFirst := reps[0].row(k.Key())
		for i, rep := range reps {
			r, ok := rep.row(k.Key())
			if !ok {
				continue
			}
			by := y + i*(svgBarH+svgBarGap)
			v := r.Value()
			width := 1.0
			if top > 0 {
				width = max(v/top*span, 1)
			}
			text := fmtNum(v) + " " + m.Unit
			if i > 0 && hasFirst && first.Value() > 0 {
				text += " (×" + fmtRatio(v/first.Value()) + ")"
			}
			fmt.Fprintf(bw, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
				svgLabelW, by, width, svgBarH, svgColors[i%len(svgColors)], esc(rep.Target+": "+text))
			fmt.Fprintf(bw, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(svgLabelW)+width+4, by+svgBarH-4, esc(text))
		}
		y += groupH
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
