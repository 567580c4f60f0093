package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestScenarios runs every scenario once at tiny sizes on both in-process
// backends, so that "go test" proves the harness works.
func TestScenarios(t *testing.T) {
	for _, backend := range []Backend{BackendFile, BackendMem} {
		t.Run(string(backend), func(t *testing.T) {
			ctx := context.Background()
			tg, err := Start(ctx, backend, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			c := tg.Client
			load := Load{Concurrency: 3, Requests: 40}
			tests := []struct {
				name string
				repo string // where an upload scenario puts its blob
				run  func(repo string) (Result, error)
				ops  int
			}{
				{"chunked", "t/chunked", func(repo string) (Result, error) { return ChunkedUpload(ctx, c, repo, 3<<20+5, 1<<20, 1) }, 4},
				{"chunked empty", "t/chunked", func(repo string) (Result, error) { return ChunkedUpload(ctx, c, repo, 0, 1<<20, 2) }, 0},
				{"monolithic", "t/mono", func(repo string) (Result, error) { return MonolithicUpload(ctx, c, repo, 1<<20, 3) }, 1},
				{"finish", "t/finish", func(repo string) (Result, error) { return FinishUpload(ctx, c, repo, 1<<20, 256<<10, 4) }, 1},
				{"range", "t/range", func(repo string) (Result, error) {
					d, err := PrepareRangeBlob(ctx, c, repo, 1<<20, 5)
					if err != nil {
						return Result{}, err
					}
					return RangeRead(ctx, c, repo, d, 1<<20, 4<<10, load)
				}, 40},
				{"manifest", "t/manifest", func(repo string) (Result, error) {
					if _, err := PrepareManifest(ctx, c, repo, "latest"); err != nil {
						return Result{}, err
					}
					return ManifestGet(ctx, c, repo, "latest", load)
				}, 40},
				{"blob", "t/blob", func(repo string) (Result, error) {
					d, err := c.BlobPutChunked(ctx, repo, Data(6, 300<<10), DefaultChunkSize)
					if err != nil {
						return Result{}, err
					}
					r, err := BlobGet(ctx, c, repo, d, 300<<10, load)
					if err == nil && r.Bytes != int64(r.Ops)*300<<10 {
						err = fmt.Errorf("%d bytes in %d GETs", r.Bytes, r.Ops)
					}
					return r, err
				}, 40},
				{"sha256", "", func(string) (Result, error) { return SHA256(1 << 20), nil }, 1},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r, err := tt.run(tt.repo)
					if err != nil {
						t.Fatal(err)
					}
					if r.Ops != tt.ops || r.Elapsed <= 0 {
						t.Fatalf("result %+v, want %d ops", r, tt.ops)
					}
					if r.Digest != "" {
						size, err := c.BlobHead(ctx, tt.repo, r.Digest)
						if err != nil || size != r.Bytes {
							t.Fatalf("uploaded blob: size %d, %v; want %d", size, err, r.Bytes)
						}
					}
				})
			}
		})
	}
}

func TestData(t *testing.T) {
	read := func(seed uint64, size int64) []byte {
		b, err := io.ReadAll(Data(seed, size))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := read(1, 3*patternSize), read(1, 3*patternSize)
	if !bytes.Equal(a, b) || len(a) != 3*patternSize {
		t.Fatal("Data is not deterministic")
	}
	if bytes.Equal(read(2, 1000), a[:1000]) {
		t.Fatal("different seeds give the same data")
	}
	if digest.FromBytes(a[:patternSize]) == digest.FromBytes(a[patternSize:2*patternSize]) {
		t.Fatal("the pattern repeats with its seed")
	}
}

func TestResult(t *testing.T) {
	r := Result{Ops: 100, Bytes: 2e6, Elapsed: time.Second}
	for i := range 100 {
		r.Latencies = append(r.Latencies, time.Duration(i+1)*time.Millisecond)
	}
	if r.MBps() != 2 || r.OpsPerSec() != 100 || r.Percentile(0.5) != 50*time.Millisecond || r.Percentile(0.99) != 99*time.Millisecond {
		t.Fatalf("MBps %v, OpsPerSec %v, p50 %v, p99 %v", r.MBps(), r.OpsPerSec(), r.Percentile(0.5), r.Percentile(0.99))
	}
	if (Result{}).Percentile(0.99) != 0 {
		t.Fatal("percentile of nothing")
	}
}
