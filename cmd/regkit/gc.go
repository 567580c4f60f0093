package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/regkit/regkit/server/gc"
)

// runGC implements "regkit gc": one garbage collection over the stores of
// a serve configuration (same flags, environment and YAML file), printing
// its report as JSON. With the embedded store, the server must be stopped
// (it holds the store's lock); with Redis, replicas may keep serving.
func runGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultServeConfig()
	fs := newServeFlags(&cfg)
	fs.Init("regkit gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configPath string
	fs.StringVar(&configPath, "config", "", "YAML configuration file (the serve keys)")
	dryRun := fs.Bool("dry-run", false, "report what would be deleted, delete nothing")
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
	meta, store, closeStores, err := openStores(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer closeStores()
	cfg.GCDryRun = cfg.GCDryRun || *dryRun
	rep, err := gc.New(meta, store, cfg.gcOptions(meta, log)...).RunOnce(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
