package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Archive is a Store over an OCI archive: an OCI image layout in a tar
// file (as skopeo's oci-archive: and buildah write them). Opening it
// unpacks an existing archive into a temporary layout; Close writes the
// archive back when something was pushed, and removes the temporary
// directory.
type Archive struct {
	*Layout
	path  string
	tmp   string
	dirty atomic.Bool
}

// OpenArchive opens the archive at path; a missing file is a new, empty
// archive (written by Close). The temporary layout goes to tmpDir ("" for
// the system's temporary directory).
func OpenArchive(path, tmpDir string) (*Archive, error) {
	tmp, err := os.MkdirTemp(tmpDir, "regkit-oci-archive-*")
	if err != nil {
		return nil, err
	}
	a := &Archive{path: path, tmp: tmp}
	if f, err := os.Open(path); err == nil {
		err = untar(f, tmp)
		_ = f.Close()
		if err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	a.Layout, err = OpenLayout(tmp)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return a, nil
}

// PushBlob implements Store.
func (a *Archive) PushBlob(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(int64)) error {
	a.dirty.Store(true)
	return a.Layout.PushBlob(ctx, desc, src, progress)
}

// PushManifest implements Store.
func (a *Archive) PushManifest(ctx context.Context, desc v1.Descriptor, body []byte, tag string, top bool) error {
	a.dirty.Store(true)
	return a.Layout.PushManifest(ctx, desc, body, tag, top)
}

// Close implements Store: it writes the archive (through a temporary
// file and a rename) when something was pushed.
func (a *Archive) Close() error {
	defer os.RemoveAll(a.tmp)
	if !a.dirty.Load() {
		return nil
	}
	out, err := os.CreateTemp(filepath.Dir(a.path), ".tmp-archive-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	if err := writeTar(out, a.tmp); err != nil {
		_ = out.Close()
		return fmt.Errorf("writing %s: %w", a.path, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), a.path)
}

// Abort releases the archive without writing it: after a failed copy,
// the file at its path stays as it was.
func (a *Archive) Abort() error { return os.RemoveAll(a.tmp) }

// writeTar writes the files under dir into a tar stream, oci-layout and
// index.json first.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	add := func(rel string) error {
		path := filepath.Join(dir, rel)
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if fi.IsDir() {
			hdr.Name += "/"
			return tw.WriteHeader(hdr)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	for _, rel := range []string{v1.ImageLayoutFile, v1.ImageIndexFile} {
		if err := add(rel); err != nil {
			return err
		}
	}
	err := filepath.WalkDir(filepath.Join(dir, v1.ImageBlobsDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if base := d.Name(); len(base) > 0 && base[0] == '.' {
			return nil // partial or temporary files
		}
		return add(rel)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// untar unpacks the regular files and directories of a tar stream into
// dir, refusing names that would leave it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(hdr.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q is outside the archive", hdr.Name)
		}
		path := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
