package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/regkit/regkit/internal/bytesize"
)

// loadConfig fills cfg from, in increasing precedence: its defaults, the
// YAML file named by --config (or REGKIT_CONFIG), REGKIT_* environment
// variables and the flags given on the command line. fs must have been
// set up with flags bound to cfg's fields; the environment variable of
// flag "max-manifest-size" is REGKIT_MAX_MANIFEST_SIZE.
func loadConfig(fs *flag.FlagSet, args []string, cfg any, configFlag *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	explicit := map[string]string{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })

	path := *configFlag
	if path == "" {
		path = os.Getenv("REGKIT_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := explicit[f.Name]; ok || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	if err != nil {
		return err
	}
	for name, v := range explicit {
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("-%s: %w", name, err)
		}
	}
	return nil
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "REGKIT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// byteSize is a size in bytes written like "512MiB", "10GB" or "1024";
// a flag.Value and a YAML scalar.
type byteSize int64

func (b *byteSize) String() string { return bytesize.Format(int64(*b)) }

// Set parses s.
func (b *byteSize) Set(s string) error {
	n, err := bytesize.Parse(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// UnmarshalYAML accepts a number or a size string.
func (b *byteSize) UnmarshalYAML(n *yaml.Node) error { return b.Set(n.Value) }

// quotaMap maps namespaces to quotas: repeated NS=SIZE flags, or a YAML
// mapping of namespace to size.
type quotaMap map[string]byteSize

func (q *quotaMap) String() string {
	if q == nil || len(*q) == 0 {
		return ""
	}
	parts := make([]string, 0, len(*q))
	for ns, n := range *q {
		parts = append(parts, ns+"="+n.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set adds NS=SIZE (several may be separated by commas).
func (q *quotaMap) Set(s string) error {
	if *q == nil {
		*q = quotaMap{}
	}
	for _, kv := range strings.Split(s, ",") {
		ns, size, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || ns == "" {
			return fmt.Errorf("quota %q: want NAMESPACE=SIZE, e.g. team=10GiB", kv)
		}
		var n byteSize
		if err := n.Set(size); err != nil {
			return fmt.Errorf("quota of %q: %w", ns, err)
		}
		(*q)[ns] = n
	}
	return nil
}
