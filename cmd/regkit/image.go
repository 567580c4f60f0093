package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/client/oci"
)

// imageFlags are the flags of the image-level verbs, besides clientFlags.
type imageFlags struct {
	clientFlags
	insecure bool
	progress string
}

func newImageFlagSet(verb, args string, stderr io.Writer, f *imageFlags) *flag.FlagSet {
	fs := newClientFlagSet(verb, args, stderr, &f.clientFlags)
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify registries' TLS certificates")
	fs.StringVar(&f.progress, "progress", "auto", "progress bars on stderr: auto (when stderr is a terminal), always or never")
	return fs
}

// location parses a reference argument. With --url, an argument without
// a host is a repository of that registry.
func (f *imageFlags) location(arg string) (oci.Location, error) {
	if f.url != "" && !strings.HasPrefix(arg, oci.KindLayout+":") && !strings.HasPrefix(arg, oci.KindArchive+":") {
		u, err := url.Parse(f.url)
		if err != nil || u.Host == "" {
			return oci.Location{}, usagef(f.fs, "--url %q is not a URL", f.url)
		}
		l, err := oci.ParseLocation(u.Host + "/" + arg)
		if err != nil {
			return l, usagef(f.fs, "%v", err)
		}
		l.Scheme = u.Scheme
		return l, nil
	}
	l, err := oci.ParseLocation(arg)
	if err != nil {
		return l, usagef(f.fs, "%v", err)
	}
	return l, nil
}

// ociClient returns the client for base: credentials from the flags, else
// from docker's config.json and credential helpers.
func (f *imageFlags) ociClient(base string) *oci.Client {
	opts := []oci.Option{oci.WithUserAgent("regkit/" + version), oci.WithKeychain(authn.DefaultKeychain)}
	if f.username != "" || f.password != "" {
		opts = append(opts, oci.WithBasicAuth(f.username, f.password))
	}
	if f.token != "" {
		opts = append(opts, oci.WithBearerToken(f.token))
	}
	if f.insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
		tr.MaxIdleConnsPerHost = 64
		opts = append(opts, oci.WithHTTPClient(&http.Client{Transport: tr}))
	}
	return oci.NewClient(base, opts...)
}

// open returns the store of l.
func (f *imageFlags) open(ctx context.Context, l oci.Location) (oci.Store, error) {
	return oci.Open(ctx, l, &oci.OpenOptions{Client: f.ociClient})
}

// resolve parses reference arg, opens its store and resolves the
// reference to a descriptor. The caller closes the store.
func (f *imageFlags) resolve(ctx context.Context, arg string) (oci.Location, oci.Store, v1.Descriptor, error) {
	l, err := f.location(arg)
	if err != nil {
		return l, nil, v1.Descriptor{}, err
	}
	s, err := f.open(ctx, l)
	if err != nil {
		return l, nil, v1.Descriptor{}, err
	}
	desc, err := s.Resolve(ctx, l.Ref())
	if err != nil {
		s.Close()
		return l, nil, v1.Descriptor{}, err
	}
	return l, s, desc, nil
}

// repository returns the registry repository of l, or a usage error.
func (f *imageFlags) repository(l oci.Location) (*oci.Repository, error) {
	if l.Kind != oci.KindRegistry {
		return nil, usagef(f.fs, "%s: this verb needs a registry reference", l)
	}
	return oci.NewRepository(f.ociClient(l.BaseURL()), l.Repo), nil
}

func runCp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("cp", "<source> <destination>", stderr, &f)
	referrers := fs.Bool("referrers", false, "also copy the referrers (signatures, SBOMs) of every copied manifest")
	fs.BoolVar(referrers, "r", false, "short for --referrers")
	jobs := fs.Int("jobs", 4, "blobs transferred at once")
	chunk := fs.String("chunk", "8MiB", "chunk size of uploads to registries (raised to the registry's OCI-Chunk-Min-Length)")
	parallel := fs.Int("parallel", 4, "ranges fetched at once for a large blob going into a layout or archive")
	part := fs.String("part-size", "16MiB", "size of those ranges")
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	chunkSize, err := parseSizeFlag(fs, "chunk", *chunk)
	if err != nil {
		return err
	}
	partSize, err := parseSizeFlag(fs, "part-size", *part)
	if err != nil {
		return err
	}
	srcLoc, err := f.location(pos[0])
	if err != nil {
		return err
	}
	dstLoc, err := f.location(pos[1])
	if err != nil {
		return err
	}
	tag := dstLoc.Tag
	if tag == "" && dstLoc.Digest == "" {
		tag = srcLoc.Tag
	}
	if tag == "" && srcLoc.Digest == "" && srcLoc.Kind == oci.KindRegistry {
		tag = "latest"
	}
	src, err := f.open(ctx, srcLoc)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := f.open(ctx, dstLoc)
	if err != nil {
		return err
	}
	switch d := dst.(type) {
	case *oci.Repository:
		d.ChunkSize = chunkSize
		if dir, err := os.UserCacheDir(); err == nil {
			d.StateDir = filepath.Join(dir, "regkit", "uploads")
		}
	case *oci.Layout:
		d.Parallel, d.PartSize = *parallel, partSize
	case *oci.Archive:
		d.Parallel, d.PartSize = *parallel, partSize
	}
	b := newBars(stderr, progressMode(f.progress))
	opts := &oci.CopyOptions{Referrers: *referrers, Jobs: *jobs}
	if b != nil {
		opts.Progress = b
	}
	res, err := oci.Copy(ctx, src, srcLoc.Ref(), dst, tag, opts)
	b.wait(err != nil)
	if err != nil {
		if a, ok := dst.(*oci.Archive); ok {
			_ = a.Abort() // leave the archive file as it was
		} else {
			_ = dst.Close()
		}
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	out := dstLoc
	out.Tag, out.Digest = tag, res.Digest
	plain := fmt.Sprintf("%s %s (%d manifests, %d referrers; %d blobs: %d copied, %d existing, %d mounted; %s copied)\n",
		res.Digest, out, res.Manifests, res.Referrers, res.Blobs, res.Copied, res.Existing, res.Mounted, pbytes(res.Bytes))
	return output(stdout, f.json, struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		oci.CopyResult
	}{srcLoc.String(), out.String(), res}, plain)
}

func runTagsVerb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("tags", "<repository reference>", stderr, &f)
	o := listFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	l, err := f.location(pos[0])
	if err != nil {
		return err
	}
	var tags []string
	if l.Kind == oci.KindRegistry {
		tags, err = f.ociClient(l.BaseURL()).TagList(ctx, l.Repo, o)
	} else {
		var s oci.Store
		if s, err = f.open(ctx, l); err != nil {
			return err
		}
		defer s.Close()
		switch s := s.(type) {
		case *oci.Layout:
			tags, err = s.Tags()
		case *oci.Archive:
			tags, err = s.Tags()
		}
	}
	if err != nil {
		return err
	}
	name := l.Repo
	if name == "" {
		name = l.Path
	}
	return output(stdout, f.json, map[string]any{"name": name, "tags": tags}, lines(tags))
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("ls", "<registry>[/<prefix>]", stderr, &f)
	o := listFlags(fs)
	pos, err := parseArgs(fs, args, -1)
	if err != nil {
		return err
	}
	var base, prefix string
	switch {
	case len(pos) == 0 && f.url != "":
		base = f.url
	case len(pos) == 1:
		arg := pos[0]
		if strings.HasPrefix(arg, oci.KindLayout+":") || strings.HasPrefix(arg, oci.KindArchive+":") {
			return runTagsVerb(ctx, args, stdout, stderr)
		}
		if f.url != "" {
			base, prefix = f.url, arg
			break
		}
		l, err := oci.ParseLocation(strings.TrimSuffix(arg, "/") + "/x")
		if err != nil {
			return usagef(fs, "%v", err)
		}
		base, prefix = l.BaseURL(), strings.TrimSuffix(strings.TrimPrefix(l.Repo, "library/"), "x")
		if l.Host == oci.DockerHub && !strings.Contains(arg, "docker.io") {
			return usagef(fs, "%q: give a registry host, e.g. localhost:5000", arg)
		}
	default:
		fs.Usage()
		return usagef(fs, "want a registry")
	}
	repos, err := f.ociClient(base).Catalog(ctx, o)
	if err != nil {
		return err
	}
	kept := []string{}
	for _, r := range repos {
		if prefix == "" || strings.HasPrefix(r, strings.TrimSuffix(prefix, "/")+"/") || r == strings.TrimSuffix(prefix, "/") {
			kept = append(kept, r)
		}
	}
	return output(stdout, f.json, map[string]any{"repositories": kept}, lines(kept))
}

// inspected is what inspect prints.
type inspected struct {
	Reference string          `json:"reference"`
	Digest    string          `json:"digest"`
	MediaType string          `json:"mediaType"`
	Size      int64           `json:"size"`
	Platforms []platformEntry `json:"platforms,omitempty"`
	Config    *v1.Descriptor  `json:"config,omitempty"`
	Layers    []v1.Descriptor `json:"layers,omitempty"`
	Referrers []v1.Descriptor `json:"referrers,omitempty"`
	Manifest  json.RawMessage `json:"manifest"`
}

type platformEntry struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("inspect", "<reference>", stderr, &f)
	raw := fs.Bool("raw", false, "print the manifest's bytes exactly as stored")
	refs := fs.Bool("referrers", false, "also list the manifest's referrers")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	l, s, desc, err := f.resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	defer s.Close()
	body, err := s.Manifest(ctx, desc)
	if err != nil {
		return err
	}
	if *raw && !f.json {
		_, err := stdout.Write(body)
		return err
	}
	in := inspected{Reference: l.String(), Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size, Manifest: body}
	var m struct {
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	in.Config, in.Layers = m.Config, m.Layers
	var b strings.Builder
	fmt.Fprintf(&b, "Reference:  %s\nDigest:     %s\nMediaType:  %s\nSize:       %d\n", in.Reference, in.Digest, in.MediaType, in.Size)
	for _, c := range m.Manifests {
		p := "unknown"
		if c.Platform != nil {
			p = c.Platform.OS + "/" + c.Platform.Architecture
			if c.Platform.Variant != "" {
				p += "/" + c.Platform.Variant
			}
		}
		in.Platforms = append(in.Platforms, platformEntry{p, c.Digest.String(), c.Size})
		fmt.Fprintf(&b, "Platform:   %-20s %s %d\n", p, c.Digest, c.Size)
	}
	if m.Config != nil {
		fmt.Fprintf(&b, "Config:     %s %s %d\n", m.Config.Digest, m.Config.MediaType, m.Config.Size)
	}
	var total int64
	for _, ly := range m.Layers {
		total += ly.Size
		fmt.Fprintf(&b, "Layer:      %s %s %d\n", ly.Digest, ly.MediaType, ly.Size)
	}
	if len(m.Layers) > 0 {
		fmt.Fprintf(&b, "Layers:     %d, %s\n", len(m.Layers), pbytes(total))
	}
	if *refs {
		if in.Referrers, err = s.Referrers(ctx, desc); err != nil {
			return err
		}
		for _, r := range in.Referrers {
			fmt.Fprintf(&b, "Referrer:   %s %s %d\n", r.Digest, r.ArtifactType, r.Size)
		}
	}
	return output(stdout, f.json, in, b.String())
}

func runRm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("rm", "<reference>", stderr, &f)
	manifest := fs.Bool("manifest", false, "given a tag, delete the manifest it points at (and so every tag of it), not only the tag")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	l, err := f.location(pos[0])
	if err != nil {
		return err
	}
	r, err := f.repository(l)
	if err != nil {
		return err
	}
	ref := l.Ref()
	if ref == "" {
		return usagef(fs, "%s: name a tag or a digest to delete", l)
	}
	if *manifest && l.Digest == "" {
		desc, err := r.Resolve(ctx, ref)
		if err != nil {
			return err
		}
		ref = desc.Digest.String()
	}
	if err := r.Client.ManifestDelete(ctx, r.Name, ref); err != nil {
		return err
	}
	return output(stdout, f.json, map[string]any{"repository": r.Name, "deleted": ref}, "deleted "+l.Host+"/"+r.Name+refSep(ref)+ref+"\n")
}

func refSep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}

func runReferrersVerb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The wire form: --url U <repository> <digest>.
	var f imageFlags
	fs := newImageFlagSet("referrers", "<reference>", stderr, &f)
	at := fs.String("artifact-type", "", "list only referrers of this artifact type")
	pos, err := parseArgs(fs, args, -1)
	if err != nil {
		return err
	}
	if len(pos) == 2 && f.url != "" {
		return runReferrers(ctx, args, stdout, stderr)
	}
	if len(pos) != 1 {
		fs.Usage()
		return usagef(fs, "want 1 argument, got %d", len(pos))
	}
	_, s, desc, err := f.resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	defer s.Close()
	var descs []v1.Descriptor
	if r, ok := s.(*oci.Repository); ok {
		descs, err = r.Client.Referrers(ctx, r.Name, desc.Digest, *at)
	} else {
		descs, err = s.Referrers(ctx, desc)
		kept := descs[:0]
		for _, d := range descs {
			if *at == "" || d.ArtifactType == *at {
				kept = append(kept, d)
			}
		}
		descs = kept
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, m := range descs {
		fmt.Fprintf(&b, "%s\t%s\t%d\n", m.Digest, m.ArtifactType, m.Size)
	}
	return output(stdout, f.json, map[string]any{"subject": desc.Digest, "manifests": descs}, b.String())
}
