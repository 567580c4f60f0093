package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/oci"
)

// runConformance implements "regkit conformance oci": it runs the OCI
// suite against any registry and ends with "N passed, N failed, N
// skipped", exiting 1 when anything failed.
func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "generic" {
		return runConformanceGeneric(ctx, args[1:], stdout, stderr) // conformance_generic.go
	}
	if len(args) > 0 && args[0] == "accounts" {
		return runConformanceAccounts(ctx, args[1:], stdout, stderr) // conformance_accounts.go
	}
	if len(args) > 0 && args[0] == "official" {
		return runConformanceOfficial(ctx, args[1:], stdout, stderr) // conformance_official.go
	}
	if len(args) == 0 || args[0] != "oci" {
		fmt.Fprintln(stderr, "usage: regkit conformance oci|generic|accounts|official --url URL --namespace NS [--username U --password P] [--report DIR]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	cfg := conformance.Default()
	fs := flag.NewFlagSet("regkit conformance oci", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if err := parseConformanceFlags(fs, cfg, args[1:]); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	fmt.Fprintf(stdout, "regkit conformance oci: %s\n", cfg)
	sum, err := conformance.Run(ctx, cfg, oci.Register)
	return reportRun(stdout, cfg, sum, err)
}

// parseConformanceFlags parses args into fs and loads cfg from the flags,
// the environment and any config file; a usage error is errUsage.
func parseConformanceFlags(fs *flag.FlagSet, cfg *conformance.Config, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.Load(fs, os.Getenv); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// reportRun prints where the reports went and the closing line of a
// conformance run, and turns failures into exit status 1.
func reportRun(stdout io.Writer, cfg *conformance.Config, sum conformance.Summary, err error) error {
	if err != nil {
		return err
	}
	if cfg.ReportDir != "" {
		fmt.Fprintf(stdout, "reports: %s/{%s,%s,%s}\n", cfg.ReportDir, conformance.JUnitFile, conformance.ResultsFile, conformance.HTMLFile)
	}
	if sum.Unsupported > 0 {
		fmt.Fprintf(stdout, "%d of the skipped specs test features the registry does not support\n", sum.Unsupported)
	}
	fmt.Fprintln(stdout, sum.Line())
	if sum.Failed > 0 {
		return exitError{code: 1}
	}
	return nil
}
