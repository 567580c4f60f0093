package oci

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/regkit/regkit/registry"
	"github.com/regkit/regkit/spec/oci"
)

// blobGet serves GET and HEAD of a blob, with single-range support: the
// size from the registry's StatBlob, the bytes from one ranged ReadBlob.
func (a *API) blobGet(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	b, err := a.cfg.Registry.StatBlob(r.Context(), req.Name, req.Digest)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set(oci.DockerContentDigest, b.Digest.String())
	if ok, err := a.redirect(w, r, b); ok || err != nil {
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
	rc, err := a.cfg.Registry.ReadBlob(r.Context(), req.Name, b, offset, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.WriteHeader(status)
	if _, err := io.Copy(w, rc); err != nil {
		// The client went away or the backend failed midway; the status is
		// sent, so the truncated body is all the client learns.
		a.cfg.Log.DebugContext(r.Context(), "blob body interrupted", "digest", b.Digest, "err", err)
	}
	return nil
}

// redirect answers a GET of b with 307 to a signed URL when redirects are
// on and the registry can sign; false when the caller must stream.
func (a *API) redirect(w http.ResponseWriter, r *http.Request, b registry.Blob) (bool, error) {
	rd, ok := a.cfg.Registry.(registry.Redirector)
	if !ok || a.cfg.RedirectTTL <= 0 || r.Method != http.MethodGet || b.Size == 0 {
		return false, nil
	}
	u, err := rd.BlobURL(r.Context(), b, a.cfg.RedirectTTL)
	if errors.Is(err, registry.ErrNoRedirect) {
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
func ifRangeMatches(r *http.Request, b registry.Blob) bool {
	ir := r.Header.Get("If-Range")
	return ir == "" || ir == `"`+b.Digest.String()+`"`
}

// blobDelete unlinks a blob from the repository.
func (a *API) blobDelete(w http.ResponseWriter, r *http.Request, req oci.Request) error {
	if !a.cfg.DeleteEnabled {
		return deletesOff()
	}
	if err := a.cfg.Registry.DeleteBlob(r.Context(), req.Name, req.Digest); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
