package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/generic"
)

// runConformanceGeneric implements "regkit conformance generic": it runs
// the generic package registry's suite against any registry (regkit, or
// Gitea with --labels '!extension') and ends with "N passed, N failed, N
// skipped", exiting 1 when anything failed. args are those after
// "generic".
func runConformanceGeneric(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := conformance.Default()
	fs := flag.NewFlagSet("regkit conformance generic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	owner := fs.String("owner", "", "user or organization the run writes packages to (env REGKIT_CONFORMANCE_OWNER; default: the first component of -namespace)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: regkit conformance generic --url URL --owner OWNER [--token TOKEN | --username U --password P] [--report DIR] [--labels '!extension']")
		fs.PrintDefaults()
	}
	if err := parseConformanceFlags(fs, cfg, args); err != nil {
		return err
	}
	if *owner == "" {
		*owner = os.Getenv("REGKIT_CONFORMANCE_OWNER")
	}
	fmt.Fprintf(stdout, "regkit conformance generic: owner=%s %s\n", *owner, cfg)
	sum, err := conformance.Run(ctx, cfg, generic.Suite(*owner))
	return reportRun(stdout, cfg, sum, err)
}
