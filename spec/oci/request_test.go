package oci

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const (
	d256 = digest.Digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	d512 = digest.Digest("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		want   Request
	}{
		{"base", "GET", "/v2/", Request{Route: RouteBase, Method: "GET"}},
		{"base without slash", "GET", "http://r.example/v2", Request{Route: RouteBase, Method: "GET"}},
		{"catalog", "GET", "/v2/_catalog", Request{Route: RouteCatalog, Method: "GET"}},
		{"catalog paged", "GET", "/v2/_catalog?n=10&last=a/b", Request{Route: RouteCatalog, Method: "GET", N: new(10), Last: "a/b"}},
		{"token", "GET", "/v2/token?service=x&scope=repository:a:pull", Request{Route: RouteToken, Method: "GET"}},
		{"blob get", "GET", "/v2/a/b/blobs/" + string(d256), Request{Route: RouteBlob, Method: "GET", Name: "a/b", Digest: d256}},
		{"blob head sha512", "HEAD", "/v2/a/blobs/" + string(d512), Request{Route: RouteBlob, Method: "HEAD", Name: "a", Digest: d512}},
		{"blob delete", "DELETE", "/v2/a/blobs/" + string(d256), Request{Route: RouteBlobDelete, Method: "DELETE", Name: "a", Digest: d256}},
		{"manifest by tag", "GET", "/v2/library/ubuntu/manifests/latest", Request{Route: RouteManifest, Method: "GET", Name: "library/ubuntu", Reference: "latest"}},
		{"manifest head by digest", "HEAD", "/v2/x/manifests/" + string(d512), Request{Route: RouteManifest, Method: "HEAD", Name: "x", Reference: string(d512), Digest: d512}},
		{"manifest put", "PUT", "/v2/x/manifests/v1.0", Request{Route: RouteManifestPut, Method: "PUT", Name: "x", Reference: "v1.0"}},
		{"manifest put tags", "PUT", "/v2/x/manifests/" + string(d256) + "?tag=a&tag=B_2", Request{Route: RouteManifestPutTags, Method: "PUT", Name: "x", Reference: string(d256), Digest: d256, Tags: []string{"a", "B_2"}}},
		{"manifest delete", "DELETE", "/v2/x/manifests/latest", Request{Route: RouteManifestDelete, Method: "DELETE", Name: "x", Reference: "latest"}},
		{"upload start", "POST", "/v2/x/blobs/uploads/", Request{Route: RouteUploadStart, Method: "POST", Name: "x"}},
		{"upload start no slash", "POST", "/v2/x/blobs/uploads", Request{Route: RouteUploadStart, Method: "POST", Name: "x"}},
		{"upload start sha512", "POST", "/v2/x/blobs/uploads/?digest-algorithm=sha512", Request{Route: RouteUploadAlgorithm, Method: "POST", Name: "x", DigestAlgorithm: "sha512"}},
		{"referrers page", "GET", "/v2/x/referrers/" + string(d256) + "?artifactType=a%2Fb&n=2&last=" + string(d256), Request{Route: RouteReferrersFiltered, Method: "GET", Name: "x", Digest: d256, ArtifactType: "a/b", N: new(2), Last: string(d256)}},
		{"upload monolithic", "POST", "/v2/x/blobs/uploads/?digest=" + string(d256), Request{Route: RouteUploadMonolithic, Method: "POST", Name: "x", Digest: d256}},
		{"upload monolithic escaped colon", "POST", "/v2/x/blobs/uploads/?digest=" + strings.Replace(string(d256), ":", "%3A", 1), Request{Route: RouteUploadMonolithic, Method: "POST", Name: "x", Digest: d256}},
		{"mount", "POST", "/v2/x/blobs/uploads/?mount=" + string(d256) + "&from=other/repo", Request{Route: RouteBlobMount, Method: "POST", Name: "x", Digest: d256, From: "other/repo"}},
		{"mount without from", "POST", "/v2/x/blobs/uploads/?mount=" + string(d256), Request{Route: RouteBlobMount, Method: "POST", Name: "x", Digest: d256}},
		{"mount wins over digest", "POST", "/v2/x/blobs/uploads/?digest=bad&mount=" + string(d256), Request{Route: RouteBlobMount, Method: "POST", Name: "x", Digest: d256}},
		{"upload chunk", "PATCH", "/v2/x/blobs/uploads/abc-123", Request{Route: RouteUploadChunk, Method: "PATCH", Name: "x", UploadID: "abc-123"}},
		{"upload chunk escaped id", "PATCH", "/v2/x/blobs/uploads/a%2Fb%3Fc", Request{Route: RouteUploadChunk, Method: "PATCH", Name: "x", UploadID: "a/b?c"}},
		{"upload finish", "PUT", "/v2/x/blobs/uploads/abc?digest=" + string(d512), Request{Route: RouteUploadFinish, Method: "PUT", Name: "x", UploadID: "abc", Digest: d512}},
		{"upload status", "GET", "/v2/x/blobs/uploads/abc", Request{Route: RouteUploadStatus, Method: "GET", Name: "x", UploadID: "abc"}},
		{"upload cancel", "DELETE", "/v2/x/blobs/uploads/abc", Request{Route: RouteUploadCancel, Method: "DELETE", Name: "x", UploadID: "abc"}},
		{"tags", "GET", "/v2/x/tags/list", Request{Route: RouteTags, Method: "GET", Name: "x"}},
		{"tags empty n", "GET", "/v2/x/tags/list?n=", Request{Route: RouteTags, Method: "GET", Name: "x"}},
		{"tags paged", "GET", "/v2/x/tags/list?n=0", Request{Route: RouteTagsPaged, Method: "GET", Name: "x", N: new(0)}},
		{"tags last", "GET", "/v2/x/tags/list?last=v1&n=2", Request{Route: RouteTagsPaged, Method: "GET", Name: "x", N: new(2), Last: "v1"}},
		{"referrers", "GET", "/v2/x/referrers/" + string(d256), Request{Route: RouteReferrers, Method: "GET", Name: "x", Digest: d256}},
		{"referrers filtered", "GET", "/v2/x/referrers/" + string(d256) + "?artifactType=application%2Fvnd.example%2Bjson", Request{Route: RouteReferrersFiltered, Method: "GET", Name: "x", Digest: d256, ArtifactType: "application/vnd.example+json"}},
		{"name ending in keyword", "GET", "/v2/a/blobs/manifests/blobs/" + string(d256), Request{Route: RouteBlob, Method: "GET", Name: "a/blobs/manifests", Digest: d256}},
		{"name with keywords", "GET", "/v2/tags/list/manifests/uploads", Request{Route: RouteManifest, Method: "GET", Name: "tags/list", Reference: "uploads"}},
		{"name token", "GET", "/v2/token/tags/list", Request{Route: RouteTags, Method: "GET", Name: "token"}},
		{"unknown query ignored", "GET", "/v2/x/blobs/" + string(d256) + "?foo=bar;baz", Request{Route: RouteBlob, Method: "GET", Name: "x", Digest: d256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(tt.method, u)
			if err != nil {
				t.Fatalf("Parse(%s %s): %v", tt.method, tt.url, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%s %s)\n got %+v\nwant %+v", tt.method, tt.url, got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		url     string
		code    Code
		status  int
		message string // substring
	}{
		{"not v2", "GET", "/v1/x", CodeNotFound, 404, "must start with /v2/"},
		{"root", "GET", "/", CodeNotFound, 404, ""},
		{"unknown endpoint", "GET", "/v2/x/foo/bar", CodeNotFound, 404, "not an endpoint"},
		{"single segment", "GET", "/v2/x", CodeNotFound, 404, ""},
		{"tags without list", "GET", "/v2/x/tags/", CodeNotFound, 404, ""},
		{"method on base", "POST", "/v2/", CodeUnsupported, 405, "allowed: GET"},
		{"method on blob", "PUT", "/v2/x/blobs/" + string(d256), CodeUnsupported, 405, "allowed: GET, HEAD, DELETE"},
		{"method on manifest", "PATCH", "/v2/x/manifests/latest", CodeUnsupported, 405, ""},
		{"method on uploads", "GET", "/v2/x/blobs/uploads/", CodeUnsupported, 405, "allowed: POST"},
		{"method on upload", "POST", "/v2/x/blobs/uploads/abc", CodeUnsupported, 405, ""},
		{"method on tags", "DELETE", "/v2/x/tags/list", CodeUnsupported, 405, ""},
		{"method on referrers", "HEAD", "/v2/x/referrers/" + string(d256), CodeUnsupported, 405, ""},
		{"lowercase method", "get", "/v2/", CodeUnsupported, 405, ""},
		{"uppercase name", "GET", "/v2/Foo/tags/list", CodeNameInvalid, 400, `repository name "Foo" is invalid: it contains the uppercase letter 'F'`},
		{"empty name", "GET", "/v2//tags/list", CodeNameInvalid, 400, "empty"},
		{"no name", "GET", "/v2/manifests/latest", CodeNameInvalid, 400, "empty"},
		{"double slash", "GET", "/v2/a//b/tags/list", CodeNameInvalid, 400, "component 2 is empty"},
		{"trailing slash in name", "GET", "/v2/a//manifests/x", CodeNameInvalid, 400, ""},
		{"encoded slash", "GET", "/v2/a%2Fb/tags/list", CodeNameInvalid, 400, "%2F"},
		{"encoded slash in long name", "GET", "/v2/x/a%2fb/manifests/latest", CodeNameInvalid, 400, "%2F"},
		{"double separator", "GET", "/v2/a..b/tags/list", CodeNameInvalid, 400, "component"},
		{"name too long", "GET", "/v2/" + strings.Repeat("a", 256) + "/tags/list", CodeNameInvalid, 400, "256 characters"},
		{"name with percent", "GET", "/v2/a%25b/tags/list", CodeNameInvalid, 400, "'%'"},
		{"bad blob digest", "GET", "/v2/x/blobs/sha256:abc", CodeDigestInvalid, 400, "64 hex digits"},
		{"uppercase blob digest", "HEAD", "/v2/x/blobs/" + strings.ToUpper(string(d256)), CodeDigestInvalid, 400, "not supported"},
		{"uppercase hex", "HEAD", "/v2/x/blobs/sha256:" + strings.ToUpper(d256.Encoded()), CodeDigestInvalid, 400, "lowercase"},
		{"sha384 digest", "GET", "/v2/x/blobs/sha384:" + strings.Repeat("a", 96), CodeDigestInvalid, 400, "not supported"},
		{"blob delete bad digest", "DELETE", "/v2/x/blobs/latest", CodeDigestInvalid, 400, "no algorithm"},
		{"referrers bad digest", "GET", "/v2/x/referrers/latest", CodeDigestInvalid, 400, ""},
		{"monolithic bad digest", "POST", "/v2/x/blobs/uploads/?digest=sha256:xyz", CodeDigestInvalid, 400, "?digest= parameter"},
		{"monolithic empty digest", "POST", "/v2/x/blobs/uploads/?digest=", CodeDigestInvalid, 400, "empty"},
		{"mount bad digest", "POST", "/v2/x/blobs/uploads/?mount=foo&from=y", CodeDigestInvalid, 400, "?mount= parameter"},
		{"mount bad from", "POST", "/v2/x/blobs/uploads/?mount=" + string(d256) + "&from=Y", CodeNameInvalid, 400, "?from= parameter"},
		{"bad digest algorithm", "POST", "/v2/x/blobs/uploads/?digest-algorithm=md5", CodeDigestInvalid, 400, "md5"},
		{"finish without digest", "PUT", "/v2/x/blobs/uploads/abc", CodeDigestInvalid, 400, "required"},
		{"finish bad digest", "PUT", "/v2/x/blobs/uploads/abc?digest=sha512:00", CodeDigestInvalid, 400, ""},
		{"manifest get bad tag", "GET", "/v2/x/manifests/-bad", CodeManifestUnknown, 404, "neither a valid tag nor a digest"},
		{"manifest head long tag", "HEAD", "/v2/x/manifests/" + strings.Repeat("a", 129), CodeManifestUnknown, 404, "129 characters"},
		{"manifest delete bad tag", "DELETE", "/v2/x/manifests/a+b", CodeManifestUnknown, 404, ""},
		{"manifest get empty ref", "GET", "/v2/x/manifests/", CodeManifestUnknown, 404, ""},
		{"manifest get bad digest", "GET", "/v2/x/manifests/sha256:abc", CodeDigestInvalid, 400, ""},
		{"manifest put bad tag", "PUT", "/v2/x/manifests/.bad", CodeManifestInvalid, 400, TagGrammar},
		{"manifest put bad digest", "PUT", "/v2/x/manifests/sha256:zz", CodeDigestInvalid, 400, ""},
		{"manifest put bad ?tag", "PUT", "/v2/x/manifests/" + string(d256) + "?tag=ok&tag=-no", CodeManifestInvalid, 400, "?tag= parameter"},
		{"manifest put empty ?tag", "PUT", "/v2/x/manifests/" + string(d256) + "?tag=", CodeManifestInvalid, 400, "empty"},
		{"bad n", "GET", "/v2/x/tags/list?n=abc", CodePaginationNumberInvalid, 400, `n="abc"`},
		{"negative n", "GET", "/v2/x/tags/list?n=-1", CodePaginationNumberInvalid, 400, ""},
		{"plus n", "GET", "/v2/x/tags/list?n=%2B1", CodePaginationNumberInvalid, 400, ""},
		{"huge n", "GET", "/v2/_catalog?n=99999999999999999999999", CodePaginationNumberInvalid, 400, ""},
		{"?tag= with ';'", "PUT", "/v2/x/manifests/" + string(d256) + "?tag=a;tag=b", CodeManifestInvalid, 400, "does not parse"},
		{"?tag= with a bad escape", "PUT", "/v2/x/manifests/" + string(d256) + "?tag=a&tag=%zz", CodeManifestInvalid, 400, "does not parse"},
		{"?tag= beyond 10000 parameters", "PUT", "/v2/x/manifests/" + string(d256) + "?" + strings.Repeat("tag=a&", 10_001), CodeManifestInvalid, 400, "does not parse"},
		{"manifest put by tag, bad query", "PUT", "/v2/x/manifests/v1?x=%", CodeManifestInvalid, 400, "does not parse"},
		{"mount with ';'", "POST", "/v2/x/blobs/uploads/?mount=" + string(d256) + ";from=y", CodeBlobUploadInvalid, 400, "does not parse"},
		{"finish with a bad escape", "PUT", "/v2/x/blobs/uploads/abc?digest=" + string(d256) + "&x=%g0", CodeBlobUploadInvalid, 400, "does not parse"},
		{"tags with ';'", "GET", "/v2/x/tags/list?n=1;last=a", CodePaginationNumberInvalid, 400, "does not parse"},
		{"catalog with a bad escape", "GET", "/v2/_catalog?last=%", CodePaginationNumberInvalid, 400, "does not parse"},
		{"referrers with ';'", "GET", "/v2/x/referrers/" + string(d256) + "?artifactType=a;b", CodeUnsupported, 400, "does not parse"},
		{"token with too many parameters", "GET", "/v2/token?" + strings.Repeat("scope=a&", 10_001), CodeUnsupported, 400, "does not parse"},
		{"n beyond MaxN", "GET", "/v2/x/tags/list?n=9223372036854775807", CodePaginationNumberInvalid, 400, "too large"},
		{"catalog n beyond MaxN", "GET", "/v2/_catalog?n=2147483647", CodePaginationNumberInvalid, 400, "too large"},
		{"referrers n beyond MaxN", "GET", "/v2/x/referrers/" + string(d256) + "?n=9223372036854775807", CodePaginationNumberInvalid, 400, "too large"},
		{"NUL segment", "GET", "/v2/%00", CodeNotFound, 404, ""},
		{"NUL in name", "GET", "/v2/a%00b/tags/list", CodeNameInvalid, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(tt.method, u)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%s %s) = %v, want an *Error", tt.method, tt.url, err)
			}
			if e.Code != tt.code || e.HTTPStatus() != tt.status {
				t.Errorf("Parse(%s %s) = %s (%d), want %s (%d)", tt.method, tt.url, e, e.HTTPStatus(), tt.code, tt.status)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not contain %q", e.Message, tt.message)
			}
			if !errors.Is(err, &Error{Code: tt.code}) {
				t.Errorf("errors.Is(err, %s) is false", tt.code)
			}
		})
	}
}

// TestParseIgnoresQueryOfRoutesThatReadNone: routes that read no query
// parameter keep ignoring a query that does not parse.
func TestParseIgnoresQueryOfRoutesThatReadNone(t *testing.T) {
	for _, c := range []struct{ method, url string }{
		{"GET", "/v2/?a;b"},
		{"GET", "/v2/x/manifests/latest?%zz"},
		{"HEAD", "/v2/x/blobs/" + string(d256) + "?a;b"},
		{"PATCH", "/v2/x/blobs/uploads/abc?%"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(c.method, u); err != nil {
			t.Errorf("Parse(%s %s) = %v", c.method, c.url, err)
		}
	}
}

func TestParseMethodNotAllowedDetail(t *testing.T) {
	_, err := Parse(http.MethodPost, &url.URL{Path: "/v2/x/manifests/latest"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	d, ok := e.Detail.(AllowDetail)
	want := AllowDetail{Method: "POST", Allowed: []string{"GET", "HEAD", "PUT", "DELETE"}}
	if !ok || !reflect.DeepEqual(d, want) {
		t.Fatalf("detail = %#v, want %#v", e.Detail, want)
	}
}

func TestParseNilAndOpaque(t *testing.T) {
	if _, err := Parse("GET", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("nil URL: %v", err)
	}
	if _, err := Parse("GET", &url.URL{Scheme: "x", Opaque: "v2"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("opaque URL: %v", err)
	}
	// A hand-built URL whose Path holds a literal '%'.
	if _, err := Parse("GET", &url.URL{Path: "/v2/a%2Fb/tags/list"}); !errors.Is(err, ErrNameInvalid) {
		t.Errorf("literal %%: %v", err)
	}
	// A hand-built URL with an invalid RawPath is re-encoded from Path.
	r, err := Parse("GET", &url.URL{Path: "/v2/a/b/tags/list", RawPath: "/v2/%zz"})
	if err != nil || r.Name != "a/b" {
		t.Errorf("invalid RawPath: %+v, %v", r, err)
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"base", Request{Route: RouteBase}, "/v2/"},
		{"catalog", Request{Route: RouteCatalog}, "/v2/_catalog"},
		{"catalog paged", Request{Route: RouteCatalog, N: new(5), Last: "a/b"}, "/v2/_catalog?n=5&last=a/b"},
		{"token", Request{Route: RouteToken}, "/v2/token"},
		{"blob", Request{Route: RouteBlob, Name: "a/b", Digest: d256}, "/v2/a/b/blobs/" + string(d256)},
		{"manifest by digest field", Request{Route: RouteManifest, Name: "a", Digest: d256}, "/v2/a/manifests/" + string(d256)},
		{"manifest put tags", Request{Route: RouteManifestPutTags, Name: "a", Reference: string(d256), Tags: []string{"x", "y"}}, "/v2/a/manifests/" + string(d256) + "?tag=x&tag=y"},
		{"upload start", Request{Route: RouteUploadStart, Name: "a"}, "/v2/a/blobs/uploads/"},
		{"monolithic", Request{Route: RouteUploadMonolithic, Name: "a/b", Digest: d256}, "/v2/a/b/blobs/uploads/?digest=" + string(d256)},
		{"mount", Request{Route: RouteBlobMount, Name: "a", Digest: d256, From: "b/c"}, "/v2/a/blobs/uploads/?mount=" + string(d256) + "&from=b/c"},
		{"chunk", Request{Route: RouteUploadChunk, Name: "a", UploadID: "x y/z"}, "/v2/a/blobs/uploads/x%20y%2Fz"},
		{"finish", Request{Route: RouteUploadFinish, Name: "a", UploadID: "u", Digest: d512}, "/v2/a/blobs/uploads/u?digest=" + string(d512)},
		{"tags", Request{Route: RouteTags, Name: "a"}, "/v2/a/tags/list"},
		{"tags paged", Request{Route: RouteTagsPaged, Name: "a", N: new(0), Last: "v&1"}, "/v2/a/tags/list?n=0&last=v%261"},
		{"referrers filtered", Request{Route: RouteReferrersFiltered, Name: "a", Digest: d256, ArtifactType: "application/x+json"}, "/v2/a/referrers/" + string(d256) + "?artifactType=application/x%2Bjson"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Path(); got != tt.want {
				t.Errorf("Path() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	r := Request{Route: RouteTags, Name: "a/b"}
	for base, want := range map[string]string{
		"http://127.0.0.1:5000":       "http://127.0.0.1:5000/v2/a/b/tags/list",
		"http://127.0.0.1:5000/":      "http://127.0.0.1:5000/v2/a/b/tags/list",
		"https://r.example/prefix/":   "https://r.example/prefix/v2/a/b/tags/list",
		"https://r.example/prefix":    "https://r.example/prefix/v2/a/b/tags/list",
		"":                            "/v2/a/b/tags/list",
		"https://r.example/prefix///": "https://r.example/prefix/v2/a/b/tags/list",
	} {
		if got := r.URL(base); got != want {
			t.Errorf("URL(%q) = %q, want %q", base, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Request{
		{Route: "nope", Method: "GET"},
		{Route: RouteBlob, Method: "PUT", Name: "a", Digest: d256},
		{Route: RouteBlob, Method: "GET", Name: "A", Digest: d256},
		{Route: RouteBlob, Method: "GET", Name: "a", Digest: "sha256:00"},
		{Route: RouteManifest, Method: "GET", Name: "a"},
		{Route: RouteManifest, Method: "GET", Name: "a", Reference: "latest", Digest: d256},
		{Route: RouteManifestPut, Method: "PUT", Name: "a", Reference: "x", Tags: []string{""}},
		{Route: RouteTags, Method: "GET", Name: "a", N: new(3)},
		{Route: RouteTagsPaged, Method: "GET", Name: "a"},
		{Route: RouteCatalog, Method: "GET", N: new(-2)},
		{Route: RouteReferrers, Method: "GET", Name: "a", Digest: d256, N: new(-1)},
		{Route: RouteTagsPaged, Method: "GET", Name: "a", N: new(MaxN + 1)},
		{Route: RouteReferrersFiltered, Method: "GET", Name: "a", Digest: d256},
		{Route: RouteUploadChunk, Method: "PATCH", Name: "a"},
		{Route: RouteBlobMount, Method: "POST", Name: "a", Digest: d256, From: "B"},
		{Route: RouteUploadStart, Method: "POST", Name: "a", DigestAlgorithm: "md5"},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", r)
		}
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// validates and survives a round trip through URL.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ m, u string }{
		{"GET", "/v2/"},
		{"GET", "/v2/a/b/tags/list?n=1&last=x"},
		{"PUT", "/v2/a/manifests/" + string(d256) + "?tag=a&tag=b"},
		{"POST", "/v2/a/blobs/uploads/?mount=" + string(d256) + "&from=c"},
		{"PATCH", "/v2/a/blobs/uploads/%2F%2F"},
		{"GET", "/v2/a%2Fb/referrers/" + string(d512) + "?artifactType=x"},
		{"DELETE", "/v2/a/blobs/uploads/..;?digest=%zz"},
		{"GET", "/v2/_catalog?n=0"},
		{"GET", "/v2/%00"},
		{"PATCH", "/v2/a/blobs/uploads/%00"},
		{"GET", "/v2/a/manifests/%00x"},
		{"GET", "/v2/a/tags/list?n=9223372036854775807"},
	} {
		f.Add(s.m, s.u)
	}
	f.Fuzz(func(t *testing.T, method, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		r, err := Parse(method, u)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.HTTPStatus() < 400 || e.HTTPStatus() > 499 || e.Message == "" {
				t.Fatalf("Parse(%q, %q): bad error %#v", method, raw, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse(%q, %q) = %+v, which does not validate: %v", method, raw, r, err)
		}
		u2, err := url.Parse(r.URL("http://h"))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Parse(method, u2)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", raw, u2, r2, err, r)
		}
	})
}

// normalize returns the Request Parse yields for r's URL: fields outside
// r's route cleared, the manifest digest derived from
// the reference.
func normalize(r Request) Request {
	out := Request{Route: r.Route, Method: r.Method}
	switch r.Route {
	case RouteBase, RouteCatalog, RouteToken:
	default:
		out.Name = r.Name
	}
	switch r.Route {
	case RouteManifest, RouteManifestPut, RouteManifestDelete:
		out.Reference = r.reference()
		if strings.Contains(out.Reference, ":") {
			out.Digest = digest.Digest(out.Reference)
		}
		if r.Route == RouteManifestPut && len(r.Tags) > 0 {
			out.Tags = r.Tags
		}
	case RouteBlob, RouteBlobDelete, RouteReferrers, RouteUploadMonolithic:
		out.Digest = r.Digest
	case RouteReferrersFiltered:
		out.Digest, out.ArtifactType = r.Digest, r.ArtifactType
	case RouteBlobMount:
		out.Digest, out.From = r.Digest, r.From
	case RouteUploadFinish:
		out.Digest = r.Digest
	case RouteTagsPaged, RouteCatalog:
		out.N, out.Last = r.N, r.Last
	}
	switch r.Route {
	case RouteReferrers, RouteReferrersFiltered:
		out.N, out.Last = r.N, r.Last
	case RouteUploadChunk, RouteUploadFinish, RouteUploadStatus, RouteUploadCancel:
		out.UploadID = r.UploadID
	case RouteUploadStart, RouteUploadMonolithic, RouteBlobMount:
		out.DigestAlgorithm = r.DigestAlgorithm
	}
	return out
}

var fuzzBases = []string{"http://127.0.0.1:5000", "https://registry.example/", "http://[::1]:5000//"}

// FuzzParseURL checks Parse(r.Method, url.Parse(r.URL(base))) == r for
// every valid Request r (up to the fields r's route does not use).
func FuzzParseURL(f *testing.F) {
	for i := range Routes() {
		f.Add(uint8(i), uint8(0), "a/b", "latest", string(d256), "upload-1", "", int16(-1), "", "", "", "", "")
	}
	f.Add(uint8(1), uint8(1), "x", "", string(d512), "", "", int16(0), "", "", "", "", "")
	f.Add(uint8(6), uint8(0), "x", string(d512), string(d512), "", "", int16(0), "", "", "t1", "t2", "")
	f.Add(uint8(9), uint8(0), "x", "", "", "", "", int16(0), "a b&c=d", "", "", "", "")
	f.Add(uint8(12), uint8(0), "x", "", string(d256), "", "o/p", int16(0), "", "", "", "", "sha512")
	f.Add(uint8(5), uint8(0), "x", "", string(d256), "a/b?c#d%", "", int16(0), "", "", "", "", "")
	f.Add(uint8(14), uint8(0), "x", "", string(d256), "", "", int16(0), "", "application/vnd.x+json; q=1", "", "", "")
	f.Fuzz(func(t *testing.T, route, method uint8, name, ref, dgst, upload, from string, n int16,
		last, artifactType, tag1, tag2, alg string) {
		rt := routes[int(route)%len(routes)]
		r := Request{
			Route:           rt.ID,
			Method:          rt.Methods[int(method)%len(rt.Methods)],
			Name:            name,
			Reference:       ref,
			Digest:          digest.Digest(dgst),
			UploadID:        upload,
			From:            from,
			Last:            last,
			ArtifactType:    artifactType,
			DigestAlgorithm: alg,
		}
		if n != -1 { // -1 stands for an absent n; other negatives must not validate
			r.N = new(int(n))
		}
		for _, tag := range []string{tag1, tag2} {
			if tag != "" {
				r.Tags = append(r.Tags, tag)
			}
		}
		r = normalize(r)
		if r.Validate() != nil {
			return
		}
		for _, base := range fuzzBases {
			raw := r.URL(base)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("URL %q of %+v does not parse: %v", raw, r, err)
			}
			got, err := Parse(r.Method, u)
			if err != nil {
				t.Fatalf("Parse(%s %q) of %+v: %v", r.Method, raw, r, err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("Parse(%s %q)\n got %+v\nwant %+v", r.Method, raw, got, r)
			}
		}
	})
}
