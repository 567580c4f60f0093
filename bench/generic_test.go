package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/bench"
	"github.com/regkit/regkit/spec/generic"
)

// vmHWM returns the peak resident set size of this process in bytes
// (VmHWM of /proc/self/status), or -1 where there is none.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// resetHWM resets the peak RSS to the current RSS (Linux: "5" to
// /proc/self/clear_refs); false when that is not possible.
func resetHWM() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// BenchmarkGenericUpload2GiB streams a 2 GiB file with one PUT to the
// generic registry of the in-process server (file storage, embedded
// metadata; client and server share this process) and reports the
// throughput and the growth of the process's peak RSS, which must stay
// under 64 MiB: the body is never buffered, md5, sha1, sha256 and sha512
// are computed in the same pass.
func BenchmarkGenericUpload2GiB(b *testing.B) {
	const size = 2 << 30
	t := target(b)
	ctx := context.Background()
	s := seed()
	var worst int64
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		canReset := resetHWM()
		before := vmHWM()
		r := generic.Request{Route: generic.RouteUpload, Method: http.MethodPut, Owner: "bench", Type: generic.TypeGeneric,
			Name: "big", Version: fmt.Sprintf("%d.%d.0", s, i), Filename: "2GiB.bin"}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.URL(t.URL), bench.Data(s+uint64(i), size))
		if err != nil {
			b.Fatal(err)
		}
		req.ContentLength = size
		b.StartTimer()
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		elapsed := time.Since(start)
		b.StopTimer()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %s", resp.Status)
		}
		growth := vmHWM() - before
		if !canReset || before < 0 {
			growth = -1
		}
		worst = max(worst, growth)
		b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
		b.StartTimer()
	}
	b.StopTimer()
	if worst >= 0 {
		b.ReportMetric(float64(worst)/(1<<20), "peak-RSS-growth-MiB")
		if worst >= 64<<20 {
			b.Fatalf("peak RSS grew by %.1f MiB streaming a 2 GiB upload (limit 64 MiB)", float64(worst)/(1<<20))
		}
	}
}
