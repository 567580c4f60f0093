package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// Repository is a Store over one repository of a registry.
type Repository struct {
	// Client talks to the registry.
	Client *Client
	// Name is the repository's name, e.g. "team/app".
	Name string
	// ChunkSize is the size of the chunks of an upload
	// (DefaultChunkSize when 0), raised to the registry's
	// OCI-Chunk-Min-Length. Blobs up to MonolithicMax go up in one request.
	ChunkSize int64
	// MonolithicMax is the largest blob pushed in one request (default
	// 4 MiB; negative: always chunked).
	MonolithicMax int64
	// StateDir, when set, is where uploads in progress are remembered, so
	// that another process pushing the same blob to the same repository
	// (the same command run again after it was killed) resumes the
	// registry's session from its offset instead of starting over.
	StateDir string

	fallbackMu sync.Mutex // the referrers tag schema's read-modify-write
}

// NewRepository returns the Store for repository name of c's registry.
func NewRepository(c *Client, name string) *Repository { return &Repository{Client: c, Name: name} }

// Resolve implements Store.
func (r *Repository) Resolve(ctx context.Context, ref string) (v1.Descriptor, error) {
	if ref == "" {
		ref = "latest"
	}
	mt, d, size, err := r.Client.ManifestHead(ctx, r.Name, ref)
	if err == nil && d != "" && mt != "" && size > 0 {
		return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
	}
	// A registry that does not send the digest on HEAD: GET it.
	body, mt, d, gerr := r.Client.ManifestGet(ctx, r.Name, ref)
	if gerr != nil {
		return v1.Descriptor{}, wrapNotFound(gerr)
	}
	return v1.Descriptor{MediaType: mediaTypeOf(mt, body), Digest: d, Size: int64(len(body))}, nil
}

// Manifest implements Store.
func (r *Repository) Manifest(ctx context.Context, desc v1.Descriptor) ([]byte, error) {
	body, _, _, err := r.Client.ManifestGet(ctx, r.Name, desc.Digest.String())
	return body, wrapNotFound(err)
}

// OpenBlob implements Store.
func (r *Repository) OpenBlob(ctx context.Context, desc v1.Descriptor, offset, length int64) (io.ReadCloser, error) {
	if offset == 0 && length <= 0 {
		rc, _, err := r.Client.BlobGet(ctx, r.Name, desc.Digest)
		return rc, wrapNotFound(err)
	}
	rc, _, err := r.Client.BlobGetRange(ctx, r.Name, desc.Digest, offset, length)
	return rc, wrapNotFound(err)
}

// HasBlob implements Store.
func (r *Repository) HasBlob(ctx context.Context, desc v1.Descriptor) (bool, error) {
	_, err := r.Client.BlobHead(ctx, r.Name, desc.Digest)
	if errors.Is(err, ocispec.ErrBlobUnknown) {
		return false, nil
	}
	return err == nil, err
}

// Mount asks the registry to mount blob desc from repository from (of the
// same registry) into r; it reports whether it did.
func (r *Repository) Mount(ctx context.Context, desc v1.Descriptor, from string) (bool, error) {
	ok, u, err := r.Client.BlobMount(ctx, r.Name, desc.Digest, from)
	if err != nil || ok {
		return ok, err
	}
	if u != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = r.Client.UploadCancel(cctx, u)
	}
	return false, nil
}

// PushBlob implements Store. Small blobs go up in one request; larger
// ones in chunks, and after a failure the upload resumes from the offset
// the registry reports (GET on the session), reading src from there.
func (r *Repository) PushBlob(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(int64)) error {
	if progress == nil {
		progress = func(int64) {}
	}
	mono := r.MonolithicMax
	if mono == 0 {
		mono = 4 << 20
	}
	if desc.Size <= mono {
		return r.pushMonolithic(ctx, desc, src, progress)
	}
	return r.pushChunked(ctx, desc, src, progress)
}

func (r *Repository) pushMonolithic(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(int64)) error {
	var last error
	p := r.Client.retry
	for attempt := 0; attempt <= p.Attempts; attempt++ {
		if attempt > 0 {
			if err := Sleep(ctx, p.Wait(attempt-1, nil)); err != nil {
				return err
			}
		}
		rc, err := src(ctx, 0, 0)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			last = err
			continue
		}
		if err := r.Client.BlobPut(ctx, r.Name, desc.Digest, bytes.NewReader(b), int64(len(b))); err != nil {
			if !transient(err) {
				return err
			}
			last = err
			continue
		}
		progress(int64(len(b)))
		return nil
	}
	return last
}

// transient reports whether err is worth another attempt: a network
// error or a status Retryable says is.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var oe *ocispec.Error
	if errors.As(err, &oe) {
		return Retryable(oe.HTTPStatus()) || oe.HTTPStatus() == http.StatusConflict
	}
	return true
}

func (r *Repository) pushChunked(ctx context.Context, desc v1.Descriptor, src BlobSource, progress func(int64)) error {
	var opts *UploadOptions
	if desc.Digest.Algorithm() != digest.SHA256 {
		opts = &UploadOptions{Algorithm: desc.Digest.Algorithm()}
	}
	u := r.resumeSaved(ctx, desc)
	if u == nil {
		var err error
		if u, err = r.Client.UploadStart(ctx, r.Name, opts); err != nil {
			return err
		}
		r.save(desc, u)
	}
	progress(u.Offset)
	chunk := r.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	chunk = max(chunk, u.MinChunk)
	p := r.Client.retry
	failures := 0
	for u.Offset < desc.Size {
		err := r.sendFrom(ctx, u, desc, src, chunk, progress)
		if err == nil {
			break
		}
		if !transient(err) && !errors.Is(err, ocispec.ErrBlobUploadInvalid) {
			return err
		}
		failures++
		if failures > p.Attempts {
			return fmt.Errorf("upload of %s: giving up after %d failures: %w", desc.Digest, failures, err)
		}
		// Ask the registry what it holds, riding out its restart.
		for {
			if serr := Sleep(ctx, p.Wait(failures-1, nil)); serr != nil {
				return serr
			}
			_, serr := r.Client.UploadStatus(ctx, u)
			if serr == nil {
				break
			}
			if errors.Is(serr, ocispec.ErrBlobUploadUnknown) {
				// The session is gone: start again.
				nu, nerr := r.Client.UploadStart(ctx, r.Name, opts)
				if nerr != nil {
					return nerr
				}
				*u = *nu
				r.save(desc, u)
				break
			}
			failures++
			if failures > p.Attempts {
				return fmt.Errorf("upload of %s: giving up after %d failures: %w", desc.Digest, failures, serr)
			}
		}
		progress(u.Offset)
	}
	err := r.Client.UploadFinish(ctx, u, desc.Digest)
	if err == nil || !transient(err) {
		r.forget(desc)
	}
	return err
}

// sendFrom sends the rest of the blob from u.Offset in chunks. The next
// chunk is read from src while the current one is being sent, so reading
// the source and writing the target overlap.
func (r *Repository) sendFrom(ctx context.Context, u *Upload, desc v1.Descriptor, src BlobSource, chunk int64, progress func(int64)) error {
	rc, err := src(ctx, u.Offset, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	type filled struct {
		b   []byte
		err error
	}
	// Fresh buffers on every call: after a failure the transport may
	// still hold the previous call's last chunk.
	bufs := [2][]byte{make([]byte, chunk), make([]byte, chunk)}
	ready := make(chan filled, 1)
	free := make(chan []byte, 2)
	free <- bufs[0]
	free <- bufs[1]
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ready)
		for off := u.Offset; off < desc.Size; {
			var b []byte
			select {
			case b = <-free:
			case <-rctx.Done():
				return
			}
			want := min(int64(len(b)), desc.Size-off)
			n, err := io.ReadFull(rc, b[:want])
			if err != nil {
				err = fmt.Errorf("reading %s at %d: %w", desc.Digest, off, err)
			}
			off += int64(n)
			select {
			case ready <- filled{b[:n], err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for u.Offset < desc.Size {
		f, ok := <-ready
		if !ok {
			return ctx.Err()
		}
		if f.err != nil {
			return f.err
		}
		if err := r.Client.UploadChunk(ctx, u, bytes.NewReader(f.b), int64(len(f.b))); err != nil {
			return err
		}
		// The transport may still hold the request body after
		// UploadChunk returned (net/http closes it, possibly later, in
		// its own goroutine), so the next chunk gets a fresh buffer
		// rather than overwriting bytes that may still be on their way.
		free <- make([]byte, cap(f.b))
		progress(u.Offset)
	}
	return nil
}

// PushManifest implements Store.
func (r *Repository) PushManifest(ctx context.Context, desc v1.Descriptor, body []byte, tag string, _ bool) error {
	ref := desc.Digest.String()
	if tag != "" {
		ref = tag
	}
	_, h, err := r.Client.manifestPut(ctx, r.Name, ref, desc.MediaType, body)
	if err != nil {
		return err
	}
	var m referrerFields
	if json.Unmarshal(body, &m) != nil || m.Subject == nil || h.Get(ocispec.OCISubject) != "" {
		return nil
	}
	// A registry without the referrers API (it sent no OCI-Subject): keep
	// the referrers tag schema's index up to date.
	return r.addToFallback(ctx, *m.Subject, m.descriptor(desc))
}

// referrerFields are what a referrers index lists of a manifest.
type referrerFields struct {
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

func (m referrerFields) descriptor(desc v1.Descriptor) v1.Descriptor {
	at := m.ArtifactType
	if at == "" && m.Config != nil {
		at = m.Config.MediaType
	}
	return v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: at, Annotations: m.Annotations}
}

// FallbackTag is the tag of the referrers tag schema (OCI Distribution
// v1.1) for subject d: "<alg>-<hex>".
func FallbackTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}

// fallbackIndex reads the referrers tag schema's index for subject.
func (r *Repository) fallbackIndex(ctx context.Context, subject digest.Digest) (v1.Index, error) {
	idx := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	body, _, _, err := r.Client.ManifestGet(ctx, r.Name, FallbackTag(subject))
	if errors.Is(err, ocispec.ErrManifestUnknown) || errors.Is(err, ocispec.ErrNameUnknown) {
		return idx, nil
	}
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		return idx, fmt.Errorf("referrers tag %s: %w", FallbackTag(subject), err)
	}
	return idx, nil
}

// addToFallback adds ref to the referrers tag schema's index of subject.
func (r *Repository) addToFallback(ctx context.Context, subject, ref v1.Descriptor) error {
	r.fallbackMu.Lock()
	defer r.fallbackMu.Unlock()
	idx, err := r.fallbackIndex(ctx, subject.Digest)
	if err != nil {
		return err
	}
	for _, m := range idx.Manifests {
		if m.Digest == ref.Digest {
			return nil
		}
	}
	idx.Manifests = append(idx.Manifests, ref)
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	_, err = r.Client.ManifestPut(ctx, r.Name, FallbackTag(subject.Digest), v1.MediaTypeImageIndex, b)
	return err
}

// Referrers implements Store: the referrers API, or on a registry without
// it (404), the referrers tag schema.
func (r *Repository) Referrers(ctx context.Context, desc v1.Descriptor) ([]v1.Descriptor, error) {
	refs, err := r.Client.Referrers(ctx, r.Name, desc.Digest, "")
	var oe *ocispec.Error
	if err == nil || !errors.As(err, &oe) || oe.HTTPStatus() != http.StatusNotFound {
		return refs, err
	}
	idx, ferr := r.fallbackIndex(ctx, desc.Digest)
	if ferr != nil {
		return nil, ferr
	}
	return idx.Manifests, nil
}

// Close implements Store; it does nothing.
func (r *Repository) Close() error { return nil }

// wrapNotFound makes a registry's "unknown" errors also match ErrNotFound.
func wrapNotFound(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ocispec.ErrManifestUnknown) || errors.Is(err, ocispec.ErrBlobUnknown) || errors.Is(err, ocispec.ErrNameUnknown) {
		return notFoundError{err}
	}
	return err
}
