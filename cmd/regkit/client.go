package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/internal/bytesize"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// clientFlags are the flags every client verb has. Each also reads a
// REGKIT_* environment variable (REGKIT_URL, REGKIT_USERNAME, ...).
type clientFlags struct {
	url      string
	username string
	password string
	token    string
	json     bool
	fs       *flag.FlagSet
}

// usagef prints "regkit <verb>: <message>" to the flag set's output and
// returns errUsage, on which main exits 2 without printing more.
func usagef(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return errUsage
}

// newClientFlagSet returns the flag set of verb with the common flags.
func newClientFlagSet(verb, args string, stderr io.Writer, cf *clientFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("regkit "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf.fs = fs
	fs.StringVar(&cf.url, "url", "", "registry base URL, e.g. http://127.0.0.1:5000 (env REGKIT_URL)")
	fs.StringVar(&cf.username, "username", "", "user name (env REGKIT_USERNAME)")
	fs.StringVar(&cf.password, "password", "", "password (env REGKIT_PASSWORD)")
	fs.StringVar(&cf.token, "token", "", "bearer token sent as is, instead of a username and password (env REGKIT_TOKEN)")
	fs.BoolVar(&cf.json, "json", false, "print JSON instead of plain text")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: regkit %s [flags] %s\n\nflags:\n", verb, args)
		fs.PrintDefaults()
	}
	return fs
}

// envFlags are the flags that fall back on a REGKIT_* environment
// variable when not given.
var envFlags = map[string]bool{"url": true, "username": true, "password": true, "token": true}

// parseArgs parses flags that may come before, between or after the
// positional arguments, fills unset common flags (envFlags) from REGKIT_*
// variables, and
// checks the number of positional arguments (want; -1 for any).
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage // the flag package printed the error
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || !envFlags[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" {
			if serr := f.Value.Set(v); serr != nil {
				err = usagef(fs, "%s=%q: %v", envName(f.Name), v, serr)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if want >= 0 && len(pos) != want {
		fs.Usage()
		return nil, usagef(fs, "want %d arguments, got %d", want, len(pos))
	}
	return pos, nil
}

// client returns the client the flags describe.
func (cf *clientFlags) client() (*oci.Client, error) {
	if cf.url == "" {
		return nil, usagef(cf.fs, "no registry: set --url or REGKIT_URL")
	}
	var opts []oci.Option
	if cf.username != "" || cf.password != "" {
		opts = append(opts, oci.WithBasicAuth(cf.username, cf.password))
	}
	if cf.token != "" {
		opts = append(opts, oci.WithBearerToken(cf.token))
	}
	opts = append(opts, oci.WithUserAgent("regkit/"+readBuildInfo().short()))
	return oci.NewClient(cf.url, opts...), nil
}

// output writes v as indented JSON when asJSON, else the plain text.
func output(w io.Writer, asJSON bool, v any, plain string) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := io.WriteString(w, plain)
	return err
}

// setup parses the flags of a client verb and builds its client.
func setup(fs *flag.FlagSet, cf *clientFlags, args []string, want int) (*oci.Client, []string, error) {
	pos, err := parseArgs(fs, args, want)
	if err != nil {
		return nil, nil, err
	}
	c, err := cf.client()
	return c, pos, err
}

func runPing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("ping", "", stderr, &cf)
	c, _, err := setup(fs, &cf, args, 0)
	if err != nil {
		return err
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	return output(stdout, cf.json, map[string]any{"url": c.Base(), "ok": true}, "ok "+c.Base()+"\n")
}

// openInput opens a file argument; "-" is stdin.
func openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(name)
}

func runPushBlob(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("push-blob", "<repository> <file|->", stderr, &cf)
	chunk := fs.String("chunk", "8MiB", "chunk size of the chunked upload")
	mono := fs.Bool("monolithic", false, "upload in one request (POST ?digest=) instead of in chunks; needs a file, not stdin")
	c, pos, err := setup(fs, &cf, args, 2)
	if err != nil {
		return err
	}
	repo, file := pos[0], pos[1]
	chunkSize, err := parseSizeFlag(fs, "chunk", *chunk)
	if err != nil {
		return err
	}
	in, err := openInput(file)
	if err != nil {
		return err
	}
	defer in.Close()
	cr := &countingReader{r: in}
	var d digest.Digest
	if *mono {
		f, ok := in.(*os.File)
		if !ok {
			return usagef(fs, "--monolithic needs a file, not stdin")
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if d, err = digest.SHA256.FromReader(f); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := c.BlobPut(ctx, repo, d, f, st.Size()); err != nil {
			return err
		}
		cr.n = st.Size()
	} else if d, err = c.BlobPutChunked(ctx, repo, cr, chunkSize); err != nil {
		return err
	}
	return output(stdout, cf.json, map[string]any{"repository": repo, "digest": d, "size": cr.n}, d.String()+"\n")
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func runPullBlob(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("pull-blob", "<repository> <digest>", stderr, &cf)
	rng := fs.String("range", "", "bytes to fetch: START-END (inclusive) or START-")
	out := fs.String("o", "", "write to this file instead of stdout")
	c, pos, err := setup(fs, &cf, args, 2)
	if err != nil {
		return err
	}
	repo := pos[0]
	d, err := ocispec.ParseDigest(pos[1])
	if err != nil {
		return usagef(fs, "%v", err)
	}
	var rc io.ReadCloser
	if *rng == "" {
		rc, _, err = c.BlobGet(ctx, repo, d)
	} else {
		off, length, perr := parseRange(*rng)
		if perr != nil {
			return usagef(fs, "--range: %v", perr)
		}
		rc, _, err = c.BlobGetRange(ctx, repo, d, off, length)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := w.(*os.File).Close(); err != nil {
			return err
		}
		return output(stdout, cf.json, map[string]any{"digest": d, "file": *out, "size": n}, fmt.Sprintf("%s: %d bytes\n", *out, n))
	}
	return nil
}

// parseRange parses "START-END" (inclusive) or "START-" into an offset and
// a length (0: to the end).
func parseRange(s string) (int64, int64, error) {
	a, b, ok := strings.Cut(strings.TrimPrefix(s, "bytes="), "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if !ok || err != nil || start < 0 {
		return 0, 0, fmt.Errorf("%q is not START-END or START-", s)
	}
	if b == "" {
		return start, 0, nil
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < start {
		return 0, 0, fmt.Errorf("%q is not START-END with END >= START", s)
	}
	return start, end - start + 1, nil
}

func runManifest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const sub = "get|head|put|delete"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: regkit manifest %s [flags] <repository> <reference> [file|-]\n", sub)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	verb, args := args[0], args[1:]
	var cf clientFlags
	switch verb {
	case "get", "head":
		fs := newClientFlagSet("manifest "+verb, "<repository> <reference>", stderr, &cf)
		c, pos, err := setup(fs, &cf, args, 2)
		if err != nil {
			return err
		}
		if verb == "head" {
			mt, d, size, err := c.ManifestHead(ctx, pos[0], pos[1])
			if err != nil {
				return err
			}
			return output(stdout, cf.json, map[string]any{"mediaType": mt, "digest": d, "size": size},
				fmt.Sprintf("%s %s %d\n", d, mt, size))
		}
		body, mt, d, err := c.ManifestGet(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		if cf.json {
			return output(stdout, true, map[string]any{"mediaType": mt, "digest": d, "size": len(body), "manifest": json.RawMessage(body)}, "")
		}
		_, err = stdout.Write(body)
		return err
	case "put":
		fs := newClientFlagSet("manifest put", "<repository> <tag|digest> <file|->", stderr, &cf)
		mediaType := fs.String("media-type", "", "Content-Type of the manifest (default: its mediaType field, else the OCI image manifest)")
		var tags stringList
		fs.Var(&tags, "tag", "also tag the manifest (repeatable; the reference must be a digest)")
		c, pos, err := setup(fs, &cf, args, 3)
		if err != nil {
			return err
		}
		in, err := openInput(pos[2])
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(in, oci.MaxManifestSize+1))
		in.Close()
		if err != nil {
			return err
		}
		mt := *mediaType
		if mt == "" {
			var probe struct {
				MediaType string `json:"mediaType"`
			}
			_ = json.Unmarshal(body, &probe)
			mt = probe.MediaType
		}
		if mt == "" {
			mt = ocispec.MediaTypeImageManifest
		}
		d, err := c.ManifestPut(ctx, pos[0], pos[1], mt, body, tags...)
		if err != nil {
			return err
		}
		return output(stdout, cf.json, map[string]any{"digest": d, "mediaType": mt, "size": len(body)}, d.String()+"\n")
	case "delete":
		fs := newClientFlagSet("manifest delete", "<repository> <tag|digest>", stderr, &cf)
		c, pos, err := setup(fs, &cf, args, 2)
		if err != nil {
			return err
		}
		if err := c.ManifestDelete(ctx, pos[0], pos[1]); err != nil {
			return err
		}
		return output(stdout, cf.json, map[string]any{"deleted": pos[1]}, "deleted "+pos[1]+"\n")
	}
	fmt.Fprintf(stderr, "regkit manifest: unknown subcommand %q (want %s)\n", verb, sub)
	return errUsage
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// listFlags adds --n, --last and --max.
func listFlags(fs *flag.FlagSet) *oci.ListOptions {
	o := &oci.ListOptions{}
	fs.IntVar(&o.N, "n", 0, "page size to ask for (0: the registry's)")
	fs.StringVar(&o.Last, "last", "", "list only entries after this one")
	fs.IntVar(&o.Max, "max", 0, "stop after this many entries (0: all)")
	return o
}

func runTags(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("tags", "<repository>", stderr, &cf)
	o := listFlags(fs)
	c, pos, err := setup(fs, &cf, args, 1)
	if err != nil {
		return err
	}
	tags, err := c.TagList(ctx, pos[0], o)
	if err != nil {
		return err
	}
	return output(stdout, cf.json, map[string]any{"name": pos[0], "tags": tags}, lines(tags))
}

func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("catalog", "", stderr, &cf)
	o := listFlags(fs)
	c, _, err := setup(fs, &cf, args, 0)
	if err != nil {
		return err
	}
	repos, err := c.Catalog(ctx, o)
	if err != nil {
		return err
	}
	return output(stdout, cf.json, map[string]any{"repositories": repos}, lines(repos))
}

func runReferrers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newClientFlagSet("referrers", "<repository> <digest>", stderr, &cf)
	at := fs.String("artifact-type", "", "list only referrers of this artifact type")
	c, pos, err := setup(fs, &cf, args, 2)
	if err != nil {
		return err
	}
	d, err := ocispec.ParseDigest(pos[1])
	if err != nil {
		return usagef(fs, "%v", err)
	}
	descs, err := c.Referrers(ctx, pos[0], d, *at)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, m := range descs {
		fmt.Fprintf(&b, "%s\t%s\t%d\n", m.Digest, m.ArtifactType, m.Size)
	}
	return output(stdout, cf.json, map[string]any{"subject": d, "manifests": descs}, b.String())
}

// lines joins items one per line.
func lines(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return strings.Join(items, "\n") + "\n"
}

// parseSizeFlag parses a size flag such as "8MiB".
func parseSizeFlag(fs *flag.FlagSet, name, v string) (int64, error) {
	n, err := bytesize.Parse(v)
	if err != nil {
		return 0, usagef(fs, "--%s: %v", name, err)
	}
	return n, nil
}
