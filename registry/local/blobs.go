package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
)

// record is the metadata record of a Blob StatBlob returned.
func record(b registry.Blob) metadata.Blob {
	return metadata.Blob{Digest: b.Digest, Size: b.Size, Key: b.Locator}
}

func blobDescriptor(b metadata.Blob) registry.Descriptor {
	return registry.Descriptor{MediaType: "application/octet-stream", Digest: b.Digest, Size: b.Size}
}

// StatBlob returns blob d of repo from its metadata record: one round
// trip, no bucket access.
func (g *Registry) StatBlob(ctx context.Context, repo string, d digest.Digest) (registry.Blob, error) {
	b, err := g.meta.RepoBlob(ctx, repo, d)
	if err != nil {
		return registry.Blob{}, notFoundAs(err, blobUnknown(d))
	}
	return registry.Blob{Descriptor: blobDescriptor(b), Locator: b.Key}, nil
}

// ReadBlob returns length bytes of b from offset: one ranged read of the
// bucket.
func (g *Registry) ReadBlob(ctx context.Context, repo string, b registry.Blob, offset, length int64) (io.ReadCloser, error) {
	rc, err := g.store.ReadBlob(ctx, record(b), offset, length)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", b.Digest, err)
	}
	return rc, nil
}

// BlobURL returns a URL of the bucket, signed for ttl, that serves b.
func (g *Registry) BlobURL(ctx context.Context, b registry.Blob, ttl time.Duration) (string, error) {
	u, err := g.store.SignedURL(ctx, record(b), ttl)
	if errors.Is(err, storage.ErrNoSignedURL) {
		return "", registry.ErrNoRedirect
	}
	return u, err
}

// PutBlob stores r as blob d of repo in one request (a monolithic
// upload), within the namespace's quota.
func (g *Registry) PutBlob(ctx context.Context, repo string, d digest.Digest, r io.Reader, size int64) (registry.Descriptor, error) {
	if !g.linked(ctx, repo, d) {
		holder := quota.OneShot()
		defer g.release(ctx, repo, holder)
		var err error
		if r, err = g.quotaBody(ctx, repo, holder, r, 0, size); err != nil {
			return registry.Descriptor{}, err
		}
	}
	b, err := g.store.PutBlob(ctx, d, r, size)
	if err != nil {
		return registry.Descriptor{}, uploadError(err, d)
	}
	return g.link(ctx, repo, b)
}

// MountBlob links blob d into repo from repository from, or from anywhere
// when from is "" and automatic mounts are on.
func (g *Registry) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (registry.Descriptor, bool, error) {
	var (
		b   metadata.Blob
		err error
	)
	switch {
	case from != "":
		b, err = g.meta.RepoBlob(ctx, from, d)
	case g.opts.AutoMount:
		b, err = g.meta.GetBlob(ctx, d)
	default:
		return registry.Descriptor{}, false, nil
	}
	if errors.Is(err, metadata.ErrNotFound) {
		return registry.Descriptor{}, false, nil
	}
	if err != nil {
		return registry.Descriptor{}, false, fmt.Errorf("mount lookup: %w", err)
	}
	// Refresh its last use so garbage collection keeps it; a blob being
	// collected is not mountable.
	if _, err := g.meta.TouchBlob(ctx, d); errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrNotFound) {
		return registry.Descriptor{}, false, nil
	} else if err != nil {
		return registry.Descriptor{}, false, fmt.Errorf("mount: %w", err)
	}
	if !g.linked(ctx, repo, b.Digest) {
		holder := quota.OneShot()
		defer g.release(ctx, repo, holder)
		if _, err := g.quotaBody(ctx, repo, holder, nil, 0, b.Size); err != nil {
			return registry.Descriptor{}, true, err
		}
	}
	desc, err := g.link(ctx, repo, b)
	return desc, true, err
}

// link links b into repo. A blob that garbage collection deleted, or is
// deleting, right after it was stored is refused: the client should push
// it again.
func (g *Registry) link(ctx context.Context, repo string, b metadata.Blob) (registry.Descriptor, error) {
	if err := g.meta.LinkBlob(ctx, repo, b); errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrNotFound) {
		return registry.Descriptor{}, collecting(b.Digest)
	} else if err != nil {
		return registry.Descriptor{}, fmt.Errorf("link blob: %w", err)
	}
	return blobDescriptor(b), nil
}

// DeleteBlob unlinks d from repo; its bytes go later, by garbage
// collection.
func (g *Registry) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := g.meta.UnlinkBlob(ctx, repo, d); err != nil {
		return notFoundAs(err, blobUnknown(d))
	}
	return nil
}
