package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	ocispec "github.com/regkit/regkit/spec/oci"
)

// Upload is an upload session. Its methods are on Client (UploadChunk,
// UploadStatus, UploadFinish, UploadCancel), which keep it up to date; an
// Upload must not be used by two calls at once.
type Upload struct {
	// Repo is the repository the blob goes to.
	Repo string
	// ID is the session's ID (Docker-Upload-UUID, or the last segment of
	// its URL).
	ID string
	// Location is the absolute URL of the session as the registry last
	// sent it; the next request goes there. When empty, the URL is built
	// from Repo and ID.
	Location string
	// Offset is the number of bytes the registry holds.
	Offset int64
	// MinChunk is the registry's OCI-Chunk-Min-Length (0 when it sent
	// none): every chunk but the last must be at least this long.
	MinChunk int64
}

// UploadOptions are the per-call knobs of UploadStart. A nil
// *UploadOptions starts a sha256 session.
type UploadOptions struct {
	// Algorithm asks the registry to hash the session with this algorithm
	// (?digest-algorithm=, e.g. digest.SHA512), for a blob whose digest
	// will use it. "" leaves the registry's default (sha256).
	Algorithm digest.Algorithm
}

// UploadStart opens an upload session in repo (POST).
func (c *Client) UploadStart(ctx context.Context, repo string, opts *UploadOptions) (*Upload, error) {
	req := request(ocispec.RouteUploadStart, http.MethodPost, repo)
	if opts != nil && opts.Algorithm != "" {
		req.Route, req.DigestAlgorithm = ocispec.RouteUploadAlgorithm, string(opts.Algorithm)
	}
	resp, err := c.do(ctx, call{req: req}, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	_ = discard(resp)
	return c.uploadFrom(resp, repo)
}

// uploadFrom makes an Upload of a 202 answer.
func (c *Client) uploadFrom(resp *http.Response, repo string) (*Upload, error) {
	u := &Upload{Repo: repo}
	if err := u.update(resp); err != nil {
		return nil, err
	}
	if u.Location == "" {
		return nil, errors.New("the registry opened an upload session without a Location")
	}
	if s := resp.Header.Get(ocispec.OCIChunkMinLength); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			u.MinChunk = n
		}
	}
	return u, nil
}

// update takes Location and the session ID from a response.
func (u *Upload) update(resp *http.Response) error {
	if loc := resp.Header.Get(ocispec.Location); loc != "" {
		abs, err := resolve(resp, loc)
		if err != nil {
			return err
		}
		u.Location = abs
	}
	if id := resp.Header.Get(ocispec.DockerUploadUUID); id != "" {
		u.ID = id
	} else if u.Location != "" {
		if lu, err := url.Parse(u.Location); err == nil {
			if r, err := ocispec.Parse(http.MethodPatch, lu); err == nil {
				u.ID = r.UploadID
			}
		}
	}
	return nil
}

// rangeEnd parses an upload Range header ("0-<last>", with or without a
// "bytes=" prefix) and returns the number of bytes it says the session
// holds, using own (the client's count) to read the ambiguous "0-0".
func rangeEnd(h string, own int64) (int64, bool) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "bytes=")
	a, b, ok := strings.Cut(h, "-")
	if !ok || a != "0" {
		return 0, false
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < 0 {
		return 0, false
	}
	if end == 0 && own <= 1 {
		return own, true
	}
	return end + 1, true
}

// uploadCall builds the call for route on u: the session's Location (with
// ?digest= for a finish) or, without one, the URL from the route table.
func (c *Client) uploadCall(u *Upload, route ocispec.RouteID, method string, d digest.Digest) (call, error) {
	req := request(route, method, u.Repo)
	req.UploadID, req.Digest = u.ID, d
	cl := call{req: req}
	if u.Location == "" {
		return cl, nil
	}
	lu, err := url.Parse(u.Location)
	if err != nil {
		return cl, fmt.Errorf("upload location %q: %w", u.Location, err)
	}
	if d != "" {
		q := lu.Query()
		q.Set("digest", d.String())
		lu.RawQuery = q.Encode()
	}
	cl.url = lu.String()
	return cl, nil
}

// UploadChunk appends the next n bytes of r to u (PATCH with
// Content-Range), and advances u. When the registry refuses the chunk's
// position (416, ErrBlobUploadInvalid), u.Offset is set to what it holds,
// so the caller can resume from there. A chunk sent from an io.Seeker can
// be sent again after an authentication challenge.
func (c *Client) UploadChunk(ctx context.Context, u *Upload, r io.Reader, n int64) error {
	if n <= 0 {
		return fmt.Errorf("UploadChunk: chunk size must be positive, got %d", n)
	}
	cl, err := c.uploadCall(u, ocispec.RouteUploadChunk, http.MethodPatch, "")
	if err != nil {
		return err
	}
	cl.header = http.Header{
		"Content-Type":       {"application/octet-stream"},
		ocispec.ContentRange: {strconv.FormatInt(u.Offset, 10) + "-" + strconv.FormatInt(u.Offset+n-1, 10)},
		// The chunk goes out only once the registry has accepted the
		// headers: a chunk refused (busy 409, 416, 401) costs no bytes.
		"Expect": {"100-continue"},
	}
	cl.body, cl.size = r, n
	cl.noReplay = true // after a failure, ask the session's offset (UploadStatus)
	cl.notFound = ocispec.ErrBlobUploadUnknown
	resp, err := c.do(ctx, cl, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			if off, ok := rangeEnd(resp.Header.Get(ocispec.Range), u.Offset); ok {
				u.Offset = off
			}
		}
		return err
	}
	_ = discard(resp)
	if err := u.update(resp); err != nil {
		return err
	}
	want := u.Offset + n
	if got, ok := rangeEnd(resp.Header.Get(ocispec.Range), want); ok && got != want {
		u.Offset = got
		return ocispec.CodeBlobUploadInvalid.Errorf("after a chunk of %d bytes the registry holds %d bytes of upload %s, not %d", n, got, u.ID, want)
	}
	u.Offset = want
	return nil
}

// UploadStatus asks the registry how many bytes u holds (GET), sets
// u.Offset and returns it.
func (c *Client) UploadStatus(ctx context.Context, u *Upload) (int64, error) {
	cl, err := c.uploadCall(u, ocispec.RouteUploadStatus, http.MethodGet, "")
	if err != nil {
		return 0, err
	}
	cl.notFound = ocispec.ErrBlobUploadUnknown
	resp, err := c.do(ctx, cl, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return 0, err
	}
	_ = discard(resp)
	if err := u.update(resp); err != nil {
		return 0, err
	}
	own := u.Offset
	if own > 1 {
		own = 0 // "0-0" after a reset means empty
	}
	off, ok := rangeEnd(resp.Header.Get(ocispec.Range), own)
	if !ok {
		return 0, fmt.Errorf("upload status: registry sent no valid Range (%q)", resp.Header.Get(ocispec.Range))
	}
	u.Offset = off
	return off, nil
}

// UploadFinish completes u as blob d (PUT ?digest=). The registry checks
// the digest: a mismatch is ErrDigestInvalid.
func (c *Client) UploadFinish(ctx context.Context, u *Upload, d digest.Digest) error {
	return c.uploadFinish(ctx, u, d, nil, 0)
}

// uploadFinish sends the closing PUT, with a last chunk when r is not nil.
func (c *Client) uploadFinish(ctx context.Context, u *Upload, d digest.Digest, r io.Reader, n int64) error {
	cl, err := c.uploadCall(u, ocispec.RouteUploadFinish, http.MethodPut, d)
	if err != nil {
		return err
	}
	cl.notFound = ocispec.ErrBlobUploadUnknown
	if r != nil && n > 0 {
		cl.body, cl.size = r, n
	}
	cl.header = http.Header{"Content-Type": {"application/octet-stream"}}
	if n > 0 {
		cl.header.Set(ocispec.ContentRange, strconv.FormatInt(u.Offset, 10)+"-"+strconv.FormatInt(u.Offset+n-1, 10))
	}
	resp, err := c.do(ctx, cl, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
	if err != nil {
		return err
	}
	_ = discard(resp)
	u.Offset += n
	return checkDigest(resp, d)
}

// UploadCancel abandons u (DELETE); the registry drops its bytes.
func (c *Client) UploadCancel(ctx context.Context, u *Upload) error {
	cl, err := c.uploadCall(u, ocispec.RouteUploadCancel, http.MethodDelete, "")
	if err != nil {
		return err
	}
	cl.notFound = ocispec.ErrBlobUploadUnknown
	resp, err := c.do(ctx, cl, http.StatusNoContent, http.StatusAccepted, http.StatusOK)
	if err != nil {
		return err
	}
	return discard(resp)
}

// DefaultChunkSize is the chunk size BlobPutChunked uses when given 0.
const DefaultChunkSize = 8 << 20

// BlobPutChunked uploads the content of r to repo in chunks of chunkSize
// bytes (DefaultChunkSize when 0; raised to the registry's minimum), and
// returns its sha256 digest. It hashes each chunk while the chunk is being
// sent, so the content is read once. On failure the session is cancelled.
func (c *Client) BlobPutChunked(ctx context.Context, repo string, r io.Reader, chunkSize int64) (digest.Digest, error) {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	u, err := c.UploadStart(ctx, repo, nil)
	if err != nil {
		return "", err
	}
	chunkSize = max(chunkSize, u.MinChunk)
	h := digest.SHA256.Hash()
	buf := make([]byte, chunkSize)
	fail := func(err error) (digest.Digest, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.UploadCancel(cctx, u)
		return "", err
	}
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			chunk := buf[:n]
			hashed := make(chan struct{})
			go func() {
				h.Write(chunk)
				close(hashed)
			}()
			err := c.UploadChunk(ctx, u, bytes.NewReader(chunk), int64(n))
			<-hashed
			if err != nil {
				return fail(err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	d := digest.NewDigest(digest.SHA256, h)
	if err := c.UploadFinish(ctx, u, d); err != nil {
		return fail(err)
	}
	return d, nil
}
