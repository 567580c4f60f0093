package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// uploadStart handles POST /v2/<name>/blobs/uploads/: a mount, a
// monolithic upload (?digest=), or the start of a session.
func (s *Server) uploadStart(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	if req.Route == oci.RouteBlobMount {
		done, err := s.mount(w, r, req)
		if done || err != nil {
			return err
		}
		// Not mountable: fall through to a new session (202), as the
		// specification requires.
	}
	if req.Route == oci.RouteUploadMonolithic {
		size := r.ContentLength
		if err := s.checkQuota(ctx, req.Name, req.Digest, max(size, 0)); err != nil {
			return err
		}
		b, err := s.store.PutBlob(ctx, req.Digest, r.Body, size)
		if err != nil {
			return uploadError(err, req)
		}
		if size < 0 {
			if err := s.checkQuota(ctx, req.Name, b.Digest, b.Size); err != nil {
				return err
			}
		}
		return s.blobCreated(w, r, req.Name, b)
	}
	var algs []digest.Algorithm
	if req.DigestAlgorithm != "" {
		alg := digest.Algorithm(req.DigestAlgorithm)
		if alg != digest.SHA256 && alg != digest.SHA512 {
			return oci.CodeDigestInvalid.Errorf("digest-algorithm %q is not supported: use sha256 or sha512", req.DigestAlgorithm)
		}
		algs = append(algs, alg)
	}
	u, err := s.store.StartUpload(ctx, req.Name, algs...)
	if err != nil {
		return fmt.Errorf("start upload: %w", err)
	}
	writeUploadHeaders(w, req.Name, u)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// mount links an existing blob into req.Name. It reports whether it
// answered the request.
func (s *Server) mount(w http.ResponseWriter, r *http.Request, req oci.Request) (bool, error) {
	ctx := r.Context()
	var (
		b   metadata.Blob
		err error
	)
	switch {
	case req.From != "":
		b, err = s.meta.RepoBlob(ctx, req.From, req.Digest)
	case s.opts.autoMount:
		b, err = s.meta.GetBlob(ctx, req.Digest)
	default:
		return false, nil
	}
	if errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mount lookup: %w", err)
	}
	// Refresh its last use so garbage collection keeps it; a blob being
	// collected is not mountable.
	if _, err := s.meta.TouchBlob(ctx, req.Digest); errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("mount: %w", err)
	}
	if err := s.checkQuota(ctx, req.Name, b.Digest, b.Size); err != nil {
		return true, err
	}
	return true, s.blobCreated(w, r, req.Name, b)
}

// blobCreated links b into repo and answers 201.
func (s *Server) blobCreated(w http.ResponseWriter, r *http.Request, repo string, b metadata.Blob) error {
	if err := s.meta.LinkBlob(r.Context(), repo, b); errors.Is(err, metadata.ErrConflict) {
		// Garbage collection is deleting this digest right now: the client
		// should push it again.
		return oci.CodeBlobUploadInvalid.Errorf("blob %s was being garbage-collected while it was uploaded; push it again", b.Digest).
			WithStatus(http.StatusConflict)
	} else if err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteBlob, Method: http.MethodGet, Name: repo, Digest: b.Digest, N: -1}.Path())
	h.Set(oci.DockerContentDigest, b.Digest.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// checkQuota refuses with 403 DENIED when adding size bytes to repo would
// exceed its namespace's quota. A blob already linked into repo adds
// nothing and is not checked.
func (s *Server) checkQuota(ctx context.Context, repo string, d digest.Digest, size int64) error {
	if s.opts.quota == nil || size <= 0 {
		return nil
	}
	if d != "" {
		if _, err := s.meta.RepoBlob(ctx, repo, d); err == nil {
			return nil
		}
	}
	err := s.opts.quota.Check(ctx, repo, size)
	if errors.Is(err, quota.ErrExceeded) {
		return oci.CodeDenied.Errorf("%v", err)
	}
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return nil
}

// uploadChunk appends a PATCH body to a session. With Content-Range the
// start must equal the session's size, else 416 with the current Range.
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	start := int64(-1)
	body := io.Reader(r.Body)
	if cr := r.Header.Get(oci.ContentRange); cr != "" {
		a, b, err := oci.ParseContentRange(cr)
		if err != nil {
			return s.rangeNotSatisfiable(w, r, req, fmt.Sprintf("malformed Content-Range %q: %v", cr, err))
		}
		start = a
		body = exactly(r.Body, b-a+1)
		if err := s.checkQuota(r.Context(), req.Name, "", b+1); err != nil {
			return err
		}
	} else if r.ContentLength > 0 && s.opts.quota != nil {
		u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
		if err != nil {
			return s.uploadFailure(w, r, req, err)
		}
		if err := s.checkQuota(r.Context(), req.Name, "", addSize(u.Offset, r.ContentLength)); err != nil {
			return err
		}
	}
	u, err := s.store.AppendUpload(r.Context(), req.Name, req.UploadID, start, body)
	if err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	writeUploadHeaders(w, req.Name, u)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// uploadFinish completes a session with PUT ?digest=, appending any final
// body, and commits the blob.
func (s *Server) uploadFinish(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if req.Digest == "" {
		return oci.CodeDigestInvalid.Errorf("the digest query parameter is required to finish an upload")
	}
	var final io.Reader
	if r.ContentLength != 0 {
		final = r.Body
	}
	if cr := r.Header.Get(oci.ContentRange); cr != "" && r.ContentLength != 0 {
		a, b, err := oci.ParseContentRange(cr)
		if err != nil {
			return s.rangeNotSatisfiable(w, r, req, fmt.Sprintf("malformed Content-Range %q: %v", cr, err))
		}
		u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
		if err != nil {
			return s.uploadFailure(w, r, req, err)
		}
		if a != u.Offset {
			return s.uploadFailure(w, r, req, &storage.RangeError{Offset: u.Offset})
		}
		final = exactly(r.Body, b-a+1)
	}
	b, err := s.store.FinishUpload(r.Context(), req.Name, req.UploadID, final, req.Digest)
	if err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	if err := s.checkQuota(r.Context(), req.Name, b.Digest, b.Size); err != nil {
		return err
	}
	return s.blobCreated(w, r, req.Name, b)
}

// uploadStatus answers GET on an upload URL: 204 with its Range.
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
	if err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	writeUploadHeaders(w, req.Name, u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadCancel answers DELETE on an upload URL.
func (s *Server) uploadCancel(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if err := s.store.CancelUpload(r.Context(), req.Name, req.UploadID); err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadFailure maps storage errors of an existing session to OCI errors.
func (s *Server) uploadFailure(w http.ResponseWriter, r *http.Request, req oci.Request, err error) error {
	var re *storage.RangeError
	switch {
	case errors.As(err, &re):
		u := metadata.Upload{ID: req.UploadID, Offset: re.Offset}
		writeUploadHeaders(w, req.Name, u)
		return oci.CodeBlobUploadInvalid.Errorf("the upload has %d bytes; a chunk must start at byte %d", re.Offset, re.Offset).
			WithStatus(http.StatusRequestedRangeNotSatisfiable)
	case errors.Is(err, storage.ErrUploadUnknown):
		return oci.CodeBlobUploadUnknown.Errorf("upload %q does not exist in repository %q: it was finished, cancelled or expired", req.UploadID, req.Name)
	case errors.Is(err, storage.ErrUploadBroken):
		return oci.CodeBlobUploadInvalid.Errorf("upload %q lost bytes it had acknowledged (the server crashed); start the upload again", req.UploadID)
	}
	return uploadError(err, req)
}

// uploadError maps errors common to every upload path.
func uploadError(err error, req oci.Request) error {
	var bad *badBody
	switch {
	case errors.Is(err, storage.ErrDigestMismatch), errors.Is(err, storage.ErrDigestInvalid):
		return oci.CodeDigestInvalid.Errorf("%v", err).WithDetail(map[string]string{"digest": req.Digest.String()})
	case errors.Is(err, storage.ErrSizeMismatch):
		return oci.CodeSizeInvalid.Errorf("%v", err)
	case errors.As(err, &bad):
		return oci.CodeBlobUploadInvalid.Errorf("%v", bad)
	}
	return fmt.Errorf("upload: %w", err)
}

// rangeNotSatisfiable answers 416 with the session's current Range.
func (s *Server) rangeNotSatisfiable(w http.ResponseWriter, r *http.Request, req oci.Request, msg string) error {
	u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
	if err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	writeUploadHeaders(w, req.Name, u)
	return oci.CodeBlobUploadInvalid.Errorf("%s", msg).WithStatus(http.StatusRequestedRangeNotSatisfiable)
}

// writeUploadHeaders sets Location, Range and Docker-Upload-UUID.
func writeUploadHeaders(w http.ResponseWriter, repo string, u metadata.Upload) {
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteUploadChunk, Method: http.MethodPatch, Name: repo, UploadID: u.ID, N: -1}.Path())
	h.Set(oci.Range, oci.UploadRange(u.Offset))
	h.Set(oci.DockerUploadUUID, u.ID)
	h.Set("Content-Length", "0")
}

// badBody reports a request body that did not match its declared length.
type badBody struct{ want, got int64 }

func (e *badBody) Error() string {
	if e.got > e.want {
		return "the body is longer than its Content-Range (" + strconv.FormatInt(e.want, 10) + " bytes)"
	}
	return fmt.Sprintf("the body ended after %d of the %d bytes its Content-Range announced", e.got, e.want)
}

// exactly returns a reader of r that fails unless r holds exactly n bytes,
// so a short or long chunk never becomes part of an upload.
func exactly(r io.Reader, n int64) io.Reader { return &exactReader{r: r, want: n} }

type exactReader struct {
	r         io.Reader
	want, got int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.got == e.want {
		// Expect EOF: probe one byte.
		var one [1]byte
		n, err := e.r.Read(one[:])
		if n > 0 {
			return 0, &badBody{want: e.want, got: e.want + 1}
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if rem := e.want - e.got; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := e.r.Read(p)
	e.got += int64(n)
	if err == io.EOF && e.got < e.want {
		return n, &badBody{want: e.want, got: e.got}
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
