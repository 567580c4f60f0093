package generic

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		name, method, url string
		want              Request
		status            int
		field             string
	}{
		{name: "upload", method: "PUT", url: "/api/packages/alice/generic/tool/1.2.3/tool.tar.gz",
			want: Request{Route: RouteUpload, Method: "PUT", Owner: "alice", Type: "generic", Name: "tool", Version: "1.2.3", Filename: "tool.tar.gz"}},
		{name: "download with token query", method: "GET", url: "/api/packages/alice/generic/tool/1.2.3/a%20b.txt?token=x",
			want: Request{Route: RouteDownload, Method: "GET", Owner: "alice", Type: "generic", Name: "tool", Version: "1.2.3", Filename: "a b.txt"}},
		{name: "version delete", method: "DELETE", url: "/api/packages/alice/generic/tool/1.2.3",
			want: Request{Route: RouteVersionDelete, Method: "DELETE", Owner: "alice", Type: "generic", Name: "tool", Version: "1.2.3"}},
		{name: "upload chunk", method: "PATCH", url: "/api/packages/alice/generic/tool/1/f/uploads/AbC_-1",
			want: Request{Route: RouteUploadChunk, Method: "PATCH", Owner: "alice", Type: "generic", Name: "tool", Version: "1", Filename: "f", UploadID: "AbC_-1"}},
		{name: "list", method: "GET", url: "/api/v1/packages/alice?type=generic&q=To&page=2&limit=5",
			want: Request{Route: RouteList, Method: "GET", Owner: "alice", PackageType: "generic", Q: "To", Page: 2, Limit: 5}},
		{name: "container version with slash", method: "GET", url: "/api/v1/packages/alice/container/a%2Fb/latest",
			want: Request{Route: RouteVersion, Method: "GET", Owner: "alice", Type: "container", Name: "a/b", Version: "latest"}},
		{name: "latest", method: "GET", url: "/api/v1/packages/alice/generic/tool/-/latest",
			want: Request{Route: RouteLatest, Method: "GET", Owner: "alice", Type: "generic", Name: "tool"}},
		{name: "link", method: "POST", url: "/api/v1/packages/alice/generic/tool/-/link/repo",
			want: Request{Route: RouteLink, Method: "POST", Owner: "alice", Type: "generic", Name: "tool", Repo: "repo"}},

		{name: "not an api path", method: "GET", url: "/v2/", status: 404},
		{name: "other package type", method: "PUT", url: "/api/packages/alice/npm/x/1/f", status: 404},
		{name: "too many segments", method: "PUT", url: "/api/packages/alice/generic/a/b/c/d", status: 404},
		{name: "trailing slash", method: "GET", url: "/api/packages/alice/generic/a/1/f/", status: 404},
		{name: "wrong method", method: "POST", url: "/api/packages/alice/generic/a/1/f", status: 405},
		{name: "dotdot name", method: "PUT", url: "/api/packages/alice/generic/../1/f", status: 400, field: "name"},
		{name: "dotdot version", method: "PUT", url: "/api/packages/alice/generic/a/../f", status: 400, field: "version"},
		{name: "dotdot filename", method: "PUT", url: "/api/packages/alice/generic/a/1/..", status: 400, field: "filename"},
		{name: "encoded slash in filename", method: "PUT", url: "/api/packages/alice/generic/a/1/x%2F..%2Fy", status: 400, field: "filename"},
		{name: "encoded slash in version", method: "PUT", url: "/api/packages/alice/generic/a/1%2F2/f", status: 400, field: "version"},
		{name: "encoded slash in name", method: "PUT", url: "/api/packages/alice/generic/a%2Fb/1/f", status: 400, field: "name"},
		{name: "NUL in filename", method: "PUT", url: "/api/packages/alice/generic/a/1/f%00", status: 400, field: "filename"},
		{name: "bad UTF-8 in version", method: "PUT", url: "/api/packages/alice/generic/a/1%FF/f", status: 400, field: "version"},
		{name: "long name", method: "PUT", url: "/api/packages/alice/generic/" + long + "/1/f", status: 400, field: "name"},
		{name: "long version", method: "PUT", url: "/api/packages/alice/generic/a/" + long + "/f", status: 400, field: "version"},
		{name: "long filename", method: "PUT", url: "/api/packages/alice/generic/a/1/" + long, status: 400, field: "filename"},
		{name: "version with space", method: "PUT", url: "/api/packages/alice/generic/a/%201/f", status: 400, field: "version"},
		{name: "version with RLO", method: "PUT", url: "/api/packages/alice/generic/a/1.0%E2%80%AEcod.exe/f", status: 400, field: "version"},
		{name: "version with LRI", method: "PUT", url: "/api/packages/alice/generic/a/1%E2%81%A6.0/f", status: 400, field: "version"},
		{name: "version with RLM", method: "GET", url: "/api/packages/alice/generic/a/1.0%E2%80%8F/f", status: 400, field: "version"},
		{name: "version with ALM", method: "DELETE", url: "/api/packages/alice/generic/a/1%D8%9C", status: 400, field: "version"},
		{name: "management version with PDF", method: "GET", url: "/api/v1/packages/alice/generic/a/1%E2%80%AC", status: 400, field: "version"},
		{name: "filename leading space", method: "PUT", url: "/api/packages/alice/generic/a/1/%20f", status: 400, field: "filename"},
		{name: "bad name char", method: "PUT", url: "/api/packages/alice/generic/a%20b/1/f", status: 400, field: "name"},
		{name: "bad owner", method: "PUT", url: "/api/packages/al%21ce/generic/a/1/f", status: 400, field: "owner"},
		{name: "bad page", method: "GET", url: "/api/v1/packages/alice?page=x", status: 400, field: "page"},
		{name: "page beyond MaxPage", method: "GET", url: "/api/v1/packages/alice?page=42949673", status: 400, field: "page"},
		{name: "huge limit", method: "GET", url: "/api/v1/packages/alice/generic/x?limit=9223372036854775807", status: 400, field: "limit"},
		{name: "bad upload id", method: "PATCH", url: "/api/packages/alice/generic/a/1/f/uploads/..", status: 404},
		{name: "bad type", method: "GET", url: "/api/v1/packages/alice/Ty%20pe/a", status: 400, field: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(tt.method, u)
			if tt.status == 0 {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Parse = %+v, %v; want %+v", got, err, tt.want)
				}
				if err := got.Validate(); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status || e.Field != tt.field && tt.field != "" {
				t.Fatalf("Parse error = %#v, want status %d field %q", err, tt.status, tt.field)
			}
		})
	}
}

func TestParseBadEscape(t *testing.T) {
	_, err := Parse("PUT", &url.URL{Opaque: "/api/packages/alice/generic/a/1/f%zz"})
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("Parse = %v, want a 400", err)
	}
}

func TestAllowedMethods(t *testing.T) {
	u, _ := url.Parse("/api/packages/a/generic/n/1/f")
	_, err := Parse("POST", u)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	if got := AllowedMethods(e); strings.Join(got, ",") != "PUT,GET,HEAD,DELETE" {
		t.Fatalf("AllowedMethods = %v", got)
	}
}

func TestErrorBody(t *testing.T) {
	e := Errorf(http.StatusNotFound, "package %q not found", "x")
	b, ct := e.Body(FormatJSON)
	if ct != "application/json; charset=utf-8" || !strings.Contains(string(b), `"message":"package \"x\" not found"`) || !strings.Contains(string(b), `"url":`) {
		t.Fatalf("JSON body %s %s", ct, b)
	}
	if d := DecodeError(404, b); d.Message != e.Message || !errors.Is(d, ErrNotFound) {
		t.Fatalf("DecodeError = %+v", d)
	}
	b, ct = e.Body(FormatText)
	if ct != "text/plain; charset=utf-8" || string(b) != e.Message+"\n" {
		t.Fatalf("text body %s %q", ct, b)
	}
	if d := DecodeError(404, b); d.Message != e.Message {
		t.Fatalf("DecodeError(text) = %+v", d)
	}
}

// FuzzParse checks that Parse never panics, that its errors are 4xx with a
// message, and that whatever it accepts validates and survives a round
// trip through URL: Parse(URL(r)) == r.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ m, u string }{
		{"PUT", "/api/packages/alice/generic/tool/1.0.0/tool.tar.gz"},
		{"GET", "/api/packages/alice/generic/tool/v1%20beta/a%20b%3A%3B"},
		{"PATCH", "/api/packages/a/generic/b/c/d/uploads/xyz"},
		{"GET", "/api/v1/packages/alice?type=generic&q=x&page=2&limit=100"},
		{"GET", "/api/v1/packages/alice/container/a%2Fb/-/latest"},
		{"POST", "/api/v1/packages/alice/generic/x/-/link/r"},
		{"DELETE", "/api/packages/a/generic/b/%2e%2e/f"},
		{"GET", "/api/v1/packages/o/generic/n/%FF/files"},
		{"GET", "/api/packages/%00/generic/n/v/f"},
		{"PUT", "/api/packages/o/generic/n/v/%00"},
		{"GET", "/api/v1/packages/%00"},
		{"GET", "/api/v1/packages/o?page=9223372036854775807&limit=9223372036854775807"},
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
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Message == "" {
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

// FuzzRequestURL builds requests from arbitrary fields: when they validate,
// their URL parses back to them.
func FuzzRequestURL(f *testing.F) {
	f.Add("alice", "tool", "1.0.0", "a b.txt", "", 0)
	f.Add("o", "n", "v/1", "..", "x", 3)
	f.Fuzz(func(t *testing.T, owner, name, version, filename, upload string, page int) {
		for _, r := range []Request{
			{Route: RouteUpload, Method: "PUT", Owner: owner, Type: TypeGeneric, Name: name, Version: version, Filename: filename},
			{Route: RouteUploadChunk, Method: "PATCH", Owner: owner, Type: TypeGeneric, Name: name, Version: version, Filename: filename, UploadID: upload},
			{Route: RouteVersions, Method: "GET", Owner: owner, Type: TypeContainer, Name: name, Page: page},
			{Route: RouteList, Method: "GET", Owner: owner, Q: name, PackageType: version, Limit: page},
		} {
			if r.Validate() != nil {
				continue
			}
			u, err := url.Parse(r.URL("http://h/"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(r.Method, u)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("Parse(URL(%+v)) = %+v, %v", r, got, err)
			}
		}
	})
}
