package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// blobGet serves GET and HEAD of a blob, with single-range support. The
// size comes from metadata and the bytes from one ranged backend read.
func (s *Server) blobGet(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	b, err := s.meta.RepoBlob(r.Context(), req.Name, req.Digest)
	if err != nil {
		return notFoundAs(err, oci.ErrBlobUnknown.WithDetail(map[string]string{"digest": req.Digest.String()}))
	}
	h := w.Header()
	h.Set(oci.DockerContentDigest, b.Digest.String())
	if ok, err := s.redirect(w, r, b); ok || err != nil {
		return err
	}
	h.Set("ETag", `"`+b.Digest.String()+`"`)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "max-age=31536000")

	offset, length, status := int64(0), b.Size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && ifRangeMatches(r, b) {
		br, err := oci.ParseRange(rh, b.Size)
		if err != nil {
			h.Set(oci.ContentRange, "bytes */"+strconv.FormatInt(b.Size, 10))
			return oci.CodeRangeInvalid.Errorf("range %q cannot be satisfied for a blob of %d bytes: %v", rh, b.Size, err).
				WithStatus(http.StatusRequestedRangeNotSatisfiable)
		}
		offset, length, status = br.Start, br.Length, http.StatusPartialContent
		h.Set(oci.ContentRange, br.ContentRange(b.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return nil
	}
	rc, err := s.store.ReadBlob(r.Context(), b, offset, length)
	if err != nil {
		return fmt.Errorf("read blob %s: %w", b.Digest, err)
	}
	defer rc.Close()
	w.WriteHeader(status)
	if _, err := io.Copy(w, rc); err != nil {
		// The client went away or the backend failed midway; the status is
		// sent, so the truncated body is all the client learns.
		s.opts.log.DebugContext(r.Context(), "blob body interrupted", "digest", b.Digest, "err", err)
	}
	return nil
}

// redirect answers a GET of b with 307 to a signed URL when redirects are
// on and the bucket can sign; false when the caller must stream.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, b metadata.Blob) (bool, error) {
	if s.opts.redirectTTL <= 0 || r.Method != http.MethodGet || b.Size == 0 {
		return false, nil
	}
	u, err := s.store.SignedURL(r.Context(), b, s.opts.redirectTTL)
	if errors.Is(err, storage.ErrNoSignedURL) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true, nil
}

// ifRangeMatches reports whether a Range header applies: with If-Range,
// only when it names the blob's ETag.
func ifRangeMatches(r *http.Request, b metadata.Blob) bool {
	ir := r.Header.Get("If-Range")
	return ir == "" || ir == `"`+b.Digest.String()+`"`
}

// blobDelete unlinks a blob from the repository; its bytes go later, by
// garbage collection.
func (s *Server) blobDelete(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if !s.opts.deleteEnabled {
		return oci.CodeUnsupported.Errorf("deletes are disabled on this registry")
	}
	if err := s.meta.UnlinkBlob(r.Context(), req.Name, req.Digest); err != nil {
		return notFoundAs(err, oci.ErrBlobUnknown.WithDetail(map[string]string{"digest": req.Digest.String()}))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
