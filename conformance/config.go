package conformance

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix prefixes every environment variable a Config reads.
const EnvPrefix = "REGKIT_CONFORMANCE_"

// Feature is the setting of an optional registry feature: detect it, or
// force it on or off.
type Feature string

// Feature settings.
const (
	// FeatureAuto detects whether the registry offers the feature; specs of
	// an undetected feature are reported as unsupported.
	FeatureAuto Feature = "auto"
	// FeatureOn asserts that the registry offers the feature: its specs run
	// and fail when it is missing.
	FeatureOn Feature = "on"
	// FeatureOff declares the feature absent: its specs are reported as
	// unsupported without being tried.
	FeatureOff Feature = "off"
)

// String returns the setting; the zero Feature is "auto".
func (f Feature) String() string {
	if f == "" {
		return string(FeatureAuto)
	}
	return string(f)
}

// Set parses "auto", "on" or "off" (and true/false/yes/no/1/0).
func (f *Feature) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto", "detect":
		*f = FeatureAuto
	case "on", "true", "yes", "1", "enabled":
		*f = FeatureOn
	case "off", "false", "no", "0", "disabled":
		*f = FeatureOff
	default:
		return fmt.Errorf("feature setting %q: want auto, on or off", s)
	}
	return nil
}

// Secret is a string that never prints: String, GoString, and the JSON and
// YAML encodings all redact it. Value returns the secret itself.
type Secret string

// Redacted is what a non-empty Secret prints as.
const Redacted = "REDACTED"

// Value returns the secret.
func (s Secret) Value() string { return string(s) }

// String returns Redacted, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText redacts the secret in JSON, YAML and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Set stores the secret (for flags).
func (s *Secret) Set(v string) error { *s = Secret(v); return nil }

// Config is everything a conformance run needs. Load it with RegisterFlags
// and Load (flags override the environment, which overrides the YAML file,
// which overrides the defaults), or fill it in code. Secrets (Password,
// Token) never appear in String or in reports.
type Config struct {
	// URL is the registry's base URL, e.g. https://registry.example.
	URL string
	// Namespace is the repository prefix the run may write under; each run
	// creates a unique repository <Namespace>/conformance-<random> in it.
	Namespace string
	// DeniedNamespace is a repository prefix the credentials may not push
	// to (another owner's namespace). When set, the auth specs check that a
	// push there is refused with 403 DENIED, not 401; empty reports those
	// specs as unsupported.
	DeniedNamespace string
	// Username and Password are credentials for Basic auth or for the token
	// endpoint of a Bearer challenge.
	Username string
	// Password goes with Username.
	Password Secret
	// Token is a bearer token sent as is, for registries that hand them out
	// by other means.
	Token Secret
	// ReportDir receives junit.xml, results.json and report.html; empty
	// writes no reports.
	ReportDir string
	// Referrers is the referrers API (end-12a/b).
	Referrers Feature
	// Delete is manifest, tag and blob deletion (end-9, end-10).
	Delete Feature
	// AutoMount is mounting a blob with ?mount= and no from= (automatic
	// content discovery).
	AutoMount Feature
	// SHA512 is sha512 digests for blobs and manifests.
	SHA512 Feature
	// Catalog is GET /v2/_catalog.
	Catalog Feature
	// MissingBlobCheck is refusing an image manifest whose blobs are
	// missing (400 MANIFEST_BLOB_UNKNOWN). Registries configured to accept
	// sparse manifests (regkit serve --sparse-manifests) do not: its specs
	// are then unsupported.
	MissingBlobCheck Feature
	// Timeout bounds each HTTP request.
	Timeout time.Duration
	// InsecureTLS skips TLS certificate verification.
	InsecureTLS bool
	// Seed makes the generated test data; 0 picks a random seed per run
	// (printed in the reports, so a run can be repeated).
	Seed uint64
	// Labels is a Ginkgo label filter selecting specs, e.g. "push && !chunked".
	Labels string
	// MaxBody bounds the bytes of each request and response body kept for
	// the report.
	MaxBody int
	// File is the YAML file Load read, if any.
	File string
}

// Default returns the defaults: every feature auto-detected, a 30s request
// timeout, namespace "conformance" and 4 KiB of recorded body.
func Default() *Config {
	return &Config{
		Namespace: "conformance",
		Referrers: FeatureAuto,
		Delete:    FeatureAuto,
		AutoMount: FeatureAuto,
		SHA512:    FeatureAuto,
		Catalog:   FeatureAuto,

		MissingBlobCheck: FeatureAuto,
		Timeout:          30 * time.Second,
		MaxBody:          4096,
	}
}

// field is one setting: its flag/YAML name, environment suffix, usage, and
// a flag.Value bound to the Config's field.
type field struct {
	name  string
	usage string
	value flag.Value
}

// env returns the field's environment variable.
func (f field) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
}

// fields is the one table behind flags, environment and YAML.
func (c *Config) fields() []field {
	return []field{
		{"url", "registry base URL, e.g. https://registry.example", (*stringValue)(&c.URL)},
		{"namespace", "repository prefix the run may write under", (*stringValue)(&c.Namespace)},
		{"denied-namespace", "repository prefix the credentials may NOT push to (checks 403 vs 401)", (*stringValue)(&c.DeniedNamespace)},
		{"username", "user name for Basic auth or the token endpoint", (*stringValue)(&c.Username)},
		{"password", "password (never printed)", &c.Password},
		{"token", "bearer token sent as is (never printed)", &c.Token},
		{"report", "directory for junit.xml, results.json and report.html", (*stringValue)(&c.ReportDir)},
		{"referrers", "referrers API: auto, on or off", &c.Referrers},
		{"delete", "manifest, tag and blob deletion: auto, on or off", &c.Delete},
		{"auto-mount", "mount without from= (automatic content discovery): auto, on or off", &c.AutoMount},
		{"sha512", "sha512 digests: auto, on or off", &c.SHA512},
		{"catalog", "GET /v2/_catalog: auto, on or off", &c.Catalog},
		{"missing-blob-check", "refusal of image manifests whose blobs are missing (off where sparse manifests are accepted): auto, on or off", &c.MissingBlobCheck},
		{"timeout", "timeout of each HTTP request", (*durationValue)(&c.Timeout)},
		{"insecure-tls", "skip TLS certificate verification", (*boolValue)(&c.InsecureTLS)},
		{"seed", "seed of the generated test data (0: random)", (*uint64Value)(&c.Seed)},
		{"labels", "Ginkgo label filter selecting specs", (*stringValue)(&c.Labels)},
		{"max-body", "bytes of each body kept in the report", (*intValue)(&c.MaxBody)},
	}
}

// RegisterFlags defines a flag for every setting on fs, bound to c, plus
// -config for a YAML file. Call Load after parsing to apply the file and
// the environment beneath the flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, f := range c.fields() {
		fs.Var(f.value, f.name, f.usage+" (env "+f.env()+")")
	}
	fs.Var((*stringValue)(&c.File), "config", "YAML config file (env "+EnvPrefix+"CONFIG)")
}

// Load completes a Config whose flags were registered on fs and parsed: it
// starts from Default, applies the YAML file (-config or
// REGKIT_CONFORMANCE_CONFIG), then the environment read through getenv
// (os.Getenv when nil), then every flag set on the command line, and
// validates the result.
func (c *Config) Load(fs *flag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	// Secrets print redacted, so take their values from the fields.
	for _, f := range c.fields() {
		if s, ok := f.value.(*Secret); ok {
			if _, isSet := set[f.name]; isSet {
				set[f.name] = s.Value()
			}
		}
	}
	file := c.File
	if file == "" {
		file = getenv(EnvPrefix + "CONFIG")
	}
	*c = *Default()
	if file != "" {
		if err := c.LoadFile(file); err != nil {
			return err
		}
	}
	if err := c.LoadEnv(getenv); err != nil {
		return err
	}
	for name, v := range set {
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("flag -%s: %w", name, err)
		}
	}
	return c.Validate()
}

// LoadEnv applies every REGKIT_CONFORMANCE_* variable that getenv returns
// non-empty (URL, NAMESPACE, DENIED_NAMESPACE, USERNAME, PASSWORD, TOKEN, REPORT, REFERRERS,
// DELETE, AUTO_MOUNT, SHA512, CATALOG, MISSING_BLOB_CHECK, TIMEOUT, INSECURE_TLS, SEED, LABELS,
// MAX_BODY).
func (c *Config) LoadEnv(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	for _, f := range c.fields() {
		if v := getenv(f.env()); v != "" {
			if err := f.value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.env(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// LoadFile applies a YAML file whose keys are the flag names (url,
// namespace, denied-namespace, username, password, token, report, referrers, delete,
// auto-mount, sha512, catalog, missing-blob-check, timeout, insecure-tls, seed, labels,
// max-body). Unknown keys are an error.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conformance config: %w", err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("conformance config %s: %w", path, err)
	}
	byName := map[string]flag.Value{}
	for _, f := range c.fields() {
		byName[f.name] = f.value
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		v, ok := byName[strings.ReplaceAll(k, "_", "-")]
		if !ok {
			errs = append(errs, fmt.Errorf("conformance config %s: unknown key %q", path, k))
			continue
		}
		n := raw[k]
		if n.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("conformance config %s: %s: want a scalar", path, k))
			continue
		}
		if err := v.Set(n.Value); err != nil {
			errs = append(errs, fmt.Errorf("conformance config %s: %s: %w", path, k, err))
		}
	}
	c.File = path
	return errors.Join(errs...)
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("conformance config: url is required (flag -url or "+EnvPrefix+"URL)"))
	} else if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("conformance config: url %q must start with http:// or https://", c.URL))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("conformance config: password without username"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("conformance config: negative timeout"))
	}
	return errors.Join(errs...)
}

// String lists every setting with secrets redacted.
func (c *Config) String() string {
	var b strings.Builder
	for i, f := range c.fields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", f.name, f.value.String())
	}
	return b.String()
}

// Settings returns the settings as name → value with secrets redacted, for
// reports.
func (c *Config) Settings() map[string]string {
	m := map[string]string{}
	for _, f := range c.fields() {
		m[f.name] = f.value.String()
	}
	return m
}

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	*v = boolValue(b)
	return err
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

type uint64Value uint64

func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 64)
	*v = uint64Value(n)
	return err
}
func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v = intValue(n)
	return err
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
