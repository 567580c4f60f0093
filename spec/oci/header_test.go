package oci

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-0", 0, 0, true},
		{"0-99", 0, 99, true},
		{"100-199", 100, 199, true},
		{"bytes 0-99", 0, 99, true},
		{"bytes=5-9", 5, 9, true},
		{"Bytes 0-99/100", 0, 99, true},
		{"bytes 0-99/*", 0, 99, true},
		{" 1-2 ", 1, 2, true},
		{"0-9223372036854775806", 0, 9223372036854775806, true},
		{"0-9223372036854775807", 0, 0, false},
		{"9223372036854775807-9223372036854775807", 0, 0, false},
		{"bytes 5-9223372036854775807/*", 0, 0, false},
		{"", 0, 0, false},
		{"5", 0, 0, false},
		{"5-", 0, 0, false},
		{"-5", 0, 0, false},
		{"9-5", 0, 0, false},
		{"+1-5", 0, 0, false},
		{"1--5", 0, 0, false},
		{"a-b", 0, 0, false},
		{"0-99/99", 0, 0, false},
		{"0-99/x", 0, 0, false},
		{"bytes */100", 0, 0, false},
		{"0-99999999999999999999", 0, 0, false},
		{"0 - 9", 0, 0, false},
	}
	for _, tt := range tests {
		s, e, err := ParseContentRange(tt.in)
		if tt.ok != (err == nil) || s != tt.start || e != tt.end {
			t.Errorf("ParseContentRange(%q) = %d, %d, %v", tt.in, s, e, err)
		}
		if err != nil && !errors.Is(err, ErrRangeMalformed) {
			t.Errorf("ParseContentRange(%q) error %v does not wrap ErrRangeMalformed", tt.in, err)
		}
	}
}

func TestUploadRange(t *testing.T) {
	for size, want := range map[int64]string{0: "0-0", 1: "0-0", 2: "0-1", 1 << 20: "0-1048575"} {
		if got := UploadRange(size); got != want {
			t.Errorf("UploadRange(%d) = %q, want %q", size, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	const size = 100
	tests := []struct {
		h    string
		size int64
		want ByteRange
		err  error
	}{
		{"bytes=0-0", size, ByteRange{0, 1}, nil},
		{"bytes=0-99", size, ByteRange{0, 100}, nil},
		{"bytes=10-19", size, ByteRange{10, 10}, nil},
		{"bytes=90-200", size, ByteRange{90, 10}, nil},
		{"bytes=99-", size, ByteRange{99, 1}, nil},
		{"bytes=0-", size, ByteRange{0, 100}, nil},
		{"bytes=-1", size, ByteRange{99, 1}, nil},
		{"bytes=-100", size, ByteRange{0, 100}, nil},
		{"bytes=-1000", size, ByteRange{0, 100}, nil},
		{"BYTES = 1-2 ", size, ByteRange{1, 2}, nil},
		{"bytes=100-", size, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=100-200", size, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=-0", size, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=0-0", 0, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=0-", 0, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=-5", 0, ByteRange{}, ErrRangeUnsatisfiable},
		{"bytes=0-0", 1, ByteRange{0, 1}, nil},
		{"", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=-", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=5", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=5-1", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=a-b", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=-1-2", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=+1-2", size, ByteRange{}, ErrRangeMalformed},
		{"items=0-1", size, ByteRange{}, ErrRangeMalformed},
		{"0-1", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=0-1,5-6", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=0-99999999999999999999", size, ByteRange{}, ErrRangeMalformed},
		{"bytes=0-1", -1, ByteRange{}, ErrRangeMalformed},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.h, tt.size)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseRange(%q, %d) = %+v, %v; want %+v, %v", tt.h, tt.size, got, err, tt.want, tt.err)
		}
	}
}

func TestContentRange(t *testing.T) {
	if got := (ByteRange{Start: 10, Length: 5}).ContentRange(100); got != "bytes 10-14/100" {
		t.Errorf("ContentRange = %q", got)
	}
	if got := UnsatisfiedContentRange(100); got != "bytes */100" {
		t.Errorf("UnsatisfiedContentRange = %q", got)
	}
}

func TestLinks(t *testing.T) {
	next := Request{Route: RouteTagsPaged, Name: "a/b", N: new(2), Last: "v1"}
	h := NextLink(next)
	if h != `</v2/a/b/tags/list?n=2&last=v1>; rel="next"` {
		t.Errorf("NextLink = %s", h)
	}
	got, ok := ParseNextLink(h)
	if !ok || got != next.Path() {
		t.Fatalf("ParseNextLink(%s) = %q, %v", h, got, ok)
	}
	u, _ := url.Parse(got)
	if r, err := Parse("GET", u); err != nil || r.N == nil || *r.N != 2 || r.Last != "v1" || r.Name != "a/b" {
		t.Errorf("next page parses to %+v, %v", r, err)
	}

	tests := []struct {
		h    string
		want string
		ok   bool
	}{
		{`</v2/_catalog?n=1&last=a>; rel="next"`, "/v2/_catalog?n=1&last=a", true},
		{`<https://r.example/v2/x/tags/list?n=1&last=a>; rel=next`, "https://r.example/v2/x/tags/list?n=1&last=a", true},
		{`</prev>; rel="prev", </next?a=1,2>; title="x, y; z"; rel="next"`, "/next?a=1,2", true},
		{`</a>;rel="prev next"`, "/a", true},
		{`</a> ; REL = "Next"`, "/a", true},
		{`</a>; title="a \" rel=next"`, "", false},
		{`</a>; rel="prev"`, "", false},
		{`</a>; rel`, "", false},
		{``, "", false},
		{`/a; rel="next"`, "", false},
		{`</a; rel="next"`, "", false},
		{`</a>; rel="next`, "", false},
		{`</a> x; rel="next"`, "", false},
	}
	for _, tt := range tests {
		got, ok := ParseNextLink(tt.h)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseNextLink(%s) = %q, %v; want %q, %v", tt.h, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseRange checks that ParseRange never panics and that any range it
// returns lies within the blob.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		r, err := ParseRange(h, size)
		if err != nil {
			if !errors.Is(err, ErrRangeMalformed) && !errors.Is(err, ErrRangeUnsatisfiable) {
				t.Fatalf("ParseRange(%q, %d): %v", h, size, err)
			}
			return
		}
		if r.Start < 0 || r.Length < 1 || r.Start+r.Length > size || r.Start+r.Length < r.Start {
			t.Fatalf("ParseRange(%q, %d) = %+v", h, size, r)
		}
		back, err := ParseRange(fmt.Sprintf("bytes=%d-%d", r.Start, r.End()), size)
		if err != nil || back != r {
			t.Fatalf("reparse of %+v: %+v, %v", r, back, err)
		}
	})
}

// FuzzParseContentRange checks ParseContentRange never panics and round
// trips what it accepts.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-0", "bytes 0-99/100", "5-1", "bytes=1-2/*", "0-9223372036854775807", "bytes 1-9223372036854775806/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b, err := ParseContentRange(s)
		if err != nil {
			if !errors.Is(err, ErrRangeMalformed) {
				t.Fatal(err)
			}
			return
		}
		if a < 0 || b < a || b-a+1 <= 0 || b+1 <= 0 {
			t.Fatalf("ParseContentRange(%q) = %d, %d: its length or end+1 overflows", s, a, b)
		}
		a2, b2, err := ParseContentRange(strconv.FormatInt(a, 10) + "-" + strconv.FormatInt(b, 10))
		if err != nil || a2 != a || b2 != b {
			t.Fatalf("reparse: %d %d %v", a2, b2, err)
		}
	})
}

// FuzzParseNextLink checks ParseNextLink never panics, and finds the next
// link of any Request in a header with other links around it.
func FuzzParseNextLink(f *testing.F) {
	f.Add(`</a>; rel="next"`, "x", 3, "v1")
	f.Add(`<x>; a="\"`, "a/b", 0, "")
	f.Fuzz(func(t *testing.T, h, name string, n int, last string) {
		ParseNextLink(h)
		r := Request{Route: RouteTagsPaged, Name: name, N: &n, Last: last}
		if strings.ContainsAny(h, "<>") || r.Validate() != nil {
			return
		}
		hdr := `<` + h + `>; rel="prev", ` + NextLink(r) + `, <y>; rel="last"`
		got, ok := ParseNextLink(hdr)
		if !ok || got != r.Path() {
			t.Fatalf("ParseNextLink(%s) = %q, %v", hdr, got, ok)
		}
	})
}
