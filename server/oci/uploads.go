package oci

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/spec/oci"
)

// uploadStart handles POST /v2/<name>/blobs/uploads/: a mount, a
// monolithic upload (?digest=), or the start of a session.
func (a *API) uploadStart(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	ctx := r.Context()
	reg := a.cfg.Registry
	if req.Route == oci.RouteBlobMount {
		desc, ok, err := reg.MountBlob(ctx, req.Name, req.From, req.Digest)
		if err != nil {
			return err
		}
		if ok {
			return blobCreated(w, req.Name, desc)
		}
		// Not mountable: fall through to a new session (202), as the
		// specification requires.
	}
	if req.Route == oci.RouteUploadMonolithic {
		desc, err := reg.PutBlob(ctx, req.Name, req.Digest, r.Body, r.ContentLength)
		if err != nil {
			return err
		}
		return blobCreated(w, req.Name, desc)
	}
	u, err := reg.StartUpload(ctx, req.Name, digest.Algorithm(req.DigestAlgorithm))
	if err != nil {
		return err
	}
	writeUploadHeaders(w, req.Name, u)
	if u.ChunkMinLength > 0 {
		w.Header().Set(oci.OCIChunkMinLength, strconv.FormatInt(u.ChunkMinLength, 10))
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// blobCreated answers 201 for a blob now in repo.
func blobCreated(w http.ResponseWriter, repo string, desc registry.Descriptor) error {
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteBlob, Method: http.MethodGet, Name: repo, Digest: desc.Digest}.Path())
	h.Set(oci.DockerContentDigest, desc.Digest.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// chunk returns the body of a PATCH or final PUT with where it starts
// (-1: at the end) and its length (-1: unknown). With Content-Range the
// body must hold exactly that range.
func (a *API) chunk(r *http.Request, req oci.Request) (io.Reader, int64, int64, error) {
	cr := r.Header.Get(oci.ContentRange)
	if cr == "" {
		return r.Body, -1, r.ContentLength, nil
	}
	start, end, err := oci.ParseContentRange(cr)
	if err != nil {
		return nil, 0, 0, a.rangeNotSatisfiable(r, req, fmt.Sprintf("malformed Content-Range %q: %v", cr, err))
	}
	body, err := core.Exactly(r.Body, start, end)
	if err != nil {
		return nil, 0, 0, a.rangeNotSatisfiable(r, req, fmt.Sprintf("Content-Range %q: %v", cr, err))
	}
	return body, start, end - start + 1, nil
}

// uploadChunk appends a PATCH body to a session. With Content-Range the
// start must equal the session's size, else 416 with the current Range.
func (a *API) uploadChunk(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	body, start, size, err := a.chunk(r, req)
	if err != nil {
		return err
	}
	u, err := a.cfg.Registry.WriteUpload(r.Context(), req.Name, req.UploadID, start, body, size)
	if err != nil {
		return err
	}
	writeUploadHeaders(w, req.Name, u)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// uploadFinish completes a session with PUT ?digest=, appending any final
// body, and commits the blob.
func (a *API) uploadFinish(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if req.Digest == "" {
		return oci.CodeDigestInvalid.Errorf("the digest query parameter is required to finish an upload")
	}
	var (
		final       io.Reader
		start, size int64 = -1, 0
	)
	if r.ContentLength != 0 {
		var err error
		if final, start, size, err = a.chunk(r, req); err != nil {
			return err
		}
	}
	desc, err := a.cfg.Registry.FinishUpload(r.Context(), req.Name, req.UploadID, start, final, size, req.Digest)
	if err != nil {
		return err
	}
	return blobCreated(w, req.Name, desc)
}

// uploadStatus answers GET on an upload URL: 204 with its Range.
func (a *API) uploadStatus(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	u, err := a.cfg.Registry.UploadStatus(r.Context(), req.Name, req.UploadID)
	if err != nil {
		return err
	}
	writeUploadHeaders(w, req.Name, u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadCancel answers DELETE on an upload URL.
func (a *API) uploadCancel(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if err := a.cfg.Registry.CancelUpload(r.Context(), req.Name, req.UploadID); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rangeNotSatisfiable is the 416 of a bad Content-Range, with the
// session's current Range.
func (a *API) rangeNotSatisfiable(r *http.Request, req oci.Request, msg string) error {
	u, err := a.cfg.Registry.UploadStatus(r.Context(), req.Name, req.UploadID)
	if err != nil {
		return err
	}
	return &registry.UploadError{Upload: u, Err: oci.CodeBlobUploadInvalid.Errorf("%s", msg).WithStatus(http.StatusRequestedRangeNotSatisfiable)}
}

// writeUploadHeaders sets Location, Range and Docker-Upload-UUID.
func writeUploadHeaders(w http.ResponseWriter, repo string, u registry.Upload) {
	h := w.Header()
	h.Set(oci.Location, oci.Request{Route: oci.RouteUploadChunk, Method: http.MethodPatch, Name: repo, UploadID: u.ID}.Path())
	h.Set(oci.Range, oci.UploadRange(u.Offset))
	h.Set(oci.DockerUploadUUID, u.ID)
	h.Set("Content-Length", "0")
}
