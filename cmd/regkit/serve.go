package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/downloads"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metrics"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
)

// serveConfig is the configuration of regkit serve. Every field is a
// flag, a REGKIT_* environment variable and a YAML key.
type serveConfig struct {
	Addr            string        `yaml:"addr"`
	Data            string        `yaml:"data"`
	Storage         string        `yaml:"storage"`
	Redis           string        `yaml:"redis"`
	LogLevel        string        `yaml:"log-level"`
	LogFormat       string        `yaml:"log-format"`
	MaxManifestSize int64         `yaml:"max-manifest-size"`
	AutoMount       bool          `yaml:"auto-mount"`
	Delete          bool          `yaml:"delete"`
	SparseManifests bool          `yaml:"sparse-manifests"`
	Redirect        bool          `yaml:"redirect"`
	RedirectTTL     time.Duration `yaml:"redirect-ttl"`
	GenericMaxFile  byteSize      `yaml:"generic-max-file-size"`
	UploadExpiry    time.Duration `yaml:"upload-expiry"`
	UploadLeaseTTL  time.Duration `yaml:"upload-lease-ttl"`
	MaxOpenUploads  int           `yaml:"max-open-uploads"`
	GCInterval      time.Duration `yaml:"gc-interval"`
	GCGrace         time.Duration `yaml:"gc-grace"`
	GCDryRun        bool          `yaml:"gc-dry-run"`
	QuotaDefault    byteSize      `yaml:"quota-default"`
	Quotas          quotaMap      `yaml:"quotas"`
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout"`
	httpLimits      `yaml:",inline"`
	authConfig      `yaml:",inline"`
	opsConfig       `yaml:",inline"`
	upstreamConfig  `yaml:",inline"`
}

// httpLimits bound what one connection or request may hold (see
// newHTTPServer).
type httpLimits struct {
	IdleTimeout       time.Duration `yaml:"idle-timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read-header-timeout"`
	MaxHeaderBytes    byteSize      `yaml:"max-header-bytes"`
	MinUploadRate     byteSize      `yaml:"min-upload-rate"`
	MinUploadWindow   time.Duration `yaml:"min-upload-window"`
	MinDownloadRate   byteSize      `yaml:"min-download-rate"`
	MinDownloadWindow time.Duration `yaml:"min-download-window"`
	TrustedProxies    string        `yaml:"trusted-proxies"`
}

func defaultHTTPLimits() httpLimits {
	return httpLimits{
		IdleTimeout:       60 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MinUploadRate:     server.DefaultMinBodyRate,
		MinUploadWindow:   server.DefaultMinBodyWindow,
		MinDownloadRate:   server.DefaultMinDownloadRate,
		MinDownloadWindow: server.DefaultMinDownloadWindow,
	}
}

// addHTTPFlags defines the connection and request limit flags on fs.
func addHTTPFlags(fs *flag.FlagSet, c *httpLimits) {
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close keep-alive connections idle for this long (0: never)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "a client must send a request's headers within this time, else its connection is closed (0: no limit)")
	fs.Var(&c.MaxHeaderBytes, "max-header-bytes", "largest request line and headers accepted, e.g. 64KiB (larger: 431)")
	fs.Var(&c.MinUploadRate, "min-upload-rate", "slowest a request body may arrive, bytes per second averaged over -min-upload-window, e.g. 1KiB (slower: 408, the upload session is kept unchanged; 0: no minimum)")
	fs.DurationVar(&c.MinUploadWindow, "min-upload-window", c.MinUploadWindow, "window of -min-upload-rate: each one must bring rate×window bytes, so a body may stall at most this long")
	fs.Var(&c.MinDownloadRate, "min-download-rate", "slowest a client may read a response, bytes per second averaged over -min-download-window, e.g. 4KiB (slower: the connection is closed; 0: no minimum)")
	fs.DurationVar(&c.MinDownloadWindow, "min-download-window", c.MinDownloadWindow, "window of -min-download-rate: each one must take rate×window bytes, so a reader may stall at most this long")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated addresses or CIDR prefixes of the load balancers in front (e.g. 10.0.0.0/8,::1): from them, the client IP of rate limits, failed-login lockouts and the access log is taken from X-Forwarded-For")
}

// newHTTPServer returns the HTTP server of h with the limits of c.
func (c httpLimits) newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    int(c.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr:            "127.0.0.1:5000",
		Data:            "./data",
		LogLevel:        "info",
		LogFormat:       "text",
		MaxManifestSize: server.DefaultMaxManifestSize,
		Delete:          true,
		RedirectTTL:     10 * time.Minute,
		UploadExpiry:    24 * time.Hour,
		UploadLeaseTTL:  storage.DefaultLeaseTTL,
		MaxOpenUploads:  1000,
		GCInterval:      time.Hour,
		GCGrace:         gc.DefaultGrace,
		Quotas:          quotaMap{},
		ShutdownTimeout: 30 * time.Second,
		httpLimits:      defaultHTTPLimits(),
		authConfig:      defaultAuthConfig(),
		opsConfig:       defaultOpsConfig(),
	}
}

// redirectTTL is the lifetime of signed URLs, 0 when --redirect is off.
func (c *serveConfig) redirectTTL() time.Duration {
	if !c.Redirect {
		return 0
	}
	if c.RedirectTTL <= 0 {
		return 10 * time.Minute
	}
	return c.RedirectTTL
}

// newServeFlags returns the flag set of regkit serve bound to c.
func newServeFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("regkit serve", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	fs.StringVar(&c.Data, "data", c.Data, "data directory of the embedded defaults: blobs in <data>/blobs, metadata in <data>/meta.db")
	fs.StringVar(&c.Storage, "storage", c.Storage, "blob bucket URL (file:///dir, mem://, ...); default file://<data>/blobs")
	fs.StringVar(&c.Redis, "redis", c.Redis, "keep metadata in Redis instead of the embedded store: redis://host:port/db, redis+sentinel://..., redis+cluster://...")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.Int64Var(&c.MaxManifestSize, "max-manifest-size", c.MaxManifestSize, "largest manifest accepted, in bytes (larger: 413)")
	fs.BoolVar(&c.AutoMount, "auto-mount", c.AutoMount, "let a mount without 'from' succeed when the blob exists anywhere (with auth: in a repository the caller may pull)")
	fs.BoolVar(&c.Delete, "delete", c.Delete, "allow deleting manifests, tags and blobs")
	fs.BoolVar(&c.Redirect, "redirect", c.Redirect, "answer blob and generic-file GETs with 307 to a signed bucket URL (S3, Azure, GCS with a signing key)")
	fs.DurationVar(&c.RedirectTTL, "redirect-ttl", c.RedirectTTL, "lifetime of the signed URLs of --redirect")
	fs.Var(&c.GenericMaxFile, "generic-max-file-size", "largest file the generic package registry accepts, e.g. 5GiB (0: no limit; larger: 403)")
	fs.BoolVar(&c.SparseManifests, "sparse-manifests", c.SparseManifests, "accept manifests whose blobs or child manifests are missing (sparse images and indexes)")
	fs.DurationVar(&c.UploadExpiry, "upload-expiry", c.UploadExpiry, "idle upload sessions older than this are swept")
	fs.DurationVar(&c.UploadLeaseTTL, "upload-lease-ttl", c.UploadLeaseTTL, "how long an upload whose writer died stays busy (409) before another request takes it over")
	fs.IntVar(&c.MaxOpenUploads, "max-open-uploads", c.MaxOpenUploads, "most upload sessions open at once per namespace (0: no cap; more: 429)")
	fs.DurationVar(&c.GCInterval, "gc-interval", c.GCInterval, "how often garbage collection runs (0: never; any replica may run it, one at a time)")
	fs.DurationVar(&c.GCGrace, "gc-grace", c.GCGrace, "unreferenced blobs are deleted once unused for this long")
	fs.BoolVar(&c.GCDryRun, "gc-dry-run", c.GCDryRun, "garbage collection only reports what it would delete")
	fs.Var(&c.QuotaDefault, "quota-default", "storage quota of every namespace, e.g. 10GiB (0: unlimited)")
	fs.Var(&c.Quotas, "quota", "storage quota of one namespace, NS=SIZE (repeatable; 0: unlimited), e.g. team=50GiB")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take on shutdown")
	addHTTPFlags(fs, &c.httpLimits)
	addAuthFlags(fs, &c.authConfig)
	addOpsFlags(fs, &c.opsConfig)
	addUpstreamFlags(fs, &c.upstreamConfig)
	return fs
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && strings.TrimLeft(args[0], "-") == helpMarkdownFlag {
		writeConfigMarkdown(stdout)
		return nil
	}
	cfg := defaultServeConfig()
	fs := newServeFlags(&cfg)
	fs.SetOutput(stderr)
	var configPath string
	fs.StringVar(&configPath, "config", "", "YAML configuration file (keys are the flag names)")
	if err := loadConfig(fs, args, &cfg, &configPath); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, nil)
}

// serve runs the server until ctx ends. When ready is not nil, it
// receives the listening address once the server accepts connections.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, ready chan<- string) error {
	if err := cfg.opsConfig.validate(cfg.Auth); err != nil {
		return err
	}
	proxies, err := server.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("%w: -trusted-proxies %q: %w (use addresses or CIDR prefixes, comma-separated)", errUsage, cfg.TrustedProxies, err)
	}
	log = slog.New(server.LogHandler(log.Handler()))
	m := cfg.newMetrics()
	meta, store, closeStores, err := openStores(ctx, cfg, log, m)
	if err != nil {
		return err
	}
	defer closeStores()
	if m != nil {
		m.WatchUploads(meta)
	}

	var quotaOpts []quota.Option
	if cfg.QuotaDefault > 0 {
		quotaOpts = append(quotaOpts, quota.WithDefault(int64(cfg.QuotaDefault)))
	}
	for ns, n := range cfg.Quotas {
		quotaOpts = append(quotaOpts, quota.WithLimit(ns, int64(n)))
	}
	var q *quota.Checker
	if len(quotaOpts) > 0 || cfg.MaxOpenUploads > 0 {
		quotaOpts = append(quotaOpts, quota.WithMaxUploads(cfg.MaxOpenUploads), quota.WithLiveness(quota.SessionAlive(meta)))
		q = quota.New(meta, quotaOpts...)
	}

	authService, err := newAuth(ctx, cfg.authConfig, meta, log)
	if err != nil {
		return err
	}
	// Download counts are batched: a counted GET writes nothing itself
	// (see package downloads for what a crash may lose).
	var pkgs metadata.Packages
	if p, ok := meta.(metadata.Packages); ok {
		b := downloads.New(p, downloads.Options{Log: log})
		defer func() {
			if err := b.Close(context.WithoutCancel(ctx)); err != nil {
				log.Warn("writing the last download counts failed", "err", err)
			}
		}()
		pkgs = b
	}
	proxy, proxyChecks, err := cfg.upstream("regkit/" + readBuildInfo().short())
	if err != nil {
		return err
	}
	h := server.New(meta, store, append([]server.Option{
		server.WithPackages(pkgs),
		server.WithAuth(authService),
		server.WithQuota(q),
		server.WithLogger(log),
		server.WithMaxManifestSize(cfg.MaxManifestSize),
		server.WithAutoMount(cfg.AutoMount),
		server.WithDelete(cfg.Delete),
		server.WithRedirect(cfg.redirectTTL()),
		server.WithSparseManifests(cfg.SparseManifests),
		server.WithGenericMaxFileSize(int64(cfg.GenericMaxFile)),
		server.WithMinBodyRate(int64(cfg.MinUploadRate), cfg.MinUploadWindow),
		server.WithMinDownloadRate(int64(cfg.MinDownloadRate), cfg.MinDownloadWindow),
		server.WithTrustedProxies(proxies),
		server.WithMetrics(m),
		server.WithMetricsEndpoint(cfg.MetricsEndpoint),
		server.WithAccessLog(cfg.AccessLog),
	}, proxy...)...)
	health := server.NewHealth(log, cfg.ReadyTimeout, append([]server.Check{server.MetadataCheck(meta), server.BucketCheck(store)}, proxyChecks...)...)
	srv := cfg.newHTTPServer(health.Wrap(h), log)
	ln, err := cfg.listen(cfg.Addr, srv, log)
	if err != nil {
		return err
	}
	msrv, maddr, err := cfg.metricsServer(m, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	if msrv != nil {
		defer msrv.Close()
	}
	log.Info("regkit serving", "addr", ln.Addr().String(), "tls", cfg.TLSCert != "", "storage", cfg.storageName(), "metadata", metadataName(cfg), "upstream", cfg.Upstream,
		"upload_buffer_memory", store.BufferBudget())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if readyMetrics != nil && maddr != "" {
		readyMetrics(maddr)
	}

	if cfg.GCInterval > 0 {
		sweeper := gc.New(meta, store, cfg.gcOptions(meta, log)...)
		go runGCSchedule(ctx, sweeper, cfg.GCInterval, cfg.GCStartDelay, m, log)
	}

	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // HTTP/2 and HTTP/1.1 (ALPN)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	health.Drain()
	if health.Probed() && cfg.DrainDelay > 0 {
		log.Info("draining: /readyz answers 503", "for", cfg.DrainDelay)
		time.Sleep(cfg.DrainDelay)
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// readyMetrics, when set (by tests), receives the metrics listener's
// address once it serves.
var readyMetrics func(addr string)

// gcOptions are the garbage collector's options of c: grace, upload
// expiry, dry run, and the referencers of everything besides manifests
// that keeps blobs alive (generic package files).
func (c serveConfig) gcOptions(meta metadata.Store, log *slog.Logger, more ...gc.Option) []gc.Option {
	opts := []gc.Option{gc.WithGrace(c.GCGrace), gc.WithUploadExpiry(c.UploadExpiry), gc.WithDryRun(c.GCDryRun), gc.WithLogger(log)}
	if p, ok := meta.(metadata.Packages); ok {
		opts = append(opts, gc.WithReferencers(metadata.PackageReferencer(p)))
	}
	return append(opts, more...)
}

// openStores opens the metadata store and the blob store of cfg; close
// closes both.
func openStores(ctx context.Context, cfg serveConfig, log *slog.Logger, m *metrics.Metrics) (meta metadata.Store, store *storage.Store, close func(), err error) {
	if meta, err = openMetadata(ctx, cfg); err != nil {
		return nil, nil, nil, err
	}
	if m != nil {
		if db, ok := meta.(*metadata.DB); ok {
			if rd, ok := db.Driver().(*redismeta.Driver); ok {
				rd.Client().AddHook(m.RedisHook())
			}
		}
		meta = m.Store(meta)
	}
	bucketURL, err := cfg.bucketURL()
	if err == nil {
		opts := append([]storage.Option{storage.WithLogger(log), storage.WithLeaseTTL(cfg.UploadLeaseTTL)}, cfg.storageOptions(m)...)
		store, err = storage.Open(ctx, bucketURL, meta, opts...)
		if err != nil {
			err = fmt.Errorf("storage %s: %w", bucketURL, err)
		}
	}
	if err != nil {
		_ = meta.Close()
		return nil, nil, nil, err
	}
	return meta, store, func() { _ = store.Close(); _ = meta.Close() }, nil
}

// storageName names the blob bucket for the log.
func (c serveConfig) storageName() string {
	u, err := c.bucketURL()
	if err != nil {
		return c.Storage
	}
	return u
}

// bucketURL is the blob bucket: --storage, or file://<data>/blobs.
func (c serveConfig) bucketURL() (string, error) {
	if c.Storage != "" {
		return c.Storage, nil
	}
	dir, err := filepath.Abs(filepath.Join(c.Data, "blobs"))
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(dir), nil
}

func openMetadata(ctx context.Context, cfg serveConfig) (metadata.Store, error) {
	if cfg.Redis != "" {
		s, err := redismeta.Open(ctx, cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("redis metadata: %w", err)
		}
		return s, nil
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Data, "meta.db")
	s, err := boltmeta.Open(path)
	if errors.Is(err, boltmeta.ErrFormat) {
		return nil, fmt.Errorf("embedded metadata: %w\n(%s is left unchanged; to keep it, run with --data set to a new directory instead)", err, path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded metadata: %w", err)
	}
	return s, nil
}

func metadataName(cfg serveConfig) string {
	if cfg.Redis != "" {
		return "redis"
	}
	return "embedded:" + filepath.Join(cfg.Data, "meta.db")
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: -log-level %q: use debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: -log-format %q: use text or json", errUsage, format)
}
