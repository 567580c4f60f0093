package generic

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/regkit/regkit/spec/internal/routetab"
)

// Request is a parsed request of either API: which route, and its
// parameters. Parse produces it on the server; clients fill one in and ask
// for its URL. Fields that do not apply to the route are zero.
type Request struct {
	// Route is the route ID.
	Route RouteID
	// Method is the HTTP method.
	Method string
	// Owner is the user or organization owning the packages.
	Owner string
	// Type is the package type: TypeGeneric on the generic API's routes,
	// the <type> segment on the management routes ("" on RouteList).
	Type string
	// Name is the package name. On container packages it is the
	// repository below the owner, and may contain '/'.
	Name string
	// Version is the package version (a tag for containers).
	Version string
	// Filename is the file's name on the generic file and upload routes.
	Filename string
	// UploadID identifies a resumable upload session.
	UploadID string
	// Repo is the repository of RouteLink.
	Repo string
	// Q is ?q= of RouteList: a case-insensitive substring of the name.
	Q string
	// PackageType is ?type= of RouteList ("" lists every type).
	PackageType string
	// Page is ?page= (from 1) of the listing routes; 0 when absent.
	Page int
	// Limit is ?limit= of the listing routes; 0 when absent.
	Limit int
}

// Pagination defaults.
const (
	// DefaultLimit is the page size when ?limit= is absent or not positive.
	DefaultLimit = 30
	// MaxLimit caps ?limit=.
	MaxLimit = 50
)

// PageLimit returns the effective page (from 1) and limit of r.
func (r Request) PageLimit() (page, limit int) {
	page, limit = r.Page, r.Limit
	if page < 1 {
		page = 1
	}
	if limit < 1 {
		limit = DefaultLimit
	}
	return page, min(limit, MaxLimit)
}

// Format returns the error format of r's API: JSON under /api/v1, plain
// text under /api/packages.
func (r Request) Format() Format {
	if strings.HasPrefix(string(r.Route), "pkg-") {
		return FormatJSON
	}
	return FormatText
}

// FormatOf returns the error format of a path: JSON for paths under
// /api/v1, plain text otherwise.
func FormatOf(path string) Format {
	if strings.HasPrefix(path, "/api/v1/") || path == "/api/v1" {
		return FormatJSON
	}
	return FormatText
}

var containerNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// MaxRepoLength is the longest repository name of RouteLink.
const MaxRepoLength = 100

// ValidRepo returns nil when s is a valid repository name for a link,
// else a 400 *Error naming the field "repo".
func ValidRepo(s string) error {
	if p := problem(s, MaxRepoLength); p != "" {
		return invalid("repo", "%s %s", quote(s), p)
	}
	if !ownerRE.MatchString(s) || strings.Contains(s, "..") {
		return invalid("repo", "%s is invalid: it must match %s", quote(s), OwnerGrammar)
	}
	return nil
}

// validPackageName checks a package name of type typ: OCI repository
// syntax (with '/') for containers, NameGrammar otherwise.
func validPackageName(typ, s string) error {
	if typ != TypeContainer {
		return ValidName(s)
	}
	if p := problem(strings.ReplaceAll(s, "/", ""), MaxNameLength); p != "" && s != "" {
		return invalid("name", "%s %s", quote(s), p)
	}
	if len(s) > MaxNameLength || !containerNameRE.MatchString(s) {
		return invalid("name", "%s is not a valid container repository name", quote(s))
	}
	return nil
}

// Parse maps a method and URL (path and query; scheme and host ignored) to
// a Request. Its errors are *Error values a server can send as they are:
// 404 for a path that is no endpoint, 405 for a known path with a method it
// does not allow, 400 (naming the field) for an invalid owner, type, name,
// version, filename, repository, encoded '/' in a segment, bad
// percent-encoding or pagination parameter, and 404 for an upload ID that
// cannot exist. Unknown query parameters (token= among them) are ignored.
func Parse(method string, u *url.URL) (Request, error) {
	r := Request{Method: method}
	if u == nil {
		return r, Errorf(http.StatusNotFound, "no URL")
	}
	p := u.EscapedPath()
	if u.Opaque != "" {
		p = u.Opaque
	}
	var rest string
	mgmt := false
	switch {
	case strings.HasPrefix(p, ManagementPrefix):
		rest, mgmt = p[len(ManagementPrefix):], true
	case strings.HasPrefix(p, PackagesPrefix):
		rest = p[len(PackagesPrefix):]
	default:
		return r, Errorf(http.StatusNotFound, "path %s is not part of the package API", quote(p))
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		v, err := url.PathUnescape(s)
		if err != nil {
			return r, Errorf(http.StatusBadRequest, "path segment %s has an invalid percent-encoding", quote(s)).WithField("path")
		}
		segs[i] = v
	}
	var err error
	if mgmt {
		err = r.parseManagement(segs, u.RawQuery)
	} else {
		err = r.parseGeneric(segs)
	}
	return r, err
}

// allow returns the 405 error for a path that allows methods.
func allow(method string, methods ...string) *Error {
	return Errorf(http.StatusMethodNotAllowed, "method %s is not allowed here (allowed: %s)", quote(method), strings.Join(methods, ", ")).WithField("method")
}

// AllowedMethods returns the methods a 405 *Error from Parse lists, for an
// Allow header.
func AllowedMethods(e *Error) []string {
	if e == nil || e.Status != http.StatusMethodNotAllowed {
		return nil
	}
	_, list, ok := strings.Cut(e.Message, "(allowed: ")
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSuffix(list, ")"), ", ")
}

func noEncodedSlash(field string, s string) error {
	if strings.Contains(s, "/") {
		return invalid(field, "%s contains an encoded '/' (%%2F)", quote(s))
	}
	return nil
}

func (r *Request) parseGeneric(segs []string) error {
	n := len(segs)
	if n < 4 || segs[1] != TypeGeneric {
		return Errorf(http.StatusNotFound, "no such endpoint: %s%s", PackagesPrefix, quoteSegs(segs))
	}
	r.Type = TypeGeneric
	switch {
	case n == 4:
		if r.Method != mDelete {
			return allow(r.Method, mDelete)
		}
		r.Route = RouteVersionDelete
	case n == 5:
		switch r.Method {
		case mPut:
			r.Route = RouteUpload
		case mGet, mHead:
			r.Route = RouteDownload
		case mDelete:
			r.Route = RouteFileDelete
		default:
			return allow(r.Method, mPut, mGet, mHead, mDelete)
		}
	case n == 6 && segs[5] == "uploads":
		if r.Method != mPost {
			return allow(r.Method, mPost)
		}
		r.Route = RouteUploadStart
	case n == 7 && segs[5] == "uploads":
		switch r.Method {
		case mPatch:
			r.Route = RouteUploadChunk
		case mPut:
			r.Route = RouteUploadFinish
		case mGet, mHead:
			r.Route = RouteUploadStatus
		case mDelete:
			r.Route = RouteUploadCancel
		default:
			return allow(r.Method, mPatch, mPut, mGet, mHead, mDelete)
		}
	default:
		return Errorf(http.StatusNotFound, "no such endpoint: %s%s", PackagesPrefix, quoteSegs(segs))
	}
	for i, f := range []string{"owner", "", "name", "version", "filename"} {
		if f != "" && i < n {
			if err := noEncodedSlash(f, segs[i]); err != nil {
				return err
			}
		}
	}
	r.Owner, r.Name, r.Version = segs[0], segs[2], segs[3]
	if n >= 5 {
		r.Filename = segs[4]
	}
	if n == 7 {
		r.UploadID = segs[6]
	}
	return r.validate()
}

func quoteSegs(segs []string) string {
	return quote(strings.Join(segs, "/"))
}

func (r *Request) parseManagement(segs []string, rawQuery string) error {
	n := len(segs)
	notFound := func() error {
		return Errorf(http.StatusNotFound, "no such endpoint: %s%s", ManagementPrefix, quoteSegs(segs))
	}
	only := func(route RouteID, methods ...string) error {
		if !slices.Contains(methods, r.Method) {
			return allow(r.Method, methods...)
		}
		r.Route = route
		return nil
	}
	var err error
	switch {
	case n == 1:
		err = only(RouteList, mGet)
	case n == 3:
		err = only(RouteVersions, mGet)
	case n == 4 && segs[3] != "-":
		switch r.Method {
		case mGet:
			r.Route = RouteVersion
		case mDelete:
			r.Route = RouteDelete
		default:
			err = allow(r.Method, mGet, mDelete)
		}
	case n == 5 && segs[3] == "-" && segs[4] == "latest":
		err = only(RouteLatest, mGet)
	case n == 5 && segs[3] == "-" && segs[4] == "unlink":
		err = only(RouteUnlink, mPost)
	case n == 6 && segs[3] == "-" && segs[4] == "link":
		err = only(RouteLink, mPost)
	case n == 5 && segs[3] != "-" && segs[4] == "files":
		err = only(RouteFiles, mGet)
	default:
		return notFound()
	}
	if err != nil {
		return err
	}
	if e := noEncodedSlash("owner", segs[0]); e != nil {
		return e
	}
	r.Owner = segs[0]
	if n >= 3 {
		if e := noEncodedSlash("type", segs[1]); e != nil {
			return e
		}
		r.Type, r.Name = segs[1], segs[2]
	}
	switch r.Route {
	case RouteVersion, RouteDelete, RouteFiles:
		if e := noEncodedSlash("version", segs[3]); e != nil {
			return e
		}
		r.Version = segs[3]
	case RouteLink:
		if e := noEncodedSlash("repo", segs[5]); e != nil {
			return e
		}
		r.Repo = segs[5]
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		q, _ = url.ParseQuery(rawQuery) // malformed pairs are dropped
	}
	switch r.Route {
	case RouteList:
		r.Q, r.PackageType = q.Get("q"), q.Get("type")
		fallthrough
	case RouteVersions:
		if r.Page, err = parsePositive("page", q.Get("page")); err != nil {
			return err
		}
		if r.Limit, err = parsePositive("limit", q.Get("limit")); err != nil {
			return err
		}
	}
	return r.validate()
}

// MaxPage bounds ?page= and ?limit= values: the offset of a page,
// (page-1)*limit with limit at most MaxLimit, then fits an int32, so it
// cannot overflow on any platform. Larger values are a 400.
const MaxPage = math.MaxInt32 / MaxLimit

// parsePositive parses a pagination parameter: "" is 0 (absent), otherwise
// a decimal number; 0 and negative numbers count as absent.
func parsePositive(field, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxPage || strings.TrimLeft(s, "-0123456789") != "" || strings.HasPrefix(s, "+") {
		return 0, invalid(field, "%s is not a valid number", quote(s))
	}
	return max(n, 0), nil
}

// validate checks the fields of r's route.
func (r *Request) validate() error {
	if err := ValidOwner(r.Owner); err != nil {
		return err
	}
	switch r.Route {
	case RouteList:
		for f, v := range map[string]string{"q": r.Q, "type": r.PackageType} {
			if len(v) > 255 || !utf8.ValidString(v) {
				return invalid(f, "parameter %s is not valid UTF-8 of at most 255 bytes", quote(v))
			}
		}
		return nil
	}
	if r.Route.generic() {
		if r.Type != TypeGeneric {
			return invalid("type", "%s must be %q on the generic package API", quote(r.Type), TypeGeneric)
		}
	} else if err := ValidType(r.Type); err != nil {
		return err
	}
	if err := validPackageName(r.Type, r.Name); err != nil {
		return err
	}
	switch r.Route {
	case RouteUpload, RouteDownload, RouteFileDelete, RouteVersionDelete, RouteVersion, RouteDelete, RouteFiles,
		RouteUploadStart, RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		if err := ValidVersion(r.Version); err != nil {
			return err
		}
	}
	switch r.Route {
	case RouteUpload, RouteDownload, RouteFileDelete,
		RouteUploadStart, RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		if err := ValidFilename(r.Filename); err != nil {
			return err
		}
	}
	switch r.Route {
	case RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		if err := ValidUploadID(r.UploadID); err != nil {
			return err
		}
	case RouteLink:
		if err := ValidRepo(r.Repo); err != nil {
			return err
		}
	}
	return nil
}

// generic reports whether id is a route of the generic package API.
func (id RouteID) generic() bool { return strings.HasPrefix(string(id), "gen-") }

// Validate returns nil when r is a request Parse could have produced: a
// known route and one of its methods and valid fields for that route. Its
// errors are *Error values like Parse's.
func (r Request) Validate() error {
	rt, ok := Lookup(r.Route)
	if !ok {
		return Errorf(http.StatusNotFound, "unknown route %s", quote(string(r.Route)))
	}
	if !slices.Contains(rt.Methods, r.Method) {
		return allow(r.Method, rt.Methods...)
	}
	if r.Page < 0 || r.Limit < 0 || r.Page > MaxPage || r.Limit > MaxPage {
		return invalid("page", "page %d or limit %d is out of range", r.Page, r.Limit)
	}
	c := r
	return c.validate()
}

// Path returns the escaped path and query of r, e.g.
// "/api/packages/alice/generic/tool/1.0.0/tool.tar.gz". It writes only the
// fields of r's route and does not validate them (see Validate).
func (r Request) Path() string {
	esc := url.PathEscape
	gen := PackagesPrefix + esc(r.Owner) + "/" + TypeGeneric + "/" + esc(r.Name) + "/" + esc(r.Version)
	file := gen + "/" + esc(r.Filename)
	pkg := ManagementPrefix + esc(r.Owner) + "/" + esc(r.Type) + "/" + esc(r.Name)
	switch r.Route {
	case RouteUpload, RouteDownload, RouteFileDelete:
		return file
	case RouteVersionDelete:
		return gen
	case RouteUploadStart:
		return file + "/uploads"
	case RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		return file + "/uploads/" + esc(r.UploadID)
	case RouteList:
		return ManagementPrefix + esc(r.Owner) + query("type", r.PackageType, "q", r.Q, "page", itoa(r.Page), "limit", itoa(r.Limit))
	case RouteVersions:
		return pkg + query("page", itoa(r.Page), "limit", itoa(r.Limit))
	case RouteVersion, RouteDelete:
		return pkg + "/" + esc(r.Version)
	case RouteFiles:
		return pkg + "/" + esc(r.Version) + "/files"
	case RouteLatest:
		return pkg + "/-/latest"
	case RouteLink:
		return pkg + "/-/link/" + esc(r.Repo)
	case RouteUnlink:
		return pkg + "/-/unlink"
	}
	return ManagementPrefix + esc(r.Owner)
}

// URL returns base (e.g. "http://127.0.0.1:5000"; it may end in '/' and
// carry a path prefix) joined with r.Path().
func (r Request) URL(base string) string {
	return strings.TrimRight(base, "/") + r.Path()
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// query builds "?k=v&..." from pairs, skipping empty values.
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// Pattern returns the bunrouter pattern of a route's path: placeholders
// become named parameters (":owner", ...). Servers register their routes
// with it; the handler still parses the raw URL with Parse.
func (r Route) Pattern() string { return routetab.Pattern(r.Path) }
