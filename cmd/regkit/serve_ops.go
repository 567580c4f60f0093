package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metrics"
	"github.com/regkit/regkit/server/storage"
)

// opsConfig is the operations part of regkit serve's configuration
// (inline in serveConfig): metrics, probes, TLS, the access log, the
// upload buffer budget and the garbage collection schedule.
type opsConfig struct {
	MetricsAddr        string        `yaml:"metrics-addr"`
	MetricsEndpoint    bool          `yaml:"metrics-endpoint"`
	Pprof              bool          `yaml:"pprof"`
	TLSCert            string        `yaml:"tls-cert"`
	TLSKey             string        `yaml:"tls-key"`
	AccessLog          bool          `yaml:"access-log"`
	DrainDelay         time.Duration `yaml:"drain-delay"`
	ReadyTimeout       time.Duration `yaml:"ready-timeout"`
	UploadBufferMemory byteSize      `yaml:"upload-buffer-memory"`
	UploadBufferWait   time.Duration `yaml:"upload-buffer-wait"`
	GCStartDelay       time.Duration `yaml:"gc-start-delay"`
}

func defaultOpsConfig() opsConfig {
	return opsConfig{
		AccessLog:          true,
		DrainDelay:         5 * time.Second,
		ReadyTimeout:       2 * time.Second,
		UploadBufferMemory: 256 << 20,
		UploadBufferWait:   10 * time.Second,
	}
}

// addOpsFlags defines the operations flags on fs.
func addOpsFlags(fs *flag.FlagSet, c *opsConfig) {
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve Prometheus metrics on GET /metrics of this separate listener, e.g. 127.0.0.1:9090 (empty: no metrics listener)")
	fs.BoolVar(&c.MetricsEndpoint, "metrics-endpoint", c.MetricsEndpoint, "also serve GET /metrics on the registry's listener, to site admins only (needs -auth tokens)")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve Go's /debug/pprof/ on the -metrics-addr listener (never on the registry's)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate (chain) file: serve HTTPS and HTTP/2; reloaded when the file changes")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key file of -tls-cert; reloaded when the file changes")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log every request at level info (off: successful requests at debug only)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", c.DrainDelay, "on SIGTERM, how long /readyz answers 503 before the listener closes, so load balancers stop routing here first (skipped when /readyz was never asked)")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", c.ReadyTimeout, "how long /readyz waits for the metadata store and the bucket to answer")
	fs.Var(&c.UploadBufferMemory, "upload-buffer-memory", "most memory the copy buffers of all uploads in flight may hold together, e.g. 256MiB (1 MiB buffers, up to 3 per upload; 0: unbounded)")
	fs.DurationVar(&c.UploadBufferWait, "upload-buffer-wait", c.UploadBufferWait, "how long an upload waits for buffer memory before it is answered 503 with Retry-After")
	fs.DurationVar(&c.GCStartDelay, "gc-start-delay", c.GCStartDelay, "when the first garbage collection runs after start (0: one -gc-interval later, with up to 10% jitter); never at start, which would delay readiness")
}

// validate checks the combinations of c.
func (c opsConfig) validate(auth string) error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: -tls-cert and -tls-key go together", errUsage)
	}
	if c.Pprof && c.MetricsAddr == "" {
		return fmt.Errorf("%w: -pprof needs -metrics-addr (pprof is never served on the registry's listener)", errUsage)
	}
	if c.MetricsEndpoint && auth != "tokens" {
		return fmt.Errorf("%w: -metrics-endpoint needs -auth tokens (an open registry serves metrics on -metrics-addr only)", errUsage)
	}
	return nil
}

// newMetrics returns the process's metrics when any listener serves
// them, else nil.
func (c opsConfig) newMetrics() *metrics.Metrics {
	if c.MetricsAddr == "" && !c.MetricsEndpoint {
		return nil
	}
	m := metrics.New()
	b := readBuildInfo()
	m.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build runs (regkit version).",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.Go}},
		func() float64 { return 1 }))
	return m
}

// storageOptions are the blob store's options of c with m (may be nil).
func (c opsConfig) storageOptions(m *metrics.Metrics) []storage.Option {
	var obs storage.BufferObserver
	var opts []storage.Option
	if m != nil {
		inUse, budget, waited := m.BufferGauges()
		budget.Set(float64(int64(c.UploadBufferMemory) / (1 << 20) * (1 << 20)))
		obs = storage.BufferObserver{InUse: func(n int64) { inUse.Set(float64(n)) }, Waited: waited}
		opts = append(opts, storage.WithObserver(m.ObserveStorage))
	}
	return append(opts, storage.WithBufferBudget(int64(c.UploadBufferMemory), c.UploadBufferWait, obs))
}

// listen opens the registry's listener and, when a certificate is
// configured, sets srv.TLSConfig (the caller then serves with ServeTLS,
// which offers HTTP/2).
func (c opsConfig) listen(addr string, srv *http.Server, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if c.TLSCert == "" {
		return ln, nil
	}
	cr, err := server.NewCertReloader(c.TLSCert, c.TLSKey, log)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	srv.TLSConfig = cr.TLSConfig()
	return ln, nil
}

// metricsServer starts the -metrics-addr listener (nil when there is
// none) and returns its address.
func (c opsConfig) metricsServer(m *metrics.Metrics, log *slog.Logger) (*http.Server, string, error) {
	if c.MetricsAddr == "" {
		return nil, "", nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if c.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics serving", "addr", ln.Addr().String(), "pprof", c.Pprof)
	return srv, ln.Addr().String(), nil
}

// runGCSchedule runs garbage collection every interval until ctx ends,
// the first run after -gc-start-delay (never at start: a full run reads
// every record, which on the embedded store pulls the whole file into
// memory and would delay readiness). Runs are recorded in m (may be nil).
func runGCSchedule(ctx context.Context, sweeper *gc.Sweeper, interval, startDelay time.Duration, m *metrics.Metrics, log *slog.Logger) {
	first := startDelay
	if first <= 0 {
		first = interval + rand.N(interval/10+1)
	}
	log.Info("garbage collection scheduled", "first", first.Round(time.Second), "interval", interval)
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		rep, err := sweeper.RunOnce(ctx)
		result := "ok"
		switch {
		case errors.Is(err, gc.ErrLeaseHeld):
			result = "skipped"
			log.Debug("gc skipped: another sweeper is running")
		case err != nil && ctx.Err() == nil:
			result = "failed"
			log.Error("gc run failed", "err", err)
		case err != nil:
			return
		}
		if m != nil {
			deleted, freed := len(rep.Deleted), rep.DeletedBytes
			if rep.DryRun {
				deleted, freed = 0, 0
			}
			m.ObserveGC(result, time.Since(start), deleted, freed)
		}
		t.Reset(interval)
	}
}
