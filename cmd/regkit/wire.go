package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// wireCommands are the wire-level verbs: one OCI request each, against
// --url. The top-level ping, push-blob, pull-blob, manifest and catalog
// are kept as aliases.
func wireCommands() []command {
	return []command{
		{"ping", "check that a registry speaks the OCI Distribution API", runPing},
		{"push-blob", "upload a file (or stdin) as a blob", runPushBlob},
		{"pull-blob", "download a blob, or a byte range of it", runPullBlob},
		{"manifest", "get, head, put or delete a manifest", runManifest},
		{"tags", "list the tags of a repository (--url U <repository>)", runTags},
		{"catalog", "list the repositories of a registry", runCatalog},
		{"referrers", "list the manifests that refer to a digest (--url U <repository> <digest>)", runReferrers},
	}
}

func runWire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		for _, c := range wireCommands() {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
	}
	fmt.Fprintln(stderr, "usage: regkit wire <verb> [flags] ...\n\nverbs (one OCI request each, against --url or REGKIT_URL):")
	for _, c := range wireCommands() {
		fmt.Fprintf(stderr, "  %-12s %s\n", c.name, c.summary)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return flag.ErrHelp
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "\nregkit wire: unknown verb %q\n", args[0])
	}
	return errUsage
}
