package main

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"
)

// TestConfigDocCurrent fails when docs/config.md differs from what the
// flag definitions generate (run go generate ./cmd/regkit).
func TestConfigDocCurrent(t *testing.T) {
	var want bytes.Buffer
	writeConfigMarkdown(&want)
	got, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("docs/config.md is not what the flags generate: run `go generate ./cmd/regkit` (regkit serve --help-markdown > docs/config.md)")
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--help-markdown"}, &out, &errb); code != 0 || !bytes.Equal(out.Bytes(), want.Bytes()) {
		t.Fatalf("regkit serve --help-markdown: exit %d, output differs: %v", code, !bytes.Equal(out.Bytes(), want.Bytes()))
	}
}

// TestConfigKeysMatchFlags: every flag of regkit serve has a YAML key and
// every YAML key a flag.
func TestConfigKeysMatchFlags(t *testing.T) {
	cfg := defaultServeConfig()
	var fromFlags []string
	newServeFlags(&cfg).VisitAll(func(f *flag.Flag) { fromFlags = append(fromFlags, yamlKeyOf(f.Name)) })
	keys := yamlKeys(reflect.TypeOf(cfg))
	sort.Strings(fromFlags)
	sort.Strings(keys)
	if !reflect.DeepEqual(fromFlags, keys) {
		t.Fatalf("flags and YAML keys differ:\nflags: %v\nyaml:  %v", fromFlags, keys)
	}
}

// TestExampleConfig loads docs/regkit.example.yaml (unknown keys are an
// error) and checks the precedence: flags over environment over file.
func TestExampleConfig(t *testing.T) {
	load := func(args ...string) serveConfig {
		t.Helper()
		cfg := defaultServeConfig()
		fs := newServeFlags(&cfg)
		fs.SetOutput(&bytes.Buffer{})
		var path string
		fs.StringVar(&path, "config", "", "")
		if err := loadConfig(fs, append([]string{"--config", "../../docs/regkit.example.yaml"}, args...), &cfg, &path); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := load()
	if cfg.Addr != "0.0.0.0:5000" || cfg.UploadBufferMemory != 256<<20 || cfg.GCStartDelay != 10*time.Minute ||
		cfg.MetricsAddr != "127.0.0.1:9090" || cfg.Quotas["team"] != 50<<30 || cfg.LogFormat != "json" {
		t.Fatalf("example file not applied: %+v", cfg)
	}
	t.Setenv("REGKIT_UPLOAD_BUFFER_MEMORY", "64MiB")
	t.Setenv("REGKIT_ADDR", "127.0.0.1:7000")
	cfg = load("--addr", "127.0.0.1:6000")
	if cfg.Addr != "127.0.0.1:6000" {
		t.Errorf("flag did not override env and file: addr %q", cfg.Addr)
	}
	if cfg.UploadBufferMemory != 64<<20 {
		t.Errorf("env did not override file: upload-buffer-memory %d", cfg.UploadBufferMemory)
	}
	if cfg.GCInterval != time.Hour {
		t.Errorf("file value lost: gc-interval %v", cfg.GCInterval)
	}
}
