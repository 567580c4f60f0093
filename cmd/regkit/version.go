package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version overrides the module version of the build info when set at
// build time with -ldflags "-X main.version=...".
var version = ""

// buildInfo is what regkit version prints.
type buildInfo struct {
	Version  string // module version ("(devel)" for a build from a work tree)
	Revision string // VCS revision, "" without VCS stamping
	Time     string // VCS commit time
	Dirty    bool   // the work tree had uncommitted changes
	Go       string
}

// readBuildInfo reads the binary's build info (runtime/debug).
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "(devel)", Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" {
			bi.Version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Revision = s.Value
			case "vcs.time":
				bi.Time = s.Value
			case "vcs.modified":
				bi.Dirty = s.Value == "true"
			}
		}
	}
	if version != "" {
		bi.Version = version
	}
	return bi
}

// short is the version for the User-Agent: the version, with a short
// revision for a development build.
func (b buildInfo) short() string {
	v := b.Version
	if v == "(devel)" && b.Revision != "" {
		v = "devel-" + b.Revision[:min(12, len(b.Revision))]
		if b.Dirty {
			v += "-dirty"
		}
	}
	return v
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("regkit version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := readBuildInfo()
	fmt.Fprintln(stdout, "regkit", b.Version)
	if b.Revision != "" {
		dirty := ""
		if b.Dirty {
			dirty = " (dirty)"
		}
		fmt.Fprintf(stdout, "revision: %s%s\n", b.Revision, dirty)
	}
	if b.Time != "" {
		fmt.Fprintln(stdout, "time:", b.Time)
	}
	fmt.Fprintln(stdout, "go:", b.Go)
	return nil
}
