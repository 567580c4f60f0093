package conformance_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/conformance"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("url: http://file.example\nnamespace: from-file\npassword: file-secret\nusername: u\nreferrers: off\ntimeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"REGKIT_CONFORMANCE_CONFIG":    file,
		"REGKIT_CONFORMANCE_NAMESPACE": "from-env",
		"REGKIT_CONFORMANCE_SHA512":    "on",
	}
	cfg := conformance.Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-sha512=off", "-insecure-tls"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "url from file", got: cfg.URL, want: "http://file.example"},
		{name: "env over file", got: cfg.Namespace, want: "from-env"},
		{name: "flag over env", got: cfg.SHA512, want: conformance.FeatureOff},
		{name: "file feature", got: cfg.Referrers, want: conformance.FeatureOff},
		{name: "default feature", got: cfg.Delete, want: conformance.FeatureAuto},
		{name: "bool flag", got: cfg.InsecureTLS, want: true},
		{name: "duration", got: cfg.Timeout, want: 5 * time.Second},
		{name: "secret value", got: cfg.Password.Value(), want: "file-secret"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	cfg := conformance.Default()
	cfg.URL, cfg.Username, cfg.Password, cfg.Token = "http://r", "user", "hunter2", "tok-123"
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v %s", cfg, *cfg, *cfg, cfg.Password), string(b), fmt.Sprint(cfg.Settings())} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "tok-123") {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(cfg.String(), "password="+conformance.Redacted) {
		t.Errorf("String() = %s", cfg.String())
	}
}

func TestFlagSecretSurvivesLoad(t *testing.T) {
	cfg := conformance.Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-url", "http://x", "-username", "u", "-password", "p@ss"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if cfg.Password.Value() != "p@ss" {
		t.Errorf("password = %q", cfg.Password.Value())
	}
}

func TestValidateAndBadInput(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "no url", env: map[string]string{}},
		{name: "bad scheme", env: map[string]string{"REGKIT_CONFORMANCE_URL": "ftp://x"}},
		{name: "bad feature", env: map[string]string{"REGKIT_CONFORMANCE_URL": "http://x", "REGKIT_CONFORMANCE_DELETE": "maybe"}},
		{name: "password without user", env: map[string]string{"REGKIT_CONFORMANCE_URL": "http://x", "REGKIT_CONFORMANCE_PASSWORD": "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := conformance.Default()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			cfg.RegisterFlags(fs)
			if err := cfg.Load(fs, func(k string) string { return tt.env[k] }); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestLoadFileUnknownKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("url: http://x\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := conformance.Default().LoadFile(file); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("err = %v", err)
	}
}

func TestSummaryLine(t *testing.T) {
	s := conformance.Summary{Passed: 5, Failed: 2, Skipped: 1, Unsupported: 3}
	if got, want := s.Line(), "5 passed, 2 failed, 4 skipped"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}
