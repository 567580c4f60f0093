package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/core"
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
		return s.uploadMonolithic(w, r, req)
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
	if err := s.openUpload(ctx, req.Name, u.ID); err != nil {
		if cerr := s.store.CancelUpload(context.WithoutCancel(ctx), req.Name, u.ID); cerr != nil {
			s.opts.log.WarnContext(ctx, "cancel a refused upload", "upload", u.ID, "err", cerr)
		}
		return ociQuotaError(w, err)
	}
	writeUploadHeaders(w, req.Name, u)
	if n := s.store.ChunkMinLength(); n > 0 {
		w.Header().Set(oci.OCIChunkMinLength, strconv.FormatInt(n, 10))
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// uploadMonolithic stores the body of POST ?digest= as the blob, within
// the namespace's quota.
func (s *Server) uploadMonolithic(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	body := io.Reader(r.Body)
	if !s.linked(ctx, req.Name, req.Digest) {
		holder := quota.OneShot()
		defer s.release(ctx, req.Name, holder)
		var err error
		if body, err = s.quotaBody(ctx, req.Name, holder, body, 0, r.ContentLength); err != nil {
			return ociQuotaError(w, err)
		}
	}
	b, err := s.store.PutBlob(ctx, req.Digest, body, r.ContentLength)
	if err != nil {
		return uploadError(w, err, req)
	}
	return s.blobCreated(w, r, req.Name, b)
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
	if !s.linked(ctx, req.Name, b.Digest) {
		holder := quota.OneShot()
		defer s.release(ctx, req.Name, holder)
		if _, err := s.quotaBody(ctx, req.Name, holder, nil, 0, b.Size); err != nil {
			return true, ociQuotaError(w, err)
		}
	}
	return true, s.blobCreated(w, r, req.Name, b)
}

// blobCreated links b into repo and answers 201.
func (s *Server) blobCreated(w http.ResponseWriter, r *http.Request, repo string, b metadata.Blob) error {
	if err := s.meta.LinkBlob(r.Context(), repo, b); errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrNotFound) {
		// Garbage collection deleted this digest, or is deleting it, right
		// after it was stored: the client should push it again.
		core.SetRetryAfter(w, time.Second)
		return oci.CodeBlobUploadInvalid.Errorf("blob %s was being garbage-collected while it was uploaded; push it again", b.Digest).
			WithStatus(http.StatusServiceUnavailable)
	} else if err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteBlob, Method: http.MethodGet, Name: repo, Digest: b.Digest}.Path())
	h.Set(oci.DockerContentDigest, b.Digest.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
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
		if body, err = core.Exactly(r.Body, a, b); err != nil {
			return s.rangeNotSatisfiable(w, r, req, fmt.Sprintf("Content-Range %q: %v", cr, err))
		}
		if body, err = s.quotaBody(r.Context(), req.Name, req.UploadID, body, a, b-a+1); err != nil {
			return ociQuotaError(w, err)
		}
	} else if s.opts.quota != nil {
		u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
		if err != nil {
			return s.uploadFailure(w, r, req, err)
		}
		if body, err = s.quotaBody(r.Context(), req.Name, req.UploadID, body, u.Offset, r.ContentLength); err != nil {
			return ociQuotaError(w, err)
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
		if s.opts.quota != nil {
			u, err := s.store.UploadStatus(r.Context(), req.Name, req.UploadID)
			if err != nil {
				return s.uploadFailure(w, r, req, err)
			}
			if final, err = s.quotaBody(r.Context(), req.Name, req.UploadID, final, u.Offset, r.ContentLength); err != nil {
				return ociQuotaError(w, err)
			}
		}
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
		if final, err = core.Exactly(final, a, b); err != nil {
			return s.rangeNotSatisfiable(w, r, req, fmt.Sprintf("Content-Range %q: %v", cr, err))
		}
	}
	b, err := s.store.FinishUpload(r.Context(), req.Name, req.UploadID, final, req.Digest)
	if errors.Is(err, storage.ErrDigestMismatch) || errors.Is(err, storage.ErrCollected) {
		s.release(r.Context(), req.Name, req.UploadID) // the session is gone
	}
	if err != nil {
		return s.uploadFailure(w, r, req, err)
	}
	defer s.release(r.Context(), req.Name, req.UploadID)
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
	s.release(r.Context(), req.Name, req.UploadID)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadFailure maps storage errors of an existing session to OCI errors.
func (s *Server) uploadFailure(w http.ResponseWriter, r *http.Request, req oci.Request, err error) error {
	var (
		re   *storage.RangeError
		busy *storage.BusyError
	)
	switch {
	case errors.As(err, &busy):
		writeUploadHeaders(w, req.Name, metadata.Upload{ID: req.UploadID, Offset: busy.Offset})
		core.SetRetryAfter(w, busy.RetryAfter)
		return oci.CodeBlobUploadInvalid.Errorf("another request is writing to upload %q (or one that was cut off holds it for a few more seconds); retry after %v", req.UploadID, busy.RetryAfter).
			WithStatus(http.StatusConflict)
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
	return uploadError(w, err, req)
}

// uploadError maps errors common to every upload path.
func uploadError(w http.ResponseWriter, err error, req oci.Request) error {
	var bad *core.BadBodyError
	if qerr := ociQuotaError(w, err); qerr != err {
		return qerr
	}
	switch {
	case errors.Is(err, storage.ErrDigestMismatch), errors.Is(err, storage.ErrDigestInvalid):
		return oci.CodeDigestInvalid.Errorf("%v", err).WithDetail(map[string]string{"digest": req.Digest.String()})
	case errors.Is(err, storage.ErrSizeMismatch):
		return oci.CodeSizeInvalid.Errorf("%v", err)
	case errors.As(err, &bad):
		return oci.CodeBlobUploadInvalid.Errorf("%v", bad)
	case errors.Is(err, storage.ErrCollected):
		return oci.CodeBlobUploadInvalid.Errorf("blob %s was being garbage-collected while it was uploaded; push it again", req.Digest).
			WithStatus(http.StatusServiceUnavailable)
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
	h.Set(oci.Location, oci.Request{Route: oci.RouteUploadChunk, Method: http.MethodPatch, Name: repo, UploadID: u.ID}.Path())
	h.Set(oci.Range, oci.UploadRange(u.Offset))
	h.Set(oci.DockerUploadUUID, u.ID)
	h.Set("Content-Length", "0")
}
