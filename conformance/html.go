package conformance

import (
	"html/template"
	"net/http"
	"os"
	"sort"
	"strings"
)

// htmlTemplate renders Results as one self-contained page: inline CSS, no
// scripts, no external assets.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"keys":    sortedKeys,
	"headers": headerLines,
	"statusText": func(code int) string {
		return http.StatusText(code)
	},
	"pct": func(s Summary) int {
		if s.Total() == 0 {
			return 0
		}
		return s.Passed * 100 / s.Total()
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Conformance report: {{.Suite}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1d2330}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #dde;padding-bottom:.2em}
.meta{color:#556}
table{border-collapse:collapse;margin:.6em 0;width:100%}
th,td{border:1px solid #dde;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f4f8}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:3px;padding:0 .45em;font-size:.85em;font-weight:600;color:#fff}
.passed{background:#1f883d}.failed{background:#cf222e}.skipped{background:#8c959f}.unsupported{background:#9a6700}
.big{font-size:1.25em;font-weight:600}
details{border:1px solid #dde;border-radius:4px;margin:.35em 0;padding:.3em .6em}
details.failed{border-color:#cf222e}
summary{cursor:pointer}
.labels{color:#556;font-size:.85em}
pre{background:#f6f8fa;padding:.5em;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.ex{border-left:3px solid #8c959f;margin:.6em 0;padding-left:.6em}
.msg{color:#cf222e}
</style>
</head>
<body>
<h1>Conformance report</h1>
<p class="meta">{{.Suite}} against <code>{{.Registry}}</code>, started {{.Start.Format "2006-01-02 15:04:05 MST"}}, ran {{.Duration}}</p>
<p class="big"><span class="badge passed">{{.Summary.Passed}} passed</span>
<span class="badge failed">{{.Summary.Failed}} failed</span>
<span class="badge skipped">{{.Summary.Skipped}} skipped</span>
<span class="badge unsupported">{{.Summary.Unsupported}} unsupported</span>
({{pct .Summary}}% of {{.Summary.Total}} specs passed)</p>

<h2>By area</h2>
<table><tr><th>Area</th><th>Passed</th><th>Failed</th><th>Skipped</th><th>Unsupported</th></tr>
{{range $k := keys .Areas}}{{with index $.Areas $k}}<tr><td><a href="#area-{{$k}}">{{$k}}</a></td><td class="n">{{.Passed}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Skipped}}</td><td class="n">{{.Unsupported}}</td></tr>
{{end}}{{end}}</table>

{{with .Official}}<h2>Official OCI conformance harness</h2>
<p class="meta"><code>{{.Harness}}</code>; its closing counts: {{.Closing}}{{if .ReportDir}}; its own reports: <a href="{{.ReportDir}}/report.html">report.html</a>, <a href="{{.ReportDir}}/junit.xml">junit.xml</a>, <a href="{{.ReportDir}}/results.yaml">results.yaml</a>{{end}}</p>
<p class="big"><span class="badge passed">{{.Summary.Passed}} passed</span>
<span class="badge failed">{{.Summary.Failed}} failed</span>
<span class="badge skipped">{{.Summary.Skipped}} skipped</span>
({{pct .Summary}}% of {{.Summary.Total}} tests passed)</p>
{{end}}
<h2>By route</h2>
{{if .Official}}<table><tr><th rowspan="2">Route</th><th colspan="4">regkit suite</th><th colspan="3">official harness</th></tr>
<tr><th>Passed</th><th>Failed</th><th>Skipped</th><th>Unsupported</th><th>Passed</th><th>Failed</th><th>Skipped</th></tr>
{{range $k := keys .Routes}}{{with index $.Routes $k}}<tr><td>{{$k}}</td><td class="n">{{.Passed}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Skipped}}</td><td class="n">{{.Unsupported}}</td>{{with .Official}}<td class="n">{{.Passed}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Skipped}}</td>{{else}}<td class="n">–</td><td class="n">–</td><td class="n">–</td>{{end}}</tr>
{{end}}{{end}}</table>
{{else}}<table><tr><th>Route</th><th>Passed</th><th>Failed</th><th>Skipped</th><th>Unsupported</th></tr>
{{range $k := keys .Routes}}{{with index $.Routes $k}}<tr><td>{{$k}}</td><td class="n">{{.Passed}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Skipped}}</td><td class="n">{{.Unsupported}}</td></tr>
{{end}}{{end}}</table>{{end}}

{{if .Summary.Failed}}<h2>Failures</h2>
{{range .Specs}}{{if eq .Status "failed"}}
<details class="failed" open><summary><span class="badge failed">failed</span> {{.Name}} <span class="labels">{{range .Labels}}[{{.}}] {{end}}</span></summary>
<pre class="msg">{{.Message}}</pre>
{{if .Location}}<p class="labels">at {{.Location}}</p>{{end}}
{{range .Exchanges}}<div class="ex">
<pre>{{.Method}} {{.URL}}{{if .Note}}   ({{.Note}}){{end}}
{{headers .RequestHeader}}{{if .RequestBody}}
{{.RequestBody}}{{end}}{{if gt .RequestSize 0}}
[{{.RequestSize}} bytes]{{end}}</pre>
<pre>{{if .Error}}error: {{.Error}}{{else}}{{.Status}} {{statusText .Status}}  ({{.Duration}})
{{headers .ResponseHeader}}{{if .ResponseBody}}
{{.ResponseBody}}{{end}}{{if gt .ResponseSize 0}}
[{{.ResponseSize}} bytes]{{end}}{{end}}</pre>
</div>{{else}}<p class="labels">no HTTP exchange recorded</p>{{end}}
</details>{{end}}{{end}}{{end}}

<h2>Every spec</h2>
{{range $k := keys .Areas}}<h3 id="area-{{$k}}">{{$k}}</h3>
{{with index $.Areas $k}}<table><tr><th>Spec</th><th>Status</th></tr>
{{range .Specs}}<tr><td>{{.Name}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td></tr>
{{end}}</table>{{end}}{{end}}

{{with .Official}}{{if .Summary.Failed}}<h2>Official harness failures</h2>
{{range .Specs}}{{if eq .Status "failed"}}<details class="failed" open><summary><span class="badge failed">failed</span> {{.Name}} <span class="labels">{{range .Labels}}[{{.}}] {{end}}</span></summary>
<pre class="msg">{{.Message}}</pre>
{{if .Output}}<pre>{{.Output}}</pre>{{end}}
</details>{{end}}{{end}}{{end}}
{{if .Summary.Skipped}}<h2>Official harness: skipped</h2>
<table><tr><th>Test</th><th>Reason</th></tr>
{{range .Specs}}{{if eq .Status "skipped"}}<tr><td>{{.Name}}</td><td>{{.Message}}</td></tr>
{{end}}{{end}}</table>{{end}}{{end}}

<h2>Skipped and unsupported</h2>
<table><tr><th>Spec</th><th>Status</th><th>Reason</th></tr>
{{range .Specs}}{{if or (eq .Status "skipped") (eq .Status "unsupported")}}<tr><td>{{.Name}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td><td>{{.Message}}</td></tr>
{{end}}{{end}}</table>

<h2>Settings</h2>
<table>{{range $k, $v := .Settings}}<tr><th>{{$k}}</th><td><code>{{$v}}</code></td></tr>{{end}}</table>
</body>
</html>
`))

// headerLines formats headers one per line, sorted.
func headerLines(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func writeHTML(path string, res Results) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := htmlTemplate.Execute(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
