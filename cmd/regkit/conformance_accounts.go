package main

import (
	"context"
	"flag"
	"fmt"
	"io"

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
	if err := parseConformanceFlags(fs, cfg, args); err != nil {
		return err
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
