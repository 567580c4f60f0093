package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/regkit/regkit/client/generic"
)

// pkgClient returns the generic-package client of the flags: --url, and
// credentials from the flags or else docker's config.json for the host
// (what `regkit login` wrote).
func (f *imageFlags) pkgClient() (*generic.Client, error) {
	if f.url == "" {
		return nil, usagef(f.fs, "no server: set --url or REGKIT_URL")
	}
	opts := []generic.Option{generic.WithUserAgent("regkit/" + version)}
	switch {
	case f.token != "":
		opts = append(opts, generic.WithToken(f.token))
	case f.username != "" || f.password != "":
		opts = append(opts, generic.WithBasicAuth(f.username, f.password))
	default:
		if u, err := url.Parse(f.url); err == nil && u.Host != "" {
			if a, err := authn.DefaultKeychain.Resolve(hostResource(u.Host)); err == nil {
				if cfg, err := a.Authorization(); err == nil && cfg != nil && (cfg.Username != "" || cfg.Password != "") {
					opts = append(opts, generic.WithBasicAuth(cfg.Username, cfg.Password))
				}
			}
		}
	}
	return generic.NewClient(f.url, opts...), nil
}

type hostResource string

func (h hostResource) String() string      { return string(h) }
func (h hostResource) RegistryStr() string { return string(h) }

// splitPkg splits "owner/name[/version[/filename]]" into want parts
// (at least min).
func splitPkg(fs interface{ Output() io.Writer }, arg string, minParts, maxParts int, form string) ([]string, error) {
	parts := strings.SplitN(arg, "/", maxParts)
	if len(parts) < minParts || slicesContainsEmpty(parts) {
		fmt.Fprintf(fs.Output(), "%q: want %s\n", arg, form)
		return nil, errUsage
	}
	return parts, nil
}

func slicesContainsEmpty(s []string) bool {
	for _, p := range s {
		if p == "" {
			return true
		}
	}
	return false
}

func runPkg(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const sub = "upload|download|ls|versions|latest|rm|link|unlink"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: regkit pkg %s [flags] ...\n", sub)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	verb, args := args[0], args[1:]
	var f imageFlags
	switch verb {
	case "upload":
		fs := newImageFlagSet("pkg upload", "<owner>/<name>/<version> <file> [<filename>]", stderr, &f)
		chunk := fs.String("chunk", "8MiB", "chunk size of resumable uploads")
		resumableFrom := fs.String("resumable-from", "16MiB", "files from this size go through a resumable upload session where the server has them")
		ct := fs.String("content-type", "", "the file's Content-Type")
		pos, err := parseArgs(fs, args, -1)
		if err != nil {
			return err
		}
		if len(pos) < 2 || len(pos) > 3 {
			fs.Usage()
			return usagef(fs, "want 2 or 3 arguments")
		}
		parts, err := splitPkg(fs, pos[0], 3, 3, "<owner>/<name>/<version>")
		if err != nil {
			return err
		}
		chunkSize, err := parseSizeFlag(fs, "chunk", *chunk)
		if err != nil {
			return err
		}
		from, err := parseSizeFlag(fs, "resumable-from", *resumableFrom)
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		file, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer file.Close()
		st, err := file.Stat()
		if err != nil {
			return err
		}
		name := filepath.Base(pos[1])
		if len(pos) == 3 {
			name = pos[2]
		}
		ref := generic.FileRef{Owner: parts[0], Name: parts[1], Version: parts[2], Filename: name}
		b := newBars(stderr, progressMode(f.progress))
		o := &generic.UploadOptions{ContentType: *ct, ChunkSize: chunkSize, ResumableFrom: from, Progress: b.single(name, st.Size())}
		err = c.Upload(ctx, ref, file, st.Size(), o)
		b.wait(err != nil)
		if err != nil {
			return err
		}
		return output(stdout, f.json, map[string]any{"owner": ref.Owner, "name": ref.Name, "version": ref.Version, "filename": ref.Filename, "size": st.Size()},
			fmt.Sprintf("uploaded %s/%s/%s/%s (%s)\n", ref.Owner, ref.Name, ref.Version, ref.Filename, pbytes(st.Size())))
	case "download":
		fs := newImageFlagSet("pkg download", "<owner>/<name>/<version>/<filename>", stderr, &f)
		out := fs.String("o", "", "write to this file (default: the filename, in the current directory)")
		parallel := fs.Int("parallel", 4, "ranges fetched at once (1: one stream)")
		part := fs.String("part-size", "16MiB", "size of one range")
		pos, err := parseArgs(fs, args, 1)
		if err != nil {
			return err
		}
		parts, err := splitPkg(fs, pos[0], 4, 4, "<owner>/<name>/<version>/<filename>")
		if err != nil {
			return err
		}
		partSize, err := parseSizeFlag(fs, "part-size", *part)
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		ref := generic.FileRef{Owner: parts[0], Name: parts[1], Version: parts[2], Filename: parts[3]}
		path := *out
		if path == "" {
			path = filepath.Base(ref.Filename)
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		b := newBars(stderr, progressMode(f.progress))
		var progress func(int64)
		if b != nil {
			st, err := c.Stat(ctx, ref)
			if err != nil {
				b.wait(true)
				return err
			}
			progress = b.single(ref.Filename, st.Size)
		}
		in, err := c.Download(ctx, ref, tmp, &generic.DownloadOptions{Parallel: *parallel, PartSize: partSize, Progress: progress})
		b.wait(err != nil)
		if err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
		return output(stdout, f.json, map[string]any{"file": path, "size": in.Size, "sha256": in.SHA256},
			fmt.Sprintf("%s %s (%s)\n", in.SHA256, path, pbytes(in.Size)))
	case "ls":
		fs := newImageFlagSet("pkg ls", "<owner>", stderr, &f)
		typ := fs.String("type", "", "only packages of this type (generic, container, ...)")
		q := fs.String("q", "", "only names containing this")
		pos, err := parseArgs(fs, args, 1)
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		ps, err := c.List(ctx, pos[0], &generic.ListOptions{Type: *typ, Q: *q})
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, p := range ps {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", p.Type, p.Name, p.Version, p.CreatedAt)
		}
		return output(stdout, f.json, ps, b.String())
	case "versions", "latest":
		fs := newImageFlagSet("pkg "+verb, "<owner>/<name>", stderr, &f)
		typ := fs.String("type", "generic", "package type")
		pos, err := parseArgs(fs, args, 1)
		if err != nil {
			return err
		}
		parts, err := splitPkg(fs, pos[0], 2, 2, "<owner>/<name>")
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		if verb == "latest" {
			p, err := c.Latest(ctx, parts[0], *typ, parts[1])
			if err != nil {
				return err
			}
			return output(stdout, f.json, p, p.Version+"\n")
		}
		ps, err := c.Versions(ctx, parts[0], *typ, parts[1], nil)
		if err != nil {
			return err
		}
		vs := make([]string, 0, len(ps))
		for _, p := range ps {
			vs = append(vs, p.Version)
		}
		return output(stdout, f.json, ps, lines(vs))
	case "rm":
		fs := newImageFlagSet("pkg rm", "<owner>/<name>/<version>[/<filename>]", stderr, &f)
		typ := fs.String("type", "generic", "package type (for a whole version)")
		pos, err := parseArgs(fs, args, 1)
		if err != nil {
			return err
		}
		parts, err := splitPkg(fs, pos[0], 3, 4, "<owner>/<name>/<version>[/<filename>]")
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		if len(parts) == 4 {
			err = c.DeleteFile(ctx, generic.FileRef{Owner: parts[0], Name: parts[1], Version: parts[2], Filename: parts[3]})
		} else {
			err = c.Delete(ctx, parts[0], *typ, parts[1], parts[2])
		}
		if err != nil {
			return err
		}
		return output(stdout, f.json, map[string]any{"deleted": pos[0]}, "deleted "+pos[0]+"\n")
	case "link", "unlink":
		form := "<owner>/<name> <repository>"
		want := 2
		if verb == "unlink" {
			form, want = "<owner>/<name>", 1
		}
		fs := newImageFlagSet("pkg "+verb, form, stderr, &f)
		typ := fs.String("type", "generic", "package type")
		pos, err := parseArgs(fs, args, want)
		if err != nil {
			return err
		}
		parts, err := splitPkg(fs, pos[0], 2, 2, "<owner>/<name>")
		if err != nil {
			return err
		}
		c, err := f.pkgClient()
		if err != nil {
			return err
		}
		if verb == "link" {
			err = c.Link(ctx, parts[0], *typ, parts[1], pos[1])
		} else {
			err = c.Unlink(ctx, parts[0], *typ, parts[1])
		}
		if err != nil {
			return err
		}
		return output(stdout, f.json, map[string]any{verb + "ed": pos[0]}, verb+"ed "+strings.Join(pos, " ")+"\n")
	}
	fmt.Fprintf(stderr, "regkit pkg: unknown subcommand %q (want %s)\n", verb, sub)
	return errUsage
}
