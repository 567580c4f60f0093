package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// CopyOptions are the knobs of Copy. A nil *CopyOptions copies the image
// or index with every platform, without referrers, 4 blobs at a time.
type CopyOptions struct {
	// Referrers also copies the manifests that refer to each copied
	// manifest (signatures, SBOMs, attestations), and theirs, recursively.
	Referrers bool
	// Jobs is how many blobs are transferred at once (default 4).
	Jobs int
	// Progress, when not nil, is told about every blob.
	Progress Progress
}

// Progress receives the progress of a copy. Its methods are called from
// several goroutines at once.
type Progress interface {
	// Blob is called when the transfer of blob desc starts.
	Blob(desc v1.Descriptor) BlobProgress
}

// BlobProgress follows one blob.
type BlobProgress interface {
	// Update reports the bytes transferred so far (it may go down after
	// a failure).
	Update(done int64)
	// Done ends the blob: how is "copied", "exists" (the target had it)
	// or "mounted"; err is the failure, if any.
	Done(how string, err error)
}

// CopyResult says what Copy did.
type CopyResult struct {
	// Digest, MediaType and Size describe the copied top manifest.
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// Manifests is the number of manifests pushed (children and
	// referrers included), Referrers those of them that are referrers.
	Manifests int `json:"manifests"`
	Referrers int `json:"referrers"`
	// Blobs counts the distinct blobs; Copied, Existing and Mounted
	// how each was handled; Bytes is the size of the copied ones.
	Blobs    int   `json:"blobs"`
	Copied   int   `json:"copied"`
	Existing int   `json:"existing"`
	Mounted  int   `json:"mounted"`
	Bytes    int64 `json:"bytes"`
}

// Copy copies manifest srcRef of src (a tag, a digest, or "" for the
// default) to dst, tagged dstTag ("" to push it by digest only), with
// everything it references: an index with all its platforms, each image's
// config and layers, and with opts.Referrers the referrers. Blobs the
// target has are skipped (checked with HEAD), blobs of another repository
// of the same registry are mounted, the others transferred opts.Jobs at a
// time. Manifests are pushed after what they reference, so the target
// never holds a manifest with missing blobs. Digests are preserved: every
// manifest is copied byte for byte.
func Copy(ctx context.Context, src Store, srcRef string, dst Store, dstTag string, opts *CopyOptions) (CopyResult, error) {
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	root, err := src.Resolve(ctx, srcRef)
	if err != nil {
		return CopyResult{}, err
	}
	c := &copier{src: src, dst: dst, o: o, sem: make(chan struct{}, o.Jobs),
		blobs: map[digest.Digest]*once{}, nodes: map[digest.Digest]*once{}}
	if err := c.node(ctx, root, dstTag, true, false); err != nil {
		return CopyResult{}, err
	}
	res := CopyResult{Digest: root.Digest, MediaType: root.MediaType, Size: root.Size,
		Manifests: int(c.manifests.Load()), Referrers: int(c.referrers.Load()),
		Blobs: len(c.blobs), Copied: int(c.copied.Load()), Existing: int(c.existing.Load()),
		Mounted: int(c.mounted.Load()), Bytes: c.bytes.Load()}
	return res, nil
}

// once runs a job once and lets every caller wait for its result.
type once struct {
	done chan struct{}
	err  error
}

type copier struct {
	src, dst Store
	o        CopyOptions
	sem      chan struct{}

	mu    sync.Mutex
	blobs map[digest.Digest]*once
	nodes map[digest.Digest]*once

	manifests, referrers, copied, existing, mounted, bytes atomic.Int64
}

// do runs f once per key of m.
func (c *copier) do(m map[digest.Digest]*once, key digest.Digest, f func() error) error {
	c.mu.Lock()
	if o, ok := m[key]; ok {
		c.mu.Unlock()
		<-o.done
		return o.err
	}
	o := &once{done: make(chan struct{})}
	m[key] = o
	c.mu.Unlock()
	o.err = f()
	close(o.done)
	return o.err
}

// manifestRefs is what Copy reads of a manifest or index.
type manifestRefs struct {
	MediaType string          `json:"mediaType"`
	Config    *v1.Descriptor  `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
	Manifests []v1.Descriptor `json:"manifests"`
	Blobs     []v1.Descriptor `json:"blobs"` // artifact manifests
}

// node copies manifest desc and what it references, then its referrers.
func (c *copier) node(ctx context.Context, desc v1.Descriptor, tag string, top, referrer bool) error {
	key := desc.Digest
	if tag != "" {
		// A tagged push is its own job even when the digest was copied.
		key = digest.Digest(string(desc.Digest) + "#" + tag)
	}
	return c.do(c.nodes, key, func() error {
		body, err := c.src.Manifest(ctx, desc)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		desc.MediaType = mediaTypeOf(desc.MediaType, body)
		var refs manifestRefs
		if err := json.Unmarshal(body, &refs); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, m := range refs.Manifests {
			if isManifest(m.MediaType) || m.MediaType == "" {
				g.Go(func() error { return c.node(gctx, m, "", false, false) })
			} else {
				g.Go(func() error { return c.blob(gctx, m) })
			}
		}
		if refs.Config != nil && refs.Config.Digest != "" {
			g.Go(func() error { return c.blob(gctx, *refs.Config) })
		}
		for _, l := range append(refs.Layers, refs.Blobs...) {
			g.Go(func() error { return c.blob(gctx, l) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := c.dst.PushManifest(ctx, desc, body, tag, top); err != nil {
			return fmt.Errorf("pushing manifest %s: %w", desc.Digest, err)
		}
		c.manifests.Add(1)
		if referrer {
			c.referrers.Add(1)
		}
		if !c.o.Referrers {
			return nil
		}
		return c.referrersOf(ctx, desc)
	})
}

// referrersOf copies the referrers of desc.
func (c *copier) referrersOf(ctx context.Context, desc v1.Descriptor) error {
	refs, err := c.src.Referrers(ctx, desc)
	if err != nil {
		return fmt.Errorf("referrers of %s: %w", desc.Digest, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range refs {
		g.Go(func() error {
			return c.node(gctx, v1.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size, ArtifactType: r.ArtifactType}, "", true, true)
		})
	}
	return g.Wait()
}

// nonDistributable reports whether desc is a layer that must not be
// pushed elsewhere (its blob need not exist in the source).
func nonDistributable(desc v1.Descriptor) bool {
	return strings.Contains(desc.MediaType, "nondistributable") || strings.Contains(desc.MediaType, ".foreign.")
}

// blob copies blob desc unless the target has it.
func (c *copier) blob(ctx context.Context, desc v1.Descriptor) error {
	if nonDistributable(desc) {
		return nil
	}
	return c.do(c.blobs, desc.Digest, func() error {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-c.sem }()
		var bp BlobProgress = nopProgress{}
		if c.o.Progress != nil {
			bp = c.o.Progress.Blob(desc)
		}
		how, err := c.transfer(ctx, desc, bp)
		if err != nil {
			err = fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		bp.Done(how, err)
		return err
	})
}

func (c *copier) transfer(ctx context.Context, desc v1.Descriptor, bp BlobProgress) (string, error) {
	has, err := c.dst.HasBlob(ctx, desc)
	if err != nil {
		return "", err
	}
	if has {
		c.existing.Add(1)
		bp.Update(desc.Size)
		return "exists", nil
	}
	if sr, ok := c.src.(*Repository); ok {
		if dr, ok := c.dst.(*Repository); ok && sr.Client.Base() == dr.Client.Base() && sr.Name != dr.Name {
			mounted, err := dr.Mount(ctx, desc, sr.Name)
			if err != nil {
				return "", err
			}
			if mounted {
				c.mounted.Add(1)
				bp.Update(desc.Size)
				return "mounted", nil
			}
		}
	}
	if err := c.dst.PushBlob(ctx, desc, SourceOf(c.src, desc), bp.Update); err != nil {
		return "", err
	}
	c.copied.Add(1)
	c.bytes.Add(desc.Size)
	return "copied", nil
}

type nopProgress struct{}

func (nopProgress) Update(int64)       {}
func (nopProgress) Done(string, error) {}
