package oci

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	ocispec "github.com/regkit/regkit/spec/oci"
)

func blobRequest(route ocispec.RouteID, method, repo string, d digest.Digest) ocispec.Request {
	r := request(route, method, repo)
	r.Digest = d
	return r
}

func blobUnknown(d digest.Digest) *ocispec.Error {
	return ocispec.CodeBlobUnknown.Errorf("blob %s is unknown to the registry", d)
}

// BlobHead returns the size of blob d in repo (HEAD). A missing blob is
// ErrBlobUnknown.
func (c *Client) BlobHead(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	resp, err := c.do(ctx, call{
		req:      blobRequest(ocispec.RouteBlob, http.MethodHead, repo, d),
		notFound: blobUnknown(d),
	}, http.StatusOK)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.ContentLength, nil
}

// BlobGet returns the content of blob d in repo and its size. The reader
// verifies the content: when it ends, Read returns a DIGEST_INVALID error
// unless the bytes hash to d. The caller must close it.
func (c *Client) BlobGet(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	if err := d.Validate(); err != nil {
		return nil, 0, ocispec.CodeDigestInvalid.Errorf("%v", err)
	}
	resp, err := c.do(ctx, call{
		req:      blobRequest(ocispec.RouteBlob, http.MethodGet, repo, d),
		notFound: blobUnknown(d),
	}, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return &verifier{rc: resp.Body, h: d.Algorithm().Hash(), d: d, size: resp.ContentLength}, resp.ContentLength, nil
}

// BlobGetRange returns length bytes of blob d from offset (to the end of
// the blob when length <= 0), and the size of the whole blob. The bytes
// are not verified. A registry that ignores Range is handled by skipping
// to offset. A range outside the blob is ErrRangeInvalid.
func (c *Client) BlobGetRange(ctx context.Context, repo string, d digest.Digest, offset, length int64) (io.ReadCloser, int64, error) {
	if offset < 0 {
		return nil, 0, fmt.Errorf("BlobGetRange: negative offset %d", offset)
	}
	rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
	if length > 0 {
		rng += strconv.FormatInt(offset+length-1, 10)
	}
	resp, err := c.do(ctx, call{
		req:      blobRequest(ocispec.RouteBlob, http.MethodGet, repo, d),
		header:   http.Header{"Range": {rng}},
		notFound: blobUnknown(d),
	}, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode == http.StatusPartialContent {
		size, err := contentRangeSize(resp.Header.Get(ocispec.ContentRange))
		if err != nil {
			_ = discard(resp)
			return nil, 0, err
		}
		return resp.Body, size, nil
	}
	// 200: the whole blob.
	size := resp.ContentLength
	if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
		_ = resp.Body.Close()
		return nil, 0, fmt.Errorf("skipping to offset %d: %w", offset, err)
	}
	var r io.Reader = resp.Body
	if length > 0 {
		r = io.LimitReader(resp.Body, length)
	}
	return readCloser{r, resp.Body}, size, nil
}

// contentRangeSize returns the total of "bytes a-b/size".
func contentRangeSize(h string) (int64, error) {
	_, total, ok := strings.Cut(h, "/")
	if !ok || total == "*" {
		return -1, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("registry sent an invalid Content-Range %q", h)
	}
	return n, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// verifier hashes a blob as it is read and checks it at the end.
type verifier struct {
	rc   io.ReadCloser
	h    hash.Hash
	d    digest.Digest
	n    int64
	size int64
	err  error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		switch got := digest.NewDigest(v.d.Algorithm(), v.h); {
		case v.size >= 0 && v.n != v.size:
			err = ocispec.CodeSizeInvalid.Errorf("blob %s: got %d bytes, the registry announced %d", v.d, v.n, v.size)
		case got != v.d:
			err = ocispec.CodeDigestInvalid.Errorf("downloaded blob has digest %s, not %s", got, v.d)
		}
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// BlobPut uploads a whole blob of size bytes in one request (POST with
// ?digest=). When the registry answers by opening an upload session
// instead (202, which the spec allows), the content is sent again with
// the closing PUT; that needs r to be an io.Seeker.
func (c *Client) BlobPut(ctx context.Context, repo string, d digest.Digest, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("BlobPut: the size must be known (got %d)", size)
	}
	rewind, _ := rewinder(r)
	req := blobRequest(ocispec.RouteUploadMonolithic, http.MethodPost, repo, d)
	resp, err := c.do(ctx, call{
		req:    req,
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   r,
		size:   size,
	}, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return err
	}
	_ = discard(resp)
	if resp.StatusCode == http.StatusCreated {
		return checkDigest(resp, d)
	}
	u, err := c.uploadFrom(resp, repo)
	if err != nil {
		return err
	}
	if rewind == nil {
		_ = c.UploadCancel(context.WithoutCancel(ctx), u)
		return errors.New("BlobPut: the registry does not accept monolithic POST uploads; pass an io.Seeker so the content can be sent again, or use BlobPutChunked")
	}
	if err := rewind(); err != nil {
		return err
	}
	return c.uploadFinish(ctx, u, d, r, size)
}

// checkDigest compares the Docker-Content-Digest of resp, when present,
// with want.
func checkDigest(resp *http.Response, want digest.Digest) error {
	if got := resp.Header.Get(ocispec.DockerContentDigest); got != "" && got != want.String() {
		return ocispec.CodeDigestInvalid.Errorf("the registry stored digest %s, not %s", got, want)
	}
	return nil
}

// BlobMount mounts blob d from repository from into repo (POST
// ?mount=&from=; from may be "" to let the registry look anywhere). It
// reports whether the blob was mounted; when it was not, the registry
// opened an upload session instead, which is returned (push the blob
// with it, or cancel it).
func (c *Client) BlobMount(ctx context.Context, repo string, d digest.Digest, from string) (bool, *Upload, error) {
	req := blobRequest(ocispec.RouteBlobMount, http.MethodPost, repo, d)
	req.From = from
	resp, err := c.do(ctx, call{req: req}, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, nil, err
	}
	_ = discard(resp)
	if resp.StatusCode == http.StatusCreated {
		return true, nil, checkDigest(resp, d)
	}
	u, err := c.uploadFrom(resp, repo)
	return false, u, err
}

// BlobDelete deletes blob d from repo. A missing blob is ErrBlobUnknown.
func (c *Client) BlobDelete(ctx context.Context, repo string, d digest.Digest) error {
	resp, err := c.do(ctx, call{req: blobRequest(ocispec.RouteBlobDelete, http.MethodDelete, repo, d)}, http.StatusAccepted)
	if err != nil {
		return err
	}
	return discard(resp)
}
