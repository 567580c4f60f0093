package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
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
