package generic

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/core"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/pkgversion"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// errTooLarge is the read error of a body beyond the file size limit.
var errTooLarge = errors.New("file too large")

// hashTee feeds what it reads to hashes, counts it, enforces the size
// limit and remembers the body's own read error (a client that went away
// or sent less than its Content-Length).
type hashTee struct {
	r     io.Reader
	hs    []hash.Hash
	n     int64
	limit int64 // 0: none; counted from the start of the file
	rerr  error
}

// Read implements io.Reader.
func (t *hashTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.n += int64(n)
		if t.limit > 0 && t.n > t.limit {
			t.rerr = errTooLarge
			return 0, errTooLarge
		}
		for _, h := range t.hs {
			h.Write(p[:n])
		}
	}
	if err != nil && err != io.EOF {
		t.rerr = err
	}
	return n, err
}

// uploadScope is the storage session scope ("repository") of uploads into
// a file of a version.
func uploadScope(req generic.Request) string {
	return "generic/" + generic.Key(req.Owner) + "/" + generic.Key(req.Name) + "/" + generic.Key(req.Version) + "/" + generic.Key(req.Filename)
}

// fileLimit is the largest package file ctx's request may store (0:
// unlimited): none for site admins (see exempt).
func (s *API) fileLimit(ctx context.Context) int64 {
	if s.exempt(ctx) {
		return 0
	}
	return s.cfg.MaxFileSize
}

// tooLarge is the 403 of a file over the size limit.
func (s *API) tooLarge(size int64) error {
	what := "the file"
	if size > 0 {
		what = fmt.Sprintf("the file (%d bytes)", size)
	}
	return generic.Errorf(http.StatusForbidden, "%s exceeds the maximum file size of %d bytes on this registry", what, s.cfg.MaxFileSize)
}

// checkSize refuses a declared size (Content-Length, < 0 unknown) over the
// limit or over the owner's quota, before any byte is read (and again
// with the real size before the file is recorded). The namespace of a
// generic package is its owner: its quota covers the owner's OCI
// repositories and package files together (metadata.Usage), each file
// counting its full size even when its content is stored already.
func (s *API) checkSize(ctx context.Context, req generic.Request, size int64) error {
	if s.exempt(ctx) {
		return nil
	}
	if max := s.cfg.MaxFileSize; max > 0 && size > max {
		return s.tooLarge(size)
	}
	if s.cfg.Quota != nil {
		if err := s.cfg.Quota.Check(ctx, generic.Key(req.Owner), size); err != nil {
			return err
		}
	}
	return nil
}

// precheck refuses an upload that would fail at the end anyway: a file of
// that name exists in the version, or a non-SemVer version is new to a
// SemVer package.
func (s *API) precheck(ctx context.Context, req generic.Request) error {
	p := s.cfg.Packages
	ref := refOf(req)
	_, err := p.GetPackageFile(ctx, ref, req.Filename)
	switch {
	case err == nil:
		return duplicate(req)
	case !errors.Is(err, metadata.ErrNotFound):
		return fmt.Errorf("packages: %w", err)
	}
	if pkgversion.IsSemVer(req.Version) {
		return nil
	}
	pkg, err := p.GetPackage(ctx, ref)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("packages: %w", err)
	case !pkg.SemVer:
		return nil
	}
	if _, err := p.GetPackageVersion(ctx, ref); err == nil {
		return nil
	}
	return notSemVer(req)
}

func duplicate(req generic.Request) error {
	return generic.Errorf(http.StatusConflict, "file %q already exists in version %q of package %q", req.Filename, req.Version, req.Name)
}

func notSemVer(req generic.Request) error {
	return generic.Errorf(http.StatusConflict, "package %q is semver-compatible (its first version was SemVer 2.0.0); version %q is not SemVer", req.Name, req.Version)
}

// uploadContentType returns the type a client gave for the file: "" for
// none, for curl's default application/x-www-form-urlencoded, and for a
// value that does not parse.
func uploadContentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/") {
		return ""
	}
	return mime.FormatMediaType(mt, params)
}

// fileBody returns the file of a PUT body: the body itself, or the first
// file part of a multipart/form-data body (form fields before it are
// skipped), with the file's content type.
func fileBody(r *http.Request) (io.Reader, string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return r.Body, uploadContentType(r.Header.Get("Content-Type")), nil
	}
	if params["boundary"] == "" {
		return nil, "", generic.Errorf(http.StatusBadRequest, "multipart/form-data body without a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, "", generic.Errorf(http.StatusBadRequest, "the multipart/form-data body has no file part")
		}
		if err != nil {
			return nil, "", generic.Errorf(http.StatusBadRequest, "malformed multipart/form-data body: %v", err)
		}
		if part.FileName() != "" {
			return part, uploadContentType(part.Header.Get("Content-Type")), nil
		}
		// A form field: skip it, within bounds.
		if n, _ := io.Copy(io.Discard, io.LimitReader(part, 1<<20+1)); n > 1<<20 {
			return nil, "", generic.Errorf(http.StatusBadRequest, "form field %q before the file part is too large", part.FormName())
		}
	}
}

// appendErr maps the error of an append to the session of a file.
func (s *API) appendErr(t *hashTee, err error) error {
	var re *storage.RangeError
	switch {
	case errors.Is(t.rerr, errTooLarge):
		return s.tooLarge(0)
	case errors.As(t.rerr, new(*quota.ExceededError)), errors.As(t.rerr, new(*quota.TooManyUploadsError)):
		return t.rerr
	case errors.As(t.rerr, new(*core.BadBodyError)):
		return generic.Errorf(http.StatusBadRequest, "%v; the chunk was not stored", t.rerr)
	case core.GenericBodyError(t.rerr) != nil:
		return core.GenericBodyError(t.rerr)
	case t.rerr != nil:
		return generic.Errorf(http.StatusBadRequest, "the request body ended early (%v); nothing was stored", t.rerr)
	case errors.As(err, &re):
		return rangeMismatch(re.Offset)
	case errors.As(err, new(*storage.BusyError)):
		return errUploadBusy()
	case errors.Is(err, storage.ErrUploadUnknown):
		return generic.Errorf(http.StatusNotFound, "upload unknown or expired")
	}
	return err
}

// errUploadBusy is the 409 of a session another request holds.
func errUploadBusy() error {
	return generic.Errorf(http.StatusConflict, "another request is writing to this upload (or one that was cut off holds it for a few more seconds); retry after the Retry-After delay")
}

// busyHeaders tells the client of a busy session where the session is
// and when to retry.
func busyHeaders(w http.ResponseWriter, req generic.Request, busy *storage.BusyError) {
	sessionHeaders(w, req, req.UploadID, busy.Offset)
	core.SetRetryAfter(w, busy.RetryAfter)
}

// retryable reports whether err leaves an upload session as it was and
// may pass: another writer holds the session, or the metadata store or
// the bucket cannot be reached right now. Such a failure must not cancel
// the session, so that the client's retry can finish it.
func retryable(err error) bool {
	return errors.As(err, new(*storage.BusyError)) || errors.Is(err, metadata.ErrUnavailable) || storage.IsUnavailable(err)
}

// rangeMismatch is the 416 of a chunk that does not start at offset.
func rangeMismatch(offset int64) error {
	return generic.Errorf(http.StatusRequestedRangeNotSatisfiable,
		"the chunk must start at the upload's current offset %d (send Content-Range: %d-<end>)", offset, offset)
}

// commitFile finishes storage session id into a blob and records the
// file: sha256 and sha512 come from the session's saved hash states, md5
// and sha1 from the caller. On failure the session is cancelled, so
// nothing is left behind.
func (s *API) commitFile(ctx context.Context, req generic.Request, id, md5hex, sha1hex, contentType, who string) (metadata.PackageFile, error) {
	scope := uploadScope(req)
	cancel := func() {
		c, stop := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stop()
		if err := s.cfg.Store.CancelUpload(c, scope, id); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
			s.cfg.Log.WarnContext(ctx, "cancel generic upload", "upload", id, "err", err)
		}
	}
	sums, size, err := s.cfg.Store.UploadDigests(ctx, scope, id)
	if retryable(err) {
		return metadata.PackageFile{}, err // the session stays: the client retries
	}
	if err != nil {
		cancel()
		return metadata.PackageFile{}, fmt.Errorf("upload digests: %w", err)
	}
	if max := s.fileLimit(ctx); max > 0 && size > max {
		cancel()
		return metadata.PackageFile{}, s.tooLarge(size)
	}
	d256, d512 := sums[digest.SHA256], sums[digest.SHA512]
	blob, err := s.cfg.Store.FinishUpload(ctx, scope, id, nil, d256)
	if errors.Is(err, storage.ErrCollected) {
		return metadata.PackageFile{}, collected(d256)
	}
	if retryable(err) {
		return metadata.PackageFile{}, fmt.Errorf("finish upload: %w", err)
	}
	if err != nil {
		cancel()
		return metadata.PackageFile{}, fmt.Errorf("finish upload: %w", err)
	}
	if md5hex == "" || sha1hex == "" {
		// The md5/sha1 states were lost (a crash between an append and
		// its record): compute them from the committed bytes, once.
		if md5hex, sha1hex, err = s.rehash(ctx, blob); err != nil {
			return metadata.PackageFile{}, err
		}
	}
	f := metadata.PackageFile{
		Name: req.Filename, Size: blob.Size, ContentType: contentType,
		MD5: md5hex, SHA1: sha1hex, SHA256: d256.Encoded(), SHA512: d512.Encoded(), Creator: who,
	}
	v, err := s.cfg.Packages.PutPackageFile(ctx, refOf(req), f, metadata.PutFileOptions{SemVer: pkgversion.IsSemVer(req.Version), Creator: who})
	switch {
	case errors.Is(err, metadata.ErrExists):
		return metadata.PackageFile{}, duplicate(req)
	case errors.Is(err, metadata.ErrConflict):
		return metadata.PackageFile{}, notSemVer(req)
	case err != nil:
		return metadata.PackageFile{}, fmt.Errorf("record file: %w", err)
	}
	// Garbage collection sees this touch (see metadata.GC): when it fails,
	// a collection that started before the file was recorded is deleting
	// the bytes, and the file is taken back.
	if _, err := s.cfg.Meta.TouchBlob(ctx, blob.Digest); errors.Is(err, metadata.ErrNotFound) || errors.Is(err, metadata.ErrConflict) {
		if _, _, derr := s.cfg.Packages.DeletePackageFile(context.WithoutCancel(ctx), refOf(req), req.Filename); derr != nil {
			s.cfg.Log.ErrorContext(ctx, "take back a package file whose blob is being collected", "file", req.Filename, "err", derr)
		}
		return metadata.PackageFile{}, collected(blob.Digest)
	} else if err != nil {
		return metadata.PackageFile{}, fmt.Errorf("touch blob: %w", err)
	}
	for _, vf := range v.Files {
		if generic.Key(vf.Name) == generic.Key(req.Filename) {
			return vf, nil
		}
	}
	return f, nil
}

// collected is the error of an upload whose bytes garbage collection
// deleted while they were being stored: 503, try again.
func collected(d digest.Digest) error {
	return generic.Errorf(http.StatusServiceUnavailable,
		"the file's content %s was being garbage-collected while it was uploaded; upload it again", d)
}

// rehash computes the md5 and sha1 of a committed blob (the recovery
// path when a resumable upload's hash states were lost).
func (s *API) rehash(ctx context.Context, b metadata.Blob) (string, string, error) {
	rc, err := s.cfg.Store.ReadBlob(ctx, b, 0, -1)
	if err != nil {
		return "", "", fmt.Errorf("rehash %s: %w", b.Digest, err)
	}
	defer rc.Close()
	m, h := md5.New(), sha1.New()
	if _, err := io.Copy(io.MultiWriter(m, h), rc); err != nil {
		return "", "", fmt.Errorf("rehash %s: %w", b.Digest, err)
	}
	return hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(h.Sum(nil)), nil
}

// receive streams body into a new storage session and returns the
// session ID and the md5 and sha1 of the bytes. On failure nothing is
// left behind.
func (s *API) receive(ctx context.Context, req generic.Request, body io.Reader) (id, md5hex, sha1hex string, err error) {
	scope := uploadScope(req)
	u, err := s.cfg.Store.StartUpload(ctx, scope, digest.SHA256, digest.SHA512)
	if err != nil {
		return "", "", "", fmt.Errorf("start upload: %w", err)
	}
	fail := func(err error) (string, string, string, error) {
		c, stop := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stop()
		if cerr := s.cfg.Store.CancelUpload(c, scope, u.ID); cerr != nil {
			s.cfg.Log.WarnContext(ctx, "cancel generic upload", "upload", u.ID, "err", cerr)
		}
		s.release(ctx, generic.Key(req.Owner), u.ID)
		return "", "", "", err
	}
	owner := generic.Key(req.Owner)
	if err := s.openUpload(ctx, owner, u.ID); err != nil {
		return fail(err)
	}
	if body, err = s.quotaBody(ctx, owner, u.ID, body, 0, -1); err != nil {
		return fail(err)
	}
	m, h := md5.New(), sha1.New()
	t := &hashTee{r: body, hs: []hash.Hash{m, h}, limit: s.fileLimit(ctx)}
	if _, err := s.cfg.Store.AppendUpload(ctx, scope, u.ID, 0, t); err != nil {
		return fail(s.appendErr(t, err))
	}
	return u.ID, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(h.Sum(nil)), nil
}

// fileLocation is the path of a file of req's version.
func fileLocation(req generic.Request) string {
	return generic.Request{Route: generic.RouteDownload, Method: http.MethodGet, Owner: req.Owner, Type: generic.TypeGeneric,
		Name: req.Name, Version: req.Version, Filename: req.Filename}.Path()
}

// genericUpload handles PUT of a file: the body (or the first file part
// of a multipart/form-data body) streams into the blob store, hashed with
// md5, sha1, sha256 and sha512 in the same pass, then the file is
// recorded. 201 with Location; 409 for an existing file or a non-SemVer
// version of a SemVer package; 403 over the size limit or quota.
func (s *API) genericUpload(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	if err := s.checkUploadOwner(ctx, req.Owner); err != nil {
		return err
	}
	if err := s.checkSize(ctx, req, r.ContentLength); err != nil {
		return err
	}
	if err := s.precheck(ctx, req); err != nil {
		return err
	}
	body, ct, err := fileBody(r)
	if err != nil {
		return err
	}
	id, md5hex, sha1hex, err := s.receive(ctx, req, body)
	if err != nil {
		return err
	}
	defer s.release(ctx, generic.Key(req.Owner), id) // after the file counts in the usage
	if _, err := s.commitFile(ctx, req, id, md5hex, sha1hex, ct, creator(ctx)); err != nil {
		return err
	}
	w.Header().Set("Location", fileLocation(req))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// checkUploadOwner refuses uploads to an owner that has no account, with
// auth (owners are implicit without it).
func (s *API) checkUploadOwner(ctx context.Context, owner string) error {
	if s.cfg.Auth == nil {
		return nil
	}
	if _, err := s.cfg.Auth.Identity().GetAccount(ctx, owner); err != nil {
		return notFoundErr(err, "owner %q does not exist", owner)
	}
	return nil
}

// etagOf is the ETag of a file: its quoted sha256.
func etagOf(f metadata.PackageFile) string { return `"` + f.SHA256 + `"` }

// etagMatch reports whether an If-None-Match or If-Range value lists etag.
func etagMatch(h, etag string) bool {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// genericDownload serves GET and HEAD of a file: single ranges (206),
// If-Range, If-None-Match (304), download counting (GET only), the bytes
// from one ranged read of the blob (sendfile on file storage). A Range
// with several ranges is answered with the whole file (200).
func (s *API) genericDownload(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	ctx := r.Context()
	ref := refOf(req)
	f, err := s.cfg.Packages.GetPackageFile(ctx, ref, req.Filename)
	if err != nil {
		return notFoundErr(err, "package file %q of %s/%s not found", req.Filename, req.Name, req.Version)
	}
	b, err := s.cfg.Meta.GetBlob(ctx, f.Digest())
	if err != nil {
		return notFoundErr(err, "the bytes of file %q are gone", req.Filename)
	}
	etag := etagOf(f)
	h := w.Header()
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum, _ := hex.DecodeString(f.SHA256)
	b64 := base64.StdEncoding.EncodeToString(sum)
	h.Set("ETag", etag)
	h.Set("Last-Modified", f.Created.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(generic.Digest, "SHA-256="+b64)
	h.Set("Repr-Digest", "sha-256=:"+b64+":")
	h.Set("Cache-Control", "private, max-age=300")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", ct)
	h.Set(generic.ContentDisposition, generic.Disposition(f.Name))
	offset, length, status := int64(0), f.Size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && !strings.Contains(rh, ",") && ifRange(r, f, etag) {
		br, err := oci.ParseRange(rh, f.Size)
		if err != nil {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(f.Size, 10))
			return generic.Errorf(http.StatusRequestedRangeNotSatisfiable, "range %q cannot be satisfied for a file of %d bytes", rh, f.Size)
		}
		offset, length, status = br.Start, br.Length, http.StatusPartialContent
		h.Set("Content-Range", br.ContentRange(f.Size))
	}
	if status == http.StatusOK {
		h.Set(generic.ContentDigest, "sha-256=:"+b64+":")
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	if err := s.cfg.Packages.CountPackageDownload(ctx, ref); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		s.cfg.Log.WarnContext(ctx, "count download", "err", err)
	}
	if length == 0 {
		w.WriteHeader(status)
		return nil
	}
	if s.cfg.RedirectTTL > 0 {
		saved := h.Clone()
		h.Del("Content-Length")
		h.Del("Content-Range")
		if ok, err := s.redirect(w, r, b); ok || err != nil {
			return err
		}
		for k, v := range saved {
			h[k] = v
		}
	}
	rc, err := s.cfg.Store.ReadBlob(ctx, b, offset, length)
	if err != nil {
		return fmt.Errorf("read file %s: %w", f.Digest(), err)
	}
	defer rc.Close()
	w.WriteHeader(status)
	if _, err := io.Copy(w, rc); err != nil {
		s.cfg.Log.DebugContext(ctx, "file body interrupted", "digest", f.Digest(), "err", err)
	}
	return nil
}

// ifRange reports whether a Range applies: without If-Range, or when
// If-Range names the file's ETag or a date not before its upload.
func ifRange(r *http.Request, f metadata.PackageFile, etag string) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && !f.Created.Truncate(time.Second).After(t)
}

// genericFileDelete deletes a file (204); the version goes with its last
// file. The bytes stay until garbage collection.
func (s *API) genericFileDelete(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	if _, _, err := s.cfg.Packages.DeletePackageFile(r.Context(), refOf(req), req.Filename); err != nil {
		return notFoundErr(err, "package file %q of %s/%s not found", req.Filename, req.Name, req.Version)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// genericVersionDelete deletes a version with its files (204); a second
// delete is 404.
func (s *API) genericVersionDelete(w http.ResponseWriter, r *http.Request, req generic.Request) error {
	if _, err := s.cfg.Packages.DeletePackageVersion(r.Context(), refOf(req)); err != nil {
		return notFoundErr(err, "version %q of package %q not found", req.Version, req.Name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// redirect answers a GET of b with 307 to a signed URL when redirects are
// on and the bucket can sign; false when the caller must stream.
func (s *API) redirect(w http.ResponseWriter, r *http.Request, b metadata.Blob) (bool, error) {
	if s.cfg.RedirectTTL <= 0 || r.Method != http.MethodGet || b.Size == 0 {
		return false, nil
	}
	u, err := s.cfg.Store.SignedURL(r.Context(), b, s.cfg.RedirectTTL)
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
