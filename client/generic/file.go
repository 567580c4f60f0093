package generic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/client/oci"
	genspec "github.com/regkit/regkit/spec/generic"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// FileRef names one file of a generic package.
type FileRef struct {
	Owner, Name, Version, Filename string
}

func (f FileRef) request(route genspec.RouteID, method string) genspec.Request {
	return genspec.Request{Route: route, Method: method, Owner: f.Owner, Type: genspec.TypeGeneric, Name: f.Name, Version: f.Version, Filename: f.Filename}
}

// UploadOptions are the knobs of Upload and UploadResumable. A nil
// *UploadOptions uses the defaults.
type UploadOptions struct {
	// ContentType is the file's type ("" for application/octet-stream).
	ContentType string
	// ChunkSize is the size of a resumable upload's chunks (default 8 MiB).
	ChunkSize int64
	// ResumableFrom is the smallest file Upload sends through an upload
	// session (default 16 MiB; negative: never).
	ResumableFrom int64
	// Progress, when not nil, is told the bytes the server holds so far.
	Progress func(done int64)
}

func (o *UploadOptions) or() UploadOptions {
	v := UploadOptions{ChunkSize: 8 << 20, ResumableFrom: 16 << 20}
	if o != nil {
		if o.ChunkSize > 0 {
			v.ChunkSize = o.ChunkSize
		}
		if o.ResumableFrom != 0 {
			v.ResumableFrom = o.ResumableFrom
		}
		v.ContentType, v.Progress = o.ContentType, o.Progress
	}
	return v
}

// Upload stores size bytes of r as file f. Files from opts.ResumableFrom
// bytes go through a resumable upload session when the server offers them
// (regkit); otherwise, and on servers without sessions (Gitea), one PUT.
// A file that exists already is ErrConflict.
func (c *Client) Upload(ctx context.Context, f FileRef, r io.ReaderAt, size int64, opts *UploadOptions) error {
	o := opts.or()
	if o.ResumableFrom >= 0 && size >= o.ResumableFrom {
		err := c.UploadResumable(ctx, f, r, size, opts)
		var ge *Error
		if !errors.As(err, &ge) || (ge.Status != http.StatusNotFound && ge.Status != http.StatusMethodNotAllowed) || errors.Is(err, errSessionGone) {
			return err
		}
		// No upload sessions here: one PUT.
	}
	return c.UploadMonolithic(ctx, f, io.NewSectionReader(r, 0, size), size, opts)
}

// UploadMonolithic stores size bytes of r as file f with one PUT. An
// io.Seeker body is sent again when the request is retried.
func (c *Client) UploadMonolithic(ctx context.Context, f FileRef, r io.Reader, size int64, opts *UploadOptions) error {
	o := opts.or()
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteUpload, http.MethodPut), header: http.Header{"Content-Type": {ct}}, body: r, size: size}, http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	discard(resp)
	if o.Progress != nil {
		o.Progress(size)
	}
	return nil
}

var errSessionGone = errors.New("the upload session is gone")

// session is a resumable upload session.
type session struct {
	location string
	offset   int64
}

// UploadResumable stores size bytes of r as file f through a regkit
// upload session: chunks of opts.ChunkSize with Content-Range, and after a
// failure (a network error, the server restarting) the client asks the
// session's offset (GET) and sends the rest from there, so bytes the
// server holds are not sent again.
func (c *Client) UploadResumable(ctx context.Context, f FileRef, r io.ReaderAt, size int64, opts *UploadOptions) error {
	o := opts.or()
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteUploadStart, http.MethodPost)}, http.StatusAccepted, http.StatusCreated)
	if err != nil {
		return err
	}
	discard(resp)
	s := &session{}
	if err := s.update(resp); err != nil {
		return err
	}
	buf := make([]byte, o.ChunkSize)
	failures := 0
	for s.offset < size {
		n := min(int64(len(buf)), size-s.offset)
		if _, err := r.ReadAt(buf[:n], s.offset); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		err := c.chunk(ctx, f, s, buf[:n])
		if err == nil {
			failures = 0
			if o.Progress != nil {
				o.Progress(s.offset)
			}
			continue
		}
		if !transient(err) {
			return err
		}
		for {
			failures++
			if failures > c.retry.Attempts {
				return fmt.Errorf("upload of %s: giving up after %d failures: %w", f.Filename, failures, err)
			}
			if serr := oci.Sleep(ctx, c.retry.Wait(failures-1, nil)); serr != nil {
				return serr
			}
			if err = c.status(ctx, f, s); err == nil || !transient(err) {
				break
			}
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: %w", errSessionGone, err)
			}
			return err
		}
	}
	return c.finish(ctx, f, s, o.ContentType)
}

// transient reports whether err is worth another attempt.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ge *Error
	if errors.As(err, &ge) {
		return oci.Retryable(ge.Status) || ge.Status == http.StatusRequestedRangeNotSatisfiable || ge.Status == http.StatusConflict
	}
	return true
}

func (s *session) update(resp *http.Response) error {
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			return fmt.Errorf("server sent an invalid Location %q: %w", loc, err)
		}
		s.location = resp.Request.URL.ResolveReference(u).String()
	}
	if s.location == "" {
		return errors.New("the server opened an upload session without a Location")
	}
	if v := resp.Header.Get(genspec.UploadOffset); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			s.offset = n
		}
	}
	return nil
}

func (c *Client) chunk(ctx context.Context, f FileRef, s *session, b []byte) error {
	end := s.offset + int64(len(b)) - 1
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteUploadChunk, http.MethodPatch), url: s.location,
		header: http.Header{"Content-Type": {"application/octet-stream"}, "Content-Range": {strconv.FormatInt(s.offset, 10) + "-" + strconv.FormatInt(end, 10)}},
		body:   bytes.NewReader(b), size: int64(len(b))}, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		if resp != nil {
			_ = s.update(resp)
		}
		return err
	}
	discard(resp)
	want := end + 1
	if err := s.update(resp); err != nil {
		return err
	}
	if resp.Header.Get(genspec.UploadOffset) == "" {
		s.offset = want
	}
	if s.offset != want {
		return genspec.Errorf(http.StatusRequestedRangeNotSatisfiable, "after a chunk the server holds %d bytes, not %d", s.offset, want)
	}
	return nil
}

func (c *Client) status(ctx context.Context, f FileRef, s *session) error {
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteUploadStatus, http.MethodGet), url: s.location}, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	discard(resp)
	if resp.Header.Get(genspec.UploadOffset) == "" {
		return errors.New("upload status: the server sent no " + genspec.UploadOffset)
	}
	return s.update(resp)
}

func (c *Client) finish(ctx context.Context, f FileRef, s *session, ct string) error {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteUploadFinish, http.MethodPut), url: s.location, header: h}, http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// Info describes a file as a HEAD shows it.
type Info struct {
	Size int64 `json:"size"`
	// SHA256 is the file's sha256 in hex, from the ETag or Digest header,
	// else from the management API ("" when unknown).
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// ETag and LastModified are the validators sent with If-Range.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// Stat returns the size and checksum of file f (HEAD).
func (c *Client) Stat(ctx context.Context, f FileRef) (Info, error) {
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteDownload, http.MethodHead)}, http.StatusOK)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return Info{}, genspec.Errorf(http.StatusNotFound, "file %s of %s %s is unknown", f.Filename, f.Name, f.Version)
		}
		return Info{}, err
	}
	discard(resp)
	in := Info{Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type"), ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	if e := strings.Trim(strings.TrimPrefix(in.ETag, "W/"), `"`); isHex64(e) {
		in.SHA256 = e
	}
	if in.SHA256 == "" {
		if fs, err := c.Files(ctx, f.Owner, genspec.TypeGeneric, f.Name, f.Version); err == nil {
			for _, file := range fs {
				if strings.EqualFold(file.Name, f.Filename) {
					in.SHA256 = file.SHA256
				}
			}
		}
	}
	return in, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// DownloadOptions are the knobs of Download; nil: 4 ranges of 16 MiB.
type DownloadOptions struct {
	// Parallel is how many ranges are fetched at once (1: one stream).
	Parallel int
	// PartSize is the size of one range.
	PartSize int64
	// Progress, when not nil, is told the bytes written so far.
	Progress func(done int64)
}

// Download writes file f into dst in parallel ranges, each sent with
// If-Range so that a file replaced meanwhile is noticed (the server then
// answers 200 and the download fails instead of mixing two files), each
// range resumed from where it stopped after a failure. The content is
// verified against the file's sha256 (ErrIntegrity when it differs).
func (c *Client) Download(ctx context.Context, f FileRef, dst *os.File, opts *DownloadOptions) (Info, error) {
	in, err := c.Stat(ctx, f)
	if err != nil {
		return in, err
	}
	o := oci.DownloadOptions{Parallel: 4, PartSize: 16 << 20}
	if opts != nil {
		o.Parallel, o.PartSize, o.Progress = opts.Parallel, opts.PartSize, opts.Progress
	}
	p := c.retry
	o.Retry = &p
	validator := in.ETag
	if validator == "" {
		validator = in.LastModified
	}
	src := func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
		h := http.Header{}
		if offset > 0 || length > 0 {
			rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
			if length > 0 {
				rng += strconv.FormatInt(offset+length-1, 10)
			}
			h.Set("Range", rng)
			if validator != "" {
				h.Set("If-Range", validator)
			}
		}
		resp, err := c.do(ctx, call{req: f.request(genspec.RouteDownload, http.MethodGet), header: h}, http.StatusOK, http.StatusPartialContent)
		if err != nil {
			return nil, err
		}
		if h.Get("Range") != "" && resp.StatusCode == http.StatusOK {
			_ = resp.Body.Close()
			return nil, genspec.Errorf(http.StatusPreconditionFailed, "file %s changed during the download", f.Filename)
		}
		return resp.Body, nil
	}
	desc := v1.Descriptor{Size: in.Size, Digest: digest.NewDigestFromEncoded(digest.SHA256, in.SHA256)}
	if in.SHA256 == "" {
		// Unknown checksum: verify what we can, the size.
		return in, c.downloadUnverified(ctx, src, in.Size, dst, o)
	}
	err = oci.Download(ctx, src, desc, dst, &o)
	if errors.Is(err, ocispec.ErrDigestInvalid) || errors.Is(err, ocispec.ErrSizeInvalid) {
		return in, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return in, err
}

// downloadUnverified downloads with one stream and checks the size.
func (c *Client) downloadUnverified(ctx context.Context, src oci.BlobSource, size int64, dst *os.File, o oci.DownloadOptions) error {
	rc, err := src(ctx, 0, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), rc)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: got %d bytes, want %d", ErrIntegrity, n, size)
	}
	if o.Progress != nil {
		o.Progress(n)
	}
	return nil
}

// DeleteFile deletes one file; the version goes when its last file does.
func (c *Client) DeleteFile(ctx context.Context, f FileRef) error {
	resp, err := c.do(ctx, call{req: f.request(genspec.RouteFileDelete, http.MethodDelete)}, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}
