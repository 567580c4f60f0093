package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layout is a Store over an OCI image layout directory (image-spec
// image-layout.md): oci-layout, index.json and blobs/<alg>/<hex>. Tags
// are the org.opencontainers.image.ref.name annotations of index.json.
type Layout struct {
	dir string
	// Parallel is how many ranges a large blob is downloaded in at once
	// when it is pushed into the layout (default 4; 1 for one stream).
	Parallel int
	// PartSize is the size of those ranges (default 16 MiB).
	PartSize int64

	mu sync.Mutex // index.json
}

// OpenLayout opens the layout in dir, creating it (and dir) when it does
// not exist.
func OpenLayout(dir string) (*Layout, error) {
	l := &Layout{dir: dir}
	if _, err := os.Stat(filepath.Join(dir, v1.ImageLayoutFile)); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Join(dir, v1.ImageBlobsDir), 0o755); err != nil {
			return nil, err
		}
		lay, _ := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
		if err := os.WriteFile(filepath.Join(dir, v1.ImageLayoutFile), lay, 0o644); err != nil {
			return nil, err
		}
		if err := l.writeIndex(v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return l, nil
}

// Dir returns the layout's directory.
func (l *Layout) Dir() string { return l.dir }

func (l *Layout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, v1.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// Index returns the layout's index.json.
func (l *Layout) Index() (v1.Index, error) {
	var idx v1.Index
	b, err := os.ReadFile(filepath.Join(l.dir, v1.ImageIndexFile))
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("%s: %w", filepath.Join(l.dir, v1.ImageIndexFile), err)
	}
	return idx, nil
}

func (l *Layout) writeIndex(idx v1.Index) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.dir, v1.ImageIndexFile), b)
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Tags lists the tags of the layout's index.json.
func (l *Layout) Tags() ([]string, error) {
	idx, err := l.Index()
	if err != nil {
		return nil, err
	}
	tags := []string{}
	for _, m := range idx.Manifests {
		if t := m.Annotations[v1.AnnotationRefName]; t != "" {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// Resolve implements Store.
func (l *Layout) Resolve(_ context.Context, ref string) (v1.Descriptor, error) {
	idx, err := l.Index()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if d, err := digest.Parse(ref); err == nil {
		for _, m := range idx.Manifests {
			if m.Digest == d {
				return m, nil
			}
		}
		b, err := os.ReadFile(l.blobPath(d))
		if err != nil {
			return v1.Descriptor{}, notFoundError{fmt.Errorf("manifest %s is not in %s", d, l.dir)}
		}
		return v1.Descriptor{MediaType: mediaTypeOf("", b), Digest: d, Size: int64(len(b))}, nil
	}
	if ref == "" && len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	if ref == "" {
		ref = "latest"
	}
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] == ref {
			return m, nil
		}
	}
	return v1.Descriptor{}, notFoundError{fmt.Errorf("no manifest tagged %q in %s", ref, l.dir)}
}

// Manifest implements Store.
func (l *Layout) Manifest(_ context.Context, desc v1.Descriptor) ([]byte, error) {
	b, err := os.ReadFile(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFoundError{fmt.Errorf("manifest %s is not in %s", desc.Digest, l.dir)}
	}
	if err != nil {
		return nil, err
	}
	return b, verifyBytes(desc, b)
}

// OpenBlob implements Store.
func (l *Layout) OpenBlob(_ context.Context, desc v1.Descriptor, offset, length int64) (io.ReadCloser, error) {
	f, err := os.Open(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFoundError{fmt.Errorf("blob %s is not in %s", desc.Digest, l.dir)}
	}
	if err != nil {
		return nil, err
	}
	if offset == 0 && length <= 0 {
		return &verifier{rc: f, h: desc.Digest.Algorithm().Hash(), d: desc.Digest, size: desc.Size}, nil
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, err
	}
	if length > 0 {
		return readCloser{io.LimitReader(f, length), f}, nil
	}
	return f, nil
}

// HasBlob implements Store.
func (l *Layout) HasBlob(_ context.Context, desc v1.Descriptor) (bool, error) {
	fi, err := os.Stat(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Size() == desc.Size, nil
}

// PushBlob implements Store. A large blob is fetched in Parallel ranges
// of PartSize into a partial file, each range retried from where it
// stopped; the file is then verified against the digest and renamed into
// place.
func (l *Layout) PushBlob(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(int64)) error {
	if err := desc.Digest.Validate(); err != nil {
		return err
	}
	path := l.blobPath(desc.Digest)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".partial-"+desc.Digest.Encoded()+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	parts, size := l.Parallel, l.PartSize
	if parts <= 0 {
		parts = 4
	}
	if size <= 0 {
		size = 16 << 20
	}
	if err := Download(ctx, src, desc, f, &DownloadOptions{Parallel: parts, PartSize: size, Progress: progress}); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// PushManifest implements Store.
func (l *Layout) PushManifest(_ context.Context, desc v1.Descriptor, body []byte, tag string, top bool) error {
	if err := verifyBytes(desc, body); err != nil {
		return err
	}
	path := l.blobPath(desc.Digest)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(path, body); err != nil {
		return err
	}
	if !top {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.Index()
	if err != nil {
		return err
	}
	entry := v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: desc.ArtifactType, Platform: desc.Platform}
	if tag != "" {
		entry.Annotations = map[string]string{v1.AnnotationRefName: tag}
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		name := m.Annotations[v1.AnnotationRefName]
		if tag != "" && name == tag {
			continue // the tag moves
		}
		if name == "" && m.Digest == desc.Digest {
			continue // listed once untagged
		}
		kept = append(kept, m)
	}
	idx.Manifests = append(kept, entry)
	return l.writeIndex(idx)
}

// Referrers implements Store: the manifests listed in index.json whose
// subject is desc.
func (l *Layout) Referrers(ctx context.Context, desc v1.Descriptor) ([]v1.Descriptor, error) {
	idx, err := l.Index()
	if err != nil {
		return nil, err
	}
	out := []v1.Descriptor{}
	seen := map[digest.Digest]bool{}
	for _, m := range idx.Manifests {
		if seen[m.Digest] || m.Digest == desc.Digest {
			continue
		}
		seen[m.Digest] = true
		b, err := l.Manifest(ctx, m)
		if err != nil {
			return nil, err
		}
		var mf struct {
			MediaType    string            `json:"mediaType"`
			ArtifactType string            `json:"artifactType"`
			Config       v1.Descriptor     `json:"config"`
			Subject      *v1.Descriptor    `json:"subject"`
			Annotations  map[string]string `json:"annotations"`
		}
		if json.Unmarshal(b, &mf) != nil || mf.Subject == nil || mf.Subject.Digest != desc.Digest {
			continue
		}
		at := mf.ArtifactType
		if at == "" {
			at = mf.Config.MediaType
		}
		out = append(out, v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, ArtifactType: at, Annotations: mf.Annotations})
	}
	return out, nil
}

// Close implements Store; it does nothing.
func (l *Layout) Close() error { return nil }

// mediaTypeOf returns mt, or when it is empty the mediaType field of the
// manifest body (an index when it has "manifests", else an image).
func mediaTypeOf(mt string, body []byte) string {
	if mt != "" && mt != "application/octet-stream" {
		return mt
	}
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&probe)
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return v1.MediaTypeImageIndex
	}
	return v1.MediaTypeImageManifest
}
