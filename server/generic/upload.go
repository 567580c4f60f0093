package generic

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// Resumable uploads of the generic registry (a regkit extension), with the
// semantics of OCI blob upload sessions:
//
//	POST   .../{filename}/uploads        start → 202, Location of the session
//	PATCH  .../{filename}/uploads/{id}   append a chunk; Content-Range
//	                                     "<start>-<end>" must start at the
//	                                     current offset (else 416 with Range)
//	GET    .../{filename}/uploads/{id}   offset → 204 with Range, Upload-Offset
//	PUT    .../{filename}/uploads/{id}   finish (optionally with a last
//	                                     chunk) → 201, Location of the file
//	DELETE .../{filename}/uploads/{id}   cancel → 204
//
// The bytes go to a storage upload session (its state in the metadata
// store, so any replica continues any upload); sha256 and sha512 are
// hashed by the session, md5 and sha1 by these handlers, their states
// saved in the metadata.PackageUpload record after each chunk. A chunk cut
// short by a client disconnect leaves the session as it was: the client
// asks for the offset and sends the rest.

// sessionHashes restores the md5 and sha1 states of rec; nil when they are
// not usable (missing, or not at the storage session's offset).
func sessionHashes(rec metadata.PackageUpload, offset int64) []hash.Hash {
	if rec.Offset != offset || len(rec.MD5) == 0 || len(rec.SHA1) == 0 {
		return nil
	}
	m, h := md5.New(), sha1.New()
	if m.(encoding.BinaryUnmarshaler).UnmarshalBinary(rec.MD5) != nil || h.(encoding.BinaryUnmarshaler).UnmarshalBinary(rec.SHA1) != nil {
		return nil
	}
	return []hash.Hash{m, h}
}

// saveHashes stores the states of hs (nil: unknown) into rec.
func saveHashes(rec *metadata.PackageUpload, hs []hash.Hash) {
	rec.MD5, rec.SHA1 = nil, nil
	if hs == nil {
		return
	}
	m, err1 := hs[0].(encoding.BinaryMarshaler).MarshalBinary()
	h, err2 := hs[1].(encoding.BinaryMarshaler).MarshalBinary()
	if err1 == nil && err2 == nil {
		rec.MD5, rec.SHA1 = m, h
	}
}

// uploadLocation is the path of upload session id of req's file.
func uploadLocation(req generic.Request, id string) string {
	return generic.Request{Route: generic.RouteUploadStatus, Method: http.MethodGet, Owner: req.Owner, Type: generic.TypeGeneric,
		Name: req.Name, Version: req.Version, Filename: req.Filename, UploadID: id}.Path()
}

// sessionHeaders sets Location, Range and Upload-Offset.
func sessionHeaders(w http.ResponseWriter, req generic.Request, id string, offset int64) {
	h := w.Header()
	h.Set("Location", uploadLocation(req, id))
	h.Set("Range", generic.UploadRange(offset))
	h.Set(generic.UploadOffset, strconv.FormatInt(offset, 10))
	h.Set("Content-Length", "0")
}

// genericUploadStart starts a resumable upload: 202 with the session's
// Location.
func (s *API) genericUploadStart(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	if err := s.checkUploadOwner(ctx, req.Owner); err != nil {
		return err
	}
	size := int64(-1)
	if v := r.Header.Get("Upload-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return generic.Errorf(http.StatusBadRequest, "Upload-Length %q is not a size", v)
		}
		size = n
	}
	if err := s.checkSize(ctx, req, size); err != nil {
		return err
	}
	if err := s.precheck(ctx, req); err != nil {
		return err
	}
	scope := uploadScope(req)
	u, err := s.cfg.Store.StartUpload(ctx, scope, digest.SHA256, digest.SHA512)
	if err != nil {
		return fmt.Errorf("start upload: %w", err)
	}
	if err := s.openUpload(ctx, generic.Key(req.Owner), u.ID); err != nil {
		_ = s.cfg.Store.CancelUpload(context.WithoutCancel(ctx), scope, u.ID)
		return err
	}
	rec := metadata.PackageUpload{ID: u.ID, Ref: refOf(req), Filename: req.Filename,
		ContentType: uploadContentType(r.Header.Get("Content-Type")), Creator: creator(ctx)}
	saveHashes(&rec, []hash.Hash{md5.New(), sha1.New()})
	if err := s.cfg.Packages.CreatePackageUpload(ctx, rec); err != nil {
		_ = s.cfg.Store.CancelUpload(context.WithoutCancel(ctx), scope, u.ID)
		return fmt.Errorf("record upload: %w", err)
	}
	sessionHeaders(w, req, u.ID, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// session returns the package record of the request's upload session and
// the storage session's offset; 404 when either is missing or belongs to
// another file.
func (s *API) session(ctx context.Context, req generic.Request) (metadata.PackageUpload, int64, error) {
	unknown := generic.Errorf(http.StatusNotFound, "upload %q of file %q is unknown or expired", req.UploadID, req.Filename)
	rec, err := s.cfg.Packages.GetPackageUpload(ctx, req.UploadID)
	if errors.Is(err, metadata.ErrNotFound) {
		return rec, 0, unknown
	}
	if err != nil {
		return rec, 0, fmt.Errorf("get upload: %w", err)
	}
	want := refOf(req)
	same := func(a, b string) bool { return generic.Key(a) == generic.Key(b) }
	if !same(rec.Ref.Owner, want.Owner) || !same(rec.Ref.Name, want.Name) || !same(rec.Ref.Version, want.Version) || !same(rec.Filename, req.Filename) {
		return rec, 0, unknown
	}
	u, err := s.cfg.Store.UploadStatus(ctx, uploadScope(req), req.UploadID)
	if errors.Is(err, storage.ErrUploadUnknown) {
		_ = s.cfg.Packages.DeletePackageUpload(ctx, req.UploadID)
		return rec, 0, unknown
	}
	if err != nil {
		return rec, 0, fmt.Errorf("upload status: %w", err)
	}
	return rec, u.Offset, nil
}

// appendChunk appends the request body to the session at start (< 0: at
// the current offset), hashing md5 and sha1 when their states are usable,
// and saves the new states. It returns the new offset and the hashes (nil
// when unknown).
func (s *API) appendChunk(w http.ResponseWriter, r *http.Request, req generic.Request, rec metadata.PackageUpload, offset, start int64, body io.Reader) (int64, []hash.Hash, error) {
	ctx := r.Context()
	hs := sessionHashes(rec, offset)
	length := r.ContentLength
	if start >= 0 {
		length = -1 // body is core.Exactly() of its Content-Range: reserved as it streams
	}
	body, err := s.quotaBody(ctx, generic.Key(req.Owner), req.UploadID, body, offset, length)
	if err != nil {
		return 0, nil, err
	}
	t := &hashTee{r: body, hs: hs, n: offset, limit: s.fileLimit(ctx)}
	u, err := s.cfg.Store.AppendUpload(ctx, uploadScope(req), req.UploadID, start, t)
	if err != nil {
		var (
			re   *storage.RangeError
			busy *storage.BusyError
		)
		if errors.As(err, &re) {
			sessionHeaders(w, req, req.UploadID, re.Offset)
		}
		if errors.As(err, &busy) {
			busyHeaders(w, req, busy)
		}
		return 0, nil, s.appendErr(t, err)
	}
	next := rec
	next.Offset = u.Offset
	saveHashes(&next, hs)
	if err := s.cfg.Packages.UpdatePackageUpload(ctx, next, rec.Offset); err != nil {
		// The checksum states are stale now; finishing recomputes them.
		s.cfg.Log.WarnContext(ctx, "save upload hash states", "upload", req.UploadID, "err", err)
		hs = nil
	}
	return u.Offset, hs, nil
}

// genericUploadChunk appends a chunk: 202 with the new Range.
func (s *API) genericUploadChunk(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	rec, offset, err := s.session(r.Context(), req)
	if err != nil {
		return err
	}
	start := int64(-1)
	body := io.Reader(r.Body)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		a, b, err := oci.ParseContentRange(cr)
		if err == nil {
			body, err = core.Exactly(r.Body, a, b)
		}
		if err != nil {
			sessionHeaders(w, req, req.UploadID, offset)
			return generic.Errorf(http.StatusRequestedRangeNotSatisfiable, "malformed Content-Range %q (want <start>-<end>): %v", cr, err)
		}
		start = a
	}
	n, _, err := s.appendChunk(w, r, req, rec, offset, start, body)
	if err != nil {
		return err
	}
	sessionHeaders(w, req, req.UploadID, n)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// genericUploadFinish finishes a session, with an optional last chunk:
// 201 with the file's Location.
func (s *API) genericUploadFinish(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	rec, offset, err := s.session(ctx, req)
	if err != nil {
		return err
	}
	hs := sessionHashes(rec, offset)
	if r.ContentLength != 0 {
		if offset, hs, err = s.appendChunk(w, r, req, rec, offset, -1, r.Body); err != nil {
			return err
		}
	}
	var md5hex, sha1hex string
	if hs != nil {
		md5hex, sha1hex = hex.EncodeToString(hs[0].Sum(nil)), hex.EncodeToString(hs[1].Sum(nil))
	}
	_ = offset
	_, err = s.commitFile(ctx, req, req.UploadID, md5hex, sha1hex, rec.ContentType, rec.Creator)
	if busy := (*storage.BusyError)(nil); errors.As(err, &busy) {
		// A writer (perhaps one cut off) still holds the session: it
		// stays as it is, and the same PUT succeeds after Retry-After.
		busyHeaders(w, req, busy)
		return errUploadBusy()
	}
	if retryable(err) {
		return err // 503 with Retry-After; the session stays
	}
	s.release(ctx, generic.Key(req.Owner), req.UploadID) // committed, or cancelled by commitFile
	if derr := s.cfg.Packages.DeletePackageUpload(context.WithoutCancel(ctx), req.UploadID); derr != nil && !errors.Is(derr, metadata.ErrNotFound) {
		s.cfg.Log.WarnContext(ctx, "delete upload record", "upload", req.UploadID, "err", derr)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", fileLocation(req))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// genericUploadStatus answers 204 with the session's Range.
func (s *API) genericUploadStatus(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	_, offset, err := s.session(r.Context(), req)
	if err != nil {
		return err
	}
	sessionHeaders(w, req, req.UploadID, offset)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// genericUploadCancel deletes a session and its bytes: 204.
func (s *API) genericUploadCancel(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	if _, _, err := s.session(ctx, req); err != nil {
		return err
	}
	if err := s.cfg.Store.CancelUpload(ctx, uploadScope(req), req.UploadID); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
		return fmt.Errorf("cancel upload: %w", err)
	}
	if err := s.cfg.Packages.DeletePackageUpload(ctx, req.UploadID); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return fmt.Errorf("delete upload record: %w", err)
	}
	s.release(ctx, generic.Key(req.Owner), req.UploadID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
