package oci

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Request is a parsed OCI API request: which route, and its parameters.
// Parse produces it on the server; the client fills one in and asks for its
// URL. Fields that do not apply to the route are zero, and the zero value of
// each field means "absent", so a Request literal names only what it sends.
type Request struct {
	// Route is the route ID.
	Route RouteID
	// Method is the HTTP method.
	Method string
	// Name is the repository name ("" for base, catalog and token).
	Name string
	// Reference is, on manifest routes, the tag or digest as sent.
	Reference string
	// Digest is the path digest on blob and referrers routes; the ?digest=
	// of a monolithic upload and of an upload finish; the ?mount= of a
	// mount; on manifest routes, the reference when it is a digest.
	Digest digest.Digest
	// UploadID is, on upload session routes, the (unescaped, opaque) path
	// segment after /blobs/uploads/.
	UploadID string
	// From is the ?from= repository of a mount ("" when absent).
	From string
	// N is ?n= on the tags, catalog and referrers routes; nil when absent
	// (and on every other route). ?n=0 is a valid request for an empty
	// page, so absence is nil rather than 0; write N: new(10).
	N *int
	// Last is ?last= on tags and catalog routes.
	Last string
	// ArtifactType is ?artifactType= on the filtered referrers route.
	ArtifactType string
	// Tags are the repeated ?tag= parameters of a manifest PUT (nil when
	// none).
	Tags []string
	// DigestAlgorithm is ?digest-algorithm= on the POST upload routes
	// ("sha256" or "sha512"; "" when absent).
	DigestAlgorithm string
}

// pathKind is the shape of a path, before the method is considered.
type pathKind int

const (
	kindNone pathKind = iota
	kindBase
	kindCatalog
	kindToken
	kindManifest
	kindBlob
	kindUploads // /blobs/uploads/
	kindUpload  // /blobs/uploads/<id>
	kindTags
	kindReferrers
)

// methodRoutes maps, per path kind, each allowed method to its route (for
// kinds whose route also depends on the query, the first candidate).
var methodRoutes = map[pathKind][]struct {
	method string
	route  RouteID
}{
	kindBase:      {{mGet, RouteBase}},
	kindCatalog:   {{mGet, RouteCatalog}},
	kindToken:     {{mGet, RouteToken}},
	kindManifest:  {{mGet, RouteManifest}, {mHead, RouteManifest}, {mPut, RouteManifestPut}, {mDelete, RouteManifestDelete}},
	kindBlob:      {{mGet, RouteBlob}, {mHead, RouteBlob}, {mDelete, RouteBlobDelete}},
	kindUploads:   {{mPost, RouteUploadStart}},
	kindUpload:    {{mGet, RouteUploadStatus}, {mPatch, RouteUploadChunk}, {mPut, RouteUploadFinish}, {mDelete, RouteUploadCancel}},
	kindTags:      {{mGet, RouteTags}},
	kindReferrers: {{mGet, RouteReferrers}},
}

var kindPatterns = map[pathKind]string{
	kindBase:      "/v2/",
	kindCatalog:   "/v2/_catalog",
	kindToken:     "/v2/token",
	kindManifest:  "/v2/<name>/manifests/<reference>",
	kindBlob:      "/v2/<name>/blobs/<digest>",
	kindUploads:   "/v2/<name>/blobs/uploads/",
	kindUpload:    "/v2/<name>/blobs/uploads/<reference>",
	kindTags:      "/v2/<name>/tags/list",
	kindReferrers: "/v2/<name>/referrers/<digest>",
}

// AllowDetail is the Detail of the 405 error Parse returns for a known path
// requested with a method it does not allow; a server can copy Allowed into
// an Allow header.
type AllowDetail struct {
	// Method is the method that was sent.
	Method string `json:"method"`
	// Allowed lists the methods the path allows.
	Allowed []string `json:"allowed"`
}

// match classifies the unescaped path segments after "/v2/", matching from
// the end because repository names contain '/'. It returns the kind, the
// number of leading segments forming the repository name, and the last
// segment (reference, digest or upload ID).
func match(segs []string) (kind pathKind, nameLen int, last string) {
	n := len(segs)
	switch {
	case n == 1 && segs[0] == "":
		return kindBase, 0, ""
	case n == 1 && segs[0] == "_catalog":
		return kindCatalog, 0, ""
	case n == 1 && segs[0] == "token":
		return kindToken, 0, ""
	case n >= 2 && segs[n-2] == "manifests":
		return kindManifest, n - 2, segs[n-1]
	case n >= 3 && segs[n-3] == "blobs" && segs[n-2] == "uploads" && segs[n-1] == "":
		return kindUploads, n - 3, ""
	case n >= 3 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		return kindUpload, n - 3, segs[n-1]
	case n >= 2 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		// "/blobs/uploads" without the trailing slash: accepted as the
		// upload start (a digest "uploads" would be invalid anyway).
		return kindUploads, n - 2, ""
	case n >= 2 && segs[n-2] == "blobs":
		return kindBlob, n - 2, segs[n-1]
	case n >= 2 && segs[n-2] == "tags" && segs[n-1] == "list":
		return kindTags, n - 2, ""
	case n >= 2 && segs[n-2] == "referrers":
		return kindReferrers, n - 2, segs[n-1]
	}
	return kindNone, 0, ""
}

// Parse maps a method and URL (path and query; scheme and host are
// ignored) to a Request. Its errors are *Error values a server can send
// as they are:
//
//   - a path that is no endpoint: NOT_FOUND (404);
//   - a known path with a method it does not allow: UNSUPPORTED with status
//     405 and an AllowDetail;
//   - an invalid repository name, including one with a percent-encoded '/'
//     (never split) or an invalid ?from=: NAME_INVALID (400);
//   - a malformed digest in the path, ?digest= or ?mount=, a manifest
//     reference containing ':' that is not a valid digest, a missing
//     ?digest= on an upload finish, or an unsupported ?digest-algorithm=:
//     DIGEST_INVALID (400);
//   - a manifest GET, HEAD or DELETE whose reference is neither a tag nor a
//     digest: MANIFEST_UNKNOWN (404);
//   - a manifest PUT with an invalid tag as reference or in ?tag=:
//     MANIFEST_INVALID (400);
//   - an ?n= that is not a non-negative integer, or is above MaxN:
//     PAGINATION_NUMBER_INVALID (400). An empty ?n= counts as absent;
//   - on a route that reads its query (manifest PUT, upload start and
//     finish, tags, catalog, referrers, token), a query string that does
//     not parse — a ';' separator, a bad percent-escape, more than 10000
//     parameters — so that no parameter is silently lost: 400 with
//     MANIFEST_INVALID, BLOB_UPLOAD_INVALID, PAGINATION_NUMBER_INVALID or
//     (referrers, token) UNSUPPORTED.
//
// The path must start with "/v2/" ("/v2" is accepted as the base). Route
// selection by query: POST .../blobs/uploads/ is a mount (end-11) when
// ?mount= is present, else monolithic (end-4b) when ?digest= is present,
// else an upload start (end-4a); tags are end-8b when ?n= or a non-empty
// ?last= is present; referrers are end-12b when ?artifactType= is not
// empty. Unknown query parameters are ignored.
func Parse(method string, u *url.URL) (Request, error) {
	r := Request{Method: method}
	if u == nil {
		return r, CodeNotFound.Errorf("no URL")
	}
	p := u.EscapedPath()
	if u.Opaque != "" {
		p = u.Opaque
	}
	var rest string
	switch {
	case p == "/v2":
		rest = ""
	case strings.HasPrefix(p, "/v2/"):
		rest = p[len("/v2/"):]
	default:
		return r, CodeNotFound.Errorf("path %s is not part of the OCI Distribution API (it must start with /v2/)", quote(p))
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		v, err := url.PathUnescape(s)
		if err != nil {
			return r, CodeNotFound.Errorf("path %s has an invalid percent-encoding in %s", quote(p), quote(s))
		}
		segs[i] = v
	}
	kind, nameLen, last := match(segs)
	if kind == kindNone {
		return r, CodeNotFound.Errorf("path %s is not an endpoint of the OCI Distribution API", quote(p))
	}
	var allowed []string
	for _, mr := range methodRoutes[kind] {
		allowed = append(allowed, mr.method)
		if mr.method == method {
			r.Route = mr.route
		}
	}
	if r.Route == "" {
		return r, CodeUnsupported.Errorf("method %s is not allowed on %s (allowed: %s)",
			quote(method), kindPatterns[kind], strings.Join(allowed, ", ")).
			WithStatus(http.StatusMethodNotAllowed).
			WithDetail(AllowDetail{Method: method, Allowed: allowed})
	}
	if kind != kindBase && kind != kindCatalog && kind != kindToken {
		nameSegs := segs[:nameLen]
		for _, s := range nameSegs {
			if strings.Contains(s, "/") {
				return r, CodeNameInvalid.Errorf("repository name in path %s is invalid: it contains an encoded '/' (%%2F); send '/' unencoded", quote(p))
			}
		}
		r.Name = strings.Join(nameSegs, "/")
		if err := ValidRepository(r.Name); err != nil {
			return r, err
		}
	}
	q, qerr := url.ParseQuery(u.RawQuery)
	if qerr != nil {
		// ParseQuery drops what it cannot parse; a route that reads its
		// query must not act on what is left.
		if code, reads := queryCode(kind, method); reads {
			return r, code.Errorf("the query string does not parse (%v): separate parameters with '&', not ';', percent-encode '%%' as %%25, and send at most 10000 parameters; nothing was done", qerr).
				WithStatus(http.StatusBadRequest)
		}
	}

	var err error
	switch kind {
	case kindManifest:
		r.Reference = last
		r.Digest, err = parseReference(last, method)
		if err != nil {
			return r, err
		}
		if method == mPut {
			for _, t := range q["tag"] {
				if err := ValidTag(t); err != nil {
					return r, CodeManifestInvalid.Errorf("?tag= parameter: %s", err.(*Error).Message)
				}
				r.Tags = append(r.Tags, t)
			}
			if len(r.Tags) > 0 {
				if r.Digest == "" {
					return r, CodeManifestInvalid.Errorf("?tag= parameters are only allowed when pushing a manifest by digest")
				}
				r.Route = RouteManifestPutTags
			}
		}
	case kindBlob, kindReferrers:
		if r.Digest, err = ParseDigest(last); err != nil {
			return r, err
		}
		if kind == kindReferrers {
			if r.ArtifactType = q.Get("artifactType"); r.ArtifactType != "" {
				r.Route = RouteReferrersFiltered
			}
			// Pages after the first: the registry's own Link carries n and
			// last (the digest of the last referrer of the previous page).
			if r.N, err = parseN(q.Get("n")); err != nil {
				return r, err
			}
			r.Last = q.Get("last")
		}
	case kindUploads:
		if alg := q.Get("digest-algorithm"); alg != "" {
			if alg != "sha256" && alg != "sha512" {
				return r, CodeDigestInvalid.Errorf("digest-algorithm %s is not supported (use sha256 or sha512)", quote(alg))
			}
			r.DigestAlgorithm = alg
		}
		switch {
		case q.Has("mount"):
			r.Route = RouteBlobMount
			if r.Digest, err = ParseDigest(q.Get("mount")); err != nil {
				return r, err.(*Error).WithMessage("?mount= parameter: %s", err.(*Error).Message)
			}
			if r.From = q.Get("from"); r.From != "" {
				if err := ValidRepository(r.From); err != nil {
					return r, err.(*Error).WithMessage("?from= parameter: %s", err.(*Error).Message)
				}
			}
		case q.Has("digest"):
			r.Route = RouteUploadMonolithic
			if r.Digest, err = ParseDigest(q.Get("digest")); err != nil {
				return r, err.(*Error).WithMessage("?digest= parameter: %s", err.(*Error).Message)
			}
		case r.DigestAlgorithm != "":
			r.Route = RouteUploadAlgorithm
		}
	case kindUpload:
		r.UploadID = last
		if r.Route == RouteUploadFinish {
			if !q.Has("digest") {
				return r, CodeDigestInvalid.Errorf("the ?digest= parameter is required to finish an upload")
			}
			if r.Digest, err = ParseDigest(q.Get("digest")); err != nil {
				return r, err.(*Error).WithMessage("?digest= parameter: %s", err.(*Error).Message)
			}
		}
	case kindTags, kindCatalog:
		if r.N, err = parseN(q.Get("n")); err != nil {
			return r, err
		}
		r.Last = q.Get("last")
		if kind == kindTags && (r.N != nil || r.Last != "") {
			r.Route = RouteTagsPaged
		}
	}
	return r, nil
}

// queryCode reports whether the route of kind and method reads its query
// (so that a query that does not parse must be refused), and the code of
// that refusal.
func queryCode(kind pathKind, method string) (Code, bool) {
	switch {
	case kind == kindManifest && method == mPut:
		return CodeManifestInvalid, true
	case kind == kindUploads, kind == kindUpload && method == mPut:
		return CodeBlobUploadInvalid, true
	case kind == kindTags, kind == kindCatalog:
		return CodePaginationNumberInvalid, true
	case kind == kindReferrers, kind == kindToken:
		return CodeUnsupported, true
	}
	return "", false
}

// MaxN is the largest pagination parameter n that Parse accepts. It keeps
// n+1 (the look-ahead a store reads to know whether more follow) and n on
// 32-bit platforms within int range; a larger n is a 400
// PAGINATION_NUMBER_INVALID.
const MaxN = math.MaxInt32 - 1

// parseN parses the pagination parameter n; nil when absent.
func parseN(s string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' }) >= 0 {
		return nil, CodePaginationNumberInvalid.Errorf("pagination parameter n=%s is invalid: it must be a non-negative integer", quote(s))
	}
	if n > MaxN {
		return nil, CodePaginationNumberInvalid.Errorf("pagination parameter n=%s is too large: at most %d results can be asked for", quote(s), MaxN)
	}
	return new(int(n)), nil
}

// parseReference checks a manifest reference: a digest when it contains
// ':', else a tag.
func parseReference(ref, method string) (digest.Digest, error) {
	if strings.Contains(ref, ":") {
		d, err := ParseDigest(ref)
		if err != nil {
			return "", err.(*Error).WithMessage("manifest reference: %s", err.(*Error).Message)
		}
		return d, nil
	}
	if err := ValidTag(ref); err != nil {
		msg := err.(*Error).Message
		if method == mPut {
			return "", CodeManifestInvalid.Errorf("manifest reference: %s", msg)
		}
		return "", CodeManifestUnknown.Errorf("manifest reference %s is neither a valid tag nor a digest: %s", quote(ref), msg)
	}
	return "", nil
}

// Validate returns nil when r is a request Parse could have produced:
// a known route and one of its methods, a valid repository name, valid
// digests and tags, and query fields that agree with the route (RouteTags
// without n and last, RouteTagsPaged with one of them, and so on). Its
// errors are *Error values like Parse's.
func (r Request) Validate() error {
	rt, ok := Lookup(r.Route)
	if !ok {
		return CodeNotFound.Errorf("unknown route %s", quote(string(r.Route)))
	}
	if !slices.Contains(rt.Methods, r.Method) {
		return CodeUnsupported.Errorf("method %s is not allowed on route %s (allowed: %s)",
			quote(r.Method), r.Route, strings.Join(rt.Methods, ", ")).WithStatus(http.StatusMethodNotAllowed)
	}
	switch r.Route {
	case RouteBase, RouteCatalog, RouteToken:
	default:
		if err := ValidRepository(r.Name); err != nil {
			return err
		}
	}
	switch r.Route {
	case RouteManifest, RouteManifestPut, RouteManifestPutTags, RouteManifestDelete:
		ref := r.reference()
		d, err := parseReference(ref, r.Method)
		if err != nil {
			return err
		}
		if r.Digest != "" && d != r.Digest {
			return CodeDigestInvalid.Errorf("manifest reference %s and digest %s differ", quote(r.Reference), quote(string(r.Digest)))
		}
		for _, t := range r.Tags {
			if err := ValidTag(t); err != nil {
				return err
			}
		}
	case RouteBlob, RouteBlobDelete, RouteReferrers, RouteUploadMonolithic, RouteBlobMount, RouteUploadFinish:
		if err := ValidDigest(r.Digest); err != nil {
			return err
		}
	case RouteReferrersFiltered:
		if err := ValidDigest(r.Digest); err != nil {
			return err
		}
		if r.ArtifactType == "" {
			return CodeNotFound.Errorf("route %s needs an artifactType", r.Route)
		}
	case RouteTags:
		if r.N != nil || r.Last != "" {
			return CodeNotFound.Errorf("route %s takes no n or last; use %s", r.Route, RouteTagsPaged)
		}
	case RouteTagsPaged:
		if r.N == nil && r.Last == "" {
			return CodePaginationNumberInvalid.Errorf("route %s needs n >= 0 or a last", r.Route)
		}
	}
	switch r.Route {
	case RouteTagsPaged, RouteCatalog, RouteReferrers, RouteReferrersFiltered:
		if r.N != nil && (*r.N < 0 || *r.N > MaxN) {
			return CodePaginationNumberInvalid.Errorf("n=%d is invalid: it must be between 0 and %d", *r.N, MaxN)
		}
	}
	switch r.Route {
	case RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		if r.UploadID == "" {
			return CodeBlobUploadUnknown.Errorf("route %s needs an upload ID", r.Route)
		}
	case RouteBlobMount:
		if r.From != "" {
			if err := ValidRepository(r.From); err != nil {
				return err
			}
		}
	}
	switch r.Route {
	case RouteManifestPut:
		if len(r.Tags) > 0 {
			return CodeNotFound.Errorf("route %s takes no ?tag=; use %s", r.Route, RouteManifestPutTags)
		}
	case RouteManifestPutTags:
		if len(r.Tags) == 0 {
			return CodeNotFound.Errorf("route %s needs at least one ?tag=", r.Route)
		}
		if _, err := ParseDigest(r.reference()); err != nil {
			return CodeManifestInvalid.Errorf("?tag= parameters are only allowed when pushing a manifest by digest")
		}
	case RouteUploadStart:
		if r.DigestAlgorithm != "" {
			return CodeNotFound.Errorf("route %s takes no digest-algorithm; use %s", r.Route, RouteUploadAlgorithm)
		}
	case RouteUploadAlgorithm:
		if r.DigestAlgorithm == "" {
			return CodeDigestInvalid.Errorf("route %s needs a digest-algorithm", r.Route)
		}
	}
	switch r.Route {
	case RouteUploadAlgorithm, RouteUploadMonolithic, RouteBlobMount:
		if a := r.DigestAlgorithm; a != "" && a != "sha256" && a != "sha512" {
			return CodeDigestInvalid.Errorf("digest-algorithm %s is not supported (use sha256 or sha512)", quote(a))
		}
	}
	return nil
}

// reference returns Reference, or the digest when Reference is empty.
func (r Request) reference() string {
	if r.Reference == "" {
		return string(r.Digest)
	}
	return r.Reference
}

// escapeName escapes each '/'-separated component of a repository name.
func escapeName(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// queryEscape escapes a query value, leaving ':' and '/' (common in digests
// and repository names, and allowed in a query) readable.
func queryEscape(s string) string {
	return strings.NewReplacer("%3A", ":", "%2F", "/").Replace(url.QueryEscape(s))
}

// query builds a query string from key/value pairs in order, skipping
// pairs whose value is "" unless the key ends in "!" (always written).
type query []string

func (q query) String() string {
	var b strings.Builder
	for i := 0; i+1 < len(q); i += 2 {
		k, v := q[i], q[i+1]
		always := strings.HasSuffix(k, "!")
		k = strings.TrimSuffix(k, "!")
		if v == "" && !always {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(queryEscape(v))
	}
	return b.String()
}

// Path returns the escaped path and query of r, e.g.
// "/v2/a/b/blobs/uploads/?digest=sha256:...". It writes only the fields of
// r's route (see Request), and does not validate them (see Validate).
func (r Request) Path() string {
	name := "/v2/" + escapeName(r.Name)
	var n string
	if r.N != nil {
		n = strconv.Itoa(*r.N)
	}
	switch r.Route {
	case RouteBase:
		return "/v2/"
	case RouteCatalog:
		return "/v2/_catalog" + query{"n", n, "last", r.Last}.String()
	case RouteToken:
		return "/v2/token"
	case RouteBlob, RouteBlobDelete:
		return name + "/blobs/" + url.PathEscape(string(r.Digest))
	case RouteManifest, RouteManifestDelete:
		return name + "/manifests/" + url.PathEscape(r.reference())
	case RouteManifestPut, RouteManifestPutTags:
		q := query{}
		for _, t := range r.Tags {
			q = append(q, "tag!", t)
		}
		return name + "/manifests/" + url.PathEscape(r.reference()) + q.String()
	case RouteUploadStart, RouteUploadAlgorithm:
		return name + "/blobs/uploads/" + query{"digest-algorithm", r.DigestAlgorithm}.String()
	case RouteUploadMonolithic:
		return name + "/blobs/uploads/" + query{"digest!", string(r.Digest), "digest-algorithm", r.DigestAlgorithm}.String()
	case RouteBlobMount:
		return name + "/blobs/uploads/" + query{"mount!", string(r.Digest), "from", r.From, "digest-algorithm", r.DigestAlgorithm}.String()
	case RouteUploadChunk, RouteUploadStatus, RouteUploadCancel:
		return name + "/blobs/uploads/" + url.PathEscape(r.UploadID)
	case RouteUploadFinish:
		return name + "/blobs/uploads/" + url.PathEscape(r.UploadID) + query{"digest!", string(r.Digest)}.String()
	case RouteTags, RouteTagsPaged:
		return name + "/tags/list" + query{"n", n, "last", r.Last}.String()
	case RouteReferrers:
		return name + "/referrers/" + url.PathEscape(string(r.Digest)) + query{"n", n, "last", r.Last}.String()
	case RouteReferrersFiltered:
		return name + "/referrers/" + url.PathEscape(string(r.Digest)) + query{"artifactType", r.ArtifactType, "n", n, "last", r.Last}.String()
	}
	return name
}

// URL returns base (e.g. "http://127.0.0.1:5000"; it may end in '/' and
// carry a path prefix) joined with r.Path().
func (r Request) URL(base string) string {
	return strings.TrimRight(base, "/") + r.Path()
}
