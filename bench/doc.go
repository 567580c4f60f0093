// Package bench holds regkit's benchmark scenarios: chunked and
// monolithic uploads, the cost of finishing an upload, random range reads,
// manifest GETs by tag and whole-blob GETs (streamed, and redirected to a
// signed bucket URL where the bucket signs). Each scenario is a plain
// function over a client/oci Client, so the same code runs as Go
// benchmarks (go test -bench . ./bench/) and as the "regkit bench"
// command (a Suite), against an in-process server over any bucket URL
// (StartWith) or any registry URL (Dial).
//
// A run's rows make a Report; WriteDir writes it as report.json, a
// Markdown table and one SVG bar chart per scenario, and compares several
// reports (the medians of the runs of each target, ratios to the first
// target).
//
// The Go benchmarks use the registry at $REGKIT_BENCH_URL when it is set,
// else an in-process server on file storage with the embedded metadata
// store in a temporary directory ($REGKIT_BENCH_BACKEND=mem selects
// mem:// storage and the in-memory metadata store instead).
package bench
