package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/accounts"
)

// runConformanceAccounts implements "regkit conformance accounts": the
// account and token API's suite against any registry, with a site admin's
// password login (it creates and deletes users and an organization named
// conf<random>-*). args are those after "accounts".
func runConformanceAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := conformance.Default()
	fs := flag.NewFlagSet("regkit conformance accounts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: regkit conformance accounts --url URL --username ADMIN --password P [--report DIR] [--labels '!extension']")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.Load(fs, os.Getenv); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if cfg.Username == "" || cfg.Password.Value() == "" {
		return fmt.Errorf("%w: the accounts suite needs a site admin's --username and --password", errUsage)
	}
	fmt.Fprintf(stdout, "regkit conformance accounts: %s\n", cfg)
	sum, err := conformance.Run(ctx, cfg, accounts.Suite())
	return reportRun(stdout, cfg, sum, err)
}
