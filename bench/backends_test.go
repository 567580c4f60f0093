//go:build benchbackends

package bench_test

// TestBenchBackends measures every storage backend with regkit bench, and
// CNCF Distribution on the same S3 emulator, for docs/benchmarks-backends.md.
// It is not part of make test (build tag benchbackends) and takes about
// half an hour on 2 cores:
//
//	go test -tags benchbackends -run TestBenchBackends -timeout 3h -v ./bench/
//
// It builds regkit, starts versitygw, fake-gcs-server and Azurite
// (server/storage/emulators) and Distribution ($GOPATH/bin/registry,
// v3.1.2, s3 driver on versitygw), and runs each target
// $REGKIT_BENCH_RUNS times (default 2), interleaved, so that a change of
// the machine's load spreads over every target. "regkit bench report"
// then writes the medians to $REGKIT_BENCH_OUT (default ../docs/bench):
// backends/ (every backend, every scenario) and distribution/ (regkit
// and Distribution on S3), each with report.md, report.json and the SVG
// charts, and commands.txt with every command run.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/conformance/peers/peerreg"
	"github.com/regkit/regkit/server/storage/emulators"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestBenchBackends(t *testing.T) {
	ctx := context.Background()
	out, err := filepath.Abs(envOr("REGKIT_BENCH_OUT", "../docs/bench"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := strconv.Atoi(envOr("REGKIT_BENCH_RUNS", "2"))
	if err != nil || runs < 1 {
		t.Fatalf("REGKIT_BENCH_RUNS=%q", os.Getenv("REGKIT_BENCH_RUNS"))
	}
	duration := envOr("REGKIT_BENCH_DURATION", "5s")
	// Extra flags of every run (last, so they override), e.g. small sizes
	// for a quick try.
	extra := strings.Fields(os.Getenv("REGKIT_BENCH_ARGS"))
	tmp := t.TempDir()
	raw := filepath.Join(tmp, "raw")

	regkit := filepath.Join(tmp, "regkit")
	if b, err := exec.Command("go", "build", "-o", regkit, "../cmd/regkit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	var log strings.Builder
	logf := func(format string, args ...any) {
		fmt.Fprintf(&log, format+"\n", args...)
		t.Logf(format, args...)
	}
	run := func(args ...string) {
		t.Helper()
		if args[1] != "report" {
			args = append(args, extra...)
		}
		logf("regkit %s", quoteArgs(args))
		cmd := exec.CommandContext(ctx, regkit, args...)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		t.Logf("%s", b)
		if err != nil {
			t.Fatalf("regkit %s: %v", strings.Join(args, " "), err)
		}
	}

	emu := map[emulators.Kind]*emulators.Emulator{}
	for _, k := range emulators.Kinds {
		emu[k] = emulators.Start(t, k)
	}
	logf("# emulators: versitygw (S3) on %s, fake-gcs-server on %s, Azurite on %s", emu[emulators.S3].Addr, emu[emulators.GCS].Addr, emu[emulators.Azure].Addr)
	logf("# environment: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1 STORAGE_EMULATOR_HOST=%s AZURE_STORAGE_ACCOUNT=%s AZURE_STORAGE_KEY=<Azurite's well-known key>",
		emulators.S3AccessKey, emulators.S3SecretKey, emu[emulators.GCS].Addr, emulators.AzureAccount)

	backends := []struct{ name, kind string }{
		{"regkit file", "file"}, {"regkit mem", "mem"},
		{"regkit S3 (versitygw)", string(emulators.S3)}, {"regkit GCS (fake-gcs-server)", string(emulators.GCS)}, {"regkit Azure (Azurite)", string(emulators.Azure)},
	}
	bucket := func(kind string, i int) string {
		switch kind {
		case "file":
			return "file://" + filepath.Join(tmp, fmt.Sprintf("file-%d", i))
		case "mem":
			return "mem://"
		}
		return emu[emulators.Kind(kind)].NewBucket(t)
	}
	var backendReports, distReports []string
	for i := range runs {
		for _, b := range backends {
			dir := filepath.Join(raw, fmt.Sprintf("%s-%d", b.kind, i))
			run("bench", "--storage", bucket(b.kind, i), "--name", b.name, "--duration", duration, "--report", dir)
			backendReports = append(backendReports, filepath.Join(dir, "report.json"))
		}
	}

	// regkit and Distribution on the same S3 emulator, same scenarios.
	dist, err := peerreg.Distribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compare := []string{"--scenario", "chunked,finish,range,manifest", "--finish-sizes", "1MiB,256MiB", "--duration", duration}
	for i := range runs {
		dir := filepath.Join(raw, fmt.Sprintf("regkit-s3-%d", i))
		run(append([]string{"bench", "--storage", bucket(string(emulators.S3), i), "--name", "regkit S3 (versitygw)", "--report", dir}, compare...)...)
		distReports = append(distReports, filepath.Join(dir, "report.json"))

		url, stop := startDistribution(t, ctx, dist, emu[emulators.S3], bucket(string(emulators.S3), i), filepath.Join(tmp, fmt.Sprintf("dist-%d", i)), logf)
		dir = filepath.Join(raw, fmt.Sprintf("distribution-s3-%d", i))
		run(append([]string{"bench", "--url", url, "--name", "Distribution v3.1.2 S3 (versitygw)", "--report", dir}, compare...)...)
		stop()
		distReports = append(distReports, filepath.Join(dir, "report.json"))
	}

	run(append([]string{"bench", "report", "--out", filepath.Join(out, "backends")}, backendReports...)...)
	run(append([]string{"bench", "report", "--out", filepath.Join(out, "distribution")}, distReports...)...)
	if err := os.WriteFile(filepath.Join(out, "commands.txt"), []byte(strings.ReplaceAll(log.String(), tmp, "$TMP")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startDistribution starts Distribution with its s3 driver on bucketURL
// (an s3:// URL of emulator e) and returns its base URL and stop.
func startDistribution(t *testing.T, ctx context.Context, bin string, e *emulators.Emulator, bucketURL, dir string, logf func(string, ...any)) (string, func()) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(bucketURL, "s3://")
	name = name[:strings.Index(name, "?")]
	addr, err := peerreg.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  s3:
    accesskey: %s
    secretkey: %s
    region: us-east-1
    regionendpoint: http://%s
    forcepathstyle: true
    secure: false
    bucket: %s
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: %s
`, emulators.S3AccessKey, emulators.S3SecretKey, e.Addr, name, addr)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logf("# Distribution config (%s serve config.yml):\n%s", bin, indent(config))
	url := "http://" + addr
	stop, err := peerreg.Start(ctx, []string{bin, "serve", path}, nil, filepath.Join(dir, "registry.log"), url+"/v2/")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	return url, stop
}

func indent(s string) string {
	return "#   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n#   ")
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " &?;\"'()") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
