package bench

import (
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// Result is what one run of a scenario measured.
type Result struct {
	// Scenario names the scenario ("chunked", "monolithic", "finish",
	// "range", "manifest", "blob", "sha256").
	Scenario string
	// Ops counts the timed requests (chunks, uploads, reads, GETs).
	Ops int
	// Bytes counts the payload bytes moved in the timed part.
	Bytes int64
	// Elapsed is the wall time of the timed part.
	Elapsed time.Duration
	// Latencies are the durations of the timed requests, sorted.
	Latencies []time.Duration
	// Digest is the digest of the uploaded blob (upload scenarios).
	Digest digest.Digest
	// Chunk is the chunk size the upload used (chunked uploads): the one
	// asked for, or the registry's OCI-Chunk-Min-Length when larger.
	Chunk int64
}

// MBps returns the payload throughput in MB/s (10^6 bytes per second, as
// go test reports it).
func (r Result) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// OpsPerSec returns the request rate.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Percentile returns the latency below which a fraction p (0..1) of the
// requests completed (nearest rank); 0 without latencies.
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(p*float64(n)+0.999999) - 1
	return r.Latencies[min(max(i, 0), n-1)]
}

// Merge combines the results of several runs of one scenario: counts and
// times add up and latencies are pooled.
func Merge(rs ...Result) Result {
	var out Result
	for _, r := range rs {
		if out.Scenario == "" {
			out.Scenario = r.Scenario
		}
		out.Ops += r.Ops
		out.Bytes += r.Bytes
		out.Elapsed += r.Elapsed
		out.Latencies = append(out.Latencies, r.Latencies...)
		out.Digest = r.Digest
		out.Chunk = r.Chunk
	}
	slices.Sort(out.Latencies)
	return out
}
