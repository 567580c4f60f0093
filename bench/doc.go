// Package bench holds regkit's benchmark scenarios: chunked and
// monolithic uploads, the cost of finishing an upload, random range reads
// and manifest GETs by tag. Each scenario is a plain function over a
// client/oci Client, so the same code runs as Go benchmarks
// (go test -bench . ./bench/) and as the "regkit bench" command, against
// an in-process server (Start) or any registry URL (Dial).
//
// The Go benchmarks use the registry at $REGKIT_BENCH_URL when it is set,
// else an in-process server on file storage with the embedded metadata
// store in a temporary directory ($REGKIT_BENCH_BACKEND=mem selects
// mem:// storage and the in-memory metadata store instead).
package bench
