// Command regkit is the regkit toolkit's one binary: the reference
// registry server, the conformance suites and the client verbs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one verb of the regkit binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the registry server", runServe},
		{"admin", "manage users, organizations, members and tokens of a running server (-auth tokens)", runAdmin},
		{"gc", "collect garbage once (same flags as serve; --dry-run reports only)", runGC},
		{"conformance", "run a conformance suite against any registry (conformance oci|generic|official ...)", runConformance},
		{"version", "print the version", runVersion},
		{"bench", "benchmark uploads, range reads and manifest GETs", runBench},
		{"cp", "copy an image or index (all platforms, --referrers) between registries, oci:DIR and oci-archive:FILE", runCp},
		{"ls", "list the repositories of a registry", runLs},
		{"tags", "list the tags of a repository, layout or archive", runTagsVerb},
		{"inspect", "show a manifest: digest, platforms, config, layers, referrers", runInspect},
		{"rm", "delete a tag or a manifest", runRm},
		{"referrers", "list the referrers (signatures, SBOMs) of an image", runReferrersVerb},
		{"login", "check credentials and store them in docker's config.json", runLogin},
		{"logout", "remove stored credentials", runLogout},
		{"pkg", "generic packages: upload, download, ls, versions, latest, rm, link, unlink", runPkg},
		{"wire", "wire-level verbs, one request each: ping, push-blob, pull-blob, manifest, tags, catalog, referrers", runWire},
		{"ping", "alias of wire ping", runPing},
		{"push-blob", "alias of wire push-blob", runPushBlob},
		{"pull-blob", "alias of wire pull-blob", runPullBlob},
		{"manifest", "alias of wire manifest", runManifest},
		{"catalog", "alias of wire catalog", runCatalog},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error whose message already explained the usage.
var errUsage = errors.New("usage")

// exitError carries a specific exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			var ee exitError
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.As(err, &ee):
				return ee.code
			}
			fmt.Fprintf(stderr, "regkit %s: %v\n", c.name, err)
			return exitCode(err)
		}
	}
	fmt.Fprintf(stderr, "regkit: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: regkit <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'regkit <command> -h' for the flags of a command.")
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 other failure, 2 usage, 3 not found, 4 authentication or permission,\n  5 unreachable (network, 429, 5xx after retries), 6 integrity (digest or size), 7 conflict")
}
