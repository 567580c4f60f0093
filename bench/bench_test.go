package bench_test

import (
	"context"
	"crypto/sha256"
	"os"
	"testing"
	"time"

	"github.com/regkit/regkit/bench"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/internal/bytesize"
)

// target returns the registry the benchmarks measure: $REGKIT_BENCH_URL,
// or an in-process server ($REGKIT_BENCH_BACKEND: file, the default, or
// mem) in a temporary directory.
func target(b *testing.B) *bench.Target {
	b.Helper()
	if url := os.Getenv("REGKIT_BENCH_URL"); url != "" {
		return bench.Dial(url)
	}
	backend := bench.Backend(os.Getenv("REGKIT_BENCH_BACKEND"))
	t, err := bench.Start(context.Background(), backend, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = t.Close() })
	return t
}

// seed makes upload content unique per run, so that a registry reached by
// URL never finds the blob already stored.
func seed() uint64 { return uint64(time.Now().UnixNano()) }

// reportLatency reports the p50 and p99 of r in milliseconds.
func reportLatency(b *testing.B, r bench.Result) {
	b.ReportMetric(float64(r.Percentile(0.50))/1e6, "p50-ms")
	b.ReportMetric(float64(r.Percentile(0.99))/1e6, "p99-ms")
}

// BenchmarkSHA256 measures single-core sha256 throughput, the yardstick of
// the upload benchmarks.
func BenchmarkSHA256(b *testing.B) {
	buf := fixtures.Blob(1, 8<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}

// BenchmarkChunkedUpload uploads 256 MiB and 1 GiB in 8 MiB chunks, and
// reports the throughput beside single-core sha256's (the foundation
// target is at least 60% of it on file storage).
func BenchmarkChunkedUpload(b *testing.B) {
	for _, size := range []int64{256 << 20, 1 << 30} {
		b.Run(bytesize.Format(size), func(b *testing.B) {
			t := target(b)
			ctx := context.Background()
			sha := bench.SHA256(256 << 20).MBps()
			s := seed()
			b.ResetTimer()
			var rs []bench.Result
			for i := range b.N {
				r, err := bench.ChunkedUpload(ctx, t.Client, "bench/chunked", size, bench.DefaultChunkSize, s+uint64(i))
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			b.StopTimer()
			r := bench.Merge(rs...)
			// The upload's own time: hashing the content beforehand (so
			// that the client does not compete for the CPU) is not part of
			// it.
			b.ReportMetric(float64(r.Elapsed.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(r.MBps(), "MB/s")
			b.ReportMetric(sha, "sha256-MB/s")
			b.ReportMetric(100*r.MBps()/sha, "%sha256")
			reportLatency(b, r)
		})
	}
}

// BenchmarkMonolithicUpload uploads 64 MiB in one POST ?digest=.
func BenchmarkMonolithicUpload(b *testing.B) {
	const size = 64 << 20
	t := target(b)
	ctx := context.Background()
	s := seed()
	var el time.Duration
	for i := range b.N {
		// The upload's own time: hashing the content beforehand is not
		// part of it.
		r, err := bench.MonolithicUpload(ctx, t.Client, "bench/monolithic", size, s+uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		el += r.Elapsed
	}
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/el.Seconds(), "MB/s")
}

// BenchmarkFinishUpload measures the closing PUT of an upload of 1 MiB and
// of 1 GiB, whose costs must be about equal. The reported ns/op (and
// finish-ms) is the PUT alone; the timer also runs while the chunks are
// uploaded only so that go test does not raise b.N to hundreds of 1 GiB
// uploads.
func BenchmarkFinishUpload(b *testing.B) {
	for _, size := range []int64{1 << 20, 1 << 30} {
		b.Run(bytesize.Format(size), func(b *testing.B) {
			t := target(b)
			ctx := context.Background()
			s := seed()
			var rs []bench.Result
			for i := range b.N {
				r, err := bench.FinishUpload(ctx, t.Client, "bench/finish", size, bench.DefaultChunkSize, s+uint64(i))
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			r := bench.Merge(rs...)
			b.ReportMetric(float64(r.Elapsed.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(r.Elapsed)/1e6/float64(b.N), "finish-ms")
		})
	}
}

// BenchmarkRangeRead reads random 64 KiB ranges of a 256 MiB blob with 8
// concurrent clients, for 2 s per iteration; ns/op is per request.
func BenchmarkRangeRead(b *testing.B) {
	t := target(b)
	ctx := context.Background()
	d, err := bench.PrepareRangeBlob(ctx, t.Client, "bench/range", bench.DefaultRangeBlobSize, 7)
	if err != nil {
		b.Fatal(err)
	}
	load := bench.Load{Concurrency: bench.DefaultConcurrency, Duration: 2 * time.Second}
	b.ResetTimer()
	var rs []bench.Result
	for range b.N {
		r, err := bench.RangeRead(ctx, t.Client, "bench/range", d, bench.DefaultRangeBlobSize, bench.DefaultRangeSize, load)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	b.StopTimer()
	report(b, bench.Merge(rs...))
}

// BenchmarkManifestGet fetches a manifest by tag with 8 concurrent
// clients, for 2 s per iteration; ns/op is per request.
func BenchmarkManifestGet(b *testing.B) {
	t := target(b)
	ctx := context.Background()
	if _, err := bench.PrepareManifest(ctx, t.Client, "bench/manifest", "latest"); err != nil {
		b.Fatal(err)
	}
	load := bench.Load{Concurrency: bench.DefaultConcurrency, Duration: 2 * time.Second}
	b.ResetTimer()
	var rs []bench.Result
	for range b.N {
		r, err := bench.ManifestGet(ctx, t.Client, "bench/manifest", "latest", load)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	b.StopTimer()
	report(b, bench.Merge(rs...))
}

// report reports a concurrent scenario: req/s, MB/s, p50 and p99, and
// ns/op per request.
func report(b *testing.B, r bench.Result) {
	b.ReportMetric(r.OpsPerSec(), "req/s")
	b.ReportMetric(r.MBps(), "MB/s")
	if r.Ops > 0 {
		b.ReportMetric(float64(r.Elapsed.Nanoseconds())/float64(r.Ops), "ns/op")
	}
	reportLatency(b, r)
}
