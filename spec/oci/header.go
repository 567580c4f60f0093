package oci

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HTTP header names used by the OCI Distribution API.
const (
	// DockerContentDigest carries the digest of a blob or manifest.
	DockerContentDigest = "Docker-Content-Digest"
	// DockerUploadUUID carries the id of an upload session.
	DockerUploadUUID = "Docker-Upload-UUID"
	// DockerDistributionAPIVersion is sent on /v2/ as "registry/2.0".
	DockerDistributionAPIVersion = "Docker-Distribution-API-Version"
	// OCISubject carries the subject digest of a pushed manifest.
	OCISubject = "OCI-Subject"
	// OCITag is sent once per tag applied by a manifest PUT by digest with
	// ?tag= parameters.
	OCITag = "OCI-Tag"
	// OCIFiltersApplied lists the referrers filters applied
	// ("artifactType").
	OCIFiltersApplied = "OCI-Filters-Applied"
	// OCIChunkMinLength is the minimum chunk size a registry accepts for
	// PATCH uploads.
	OCIChunkMinLength = "OCI-Chunk-Min-Length"
	// Location is the URL of an upload session or created resource.
	Location = "Location"
	// Range is the upload progress ("0-<last>") in upload responses, and
	// the byte range requested in a blob GET.
	Range = "Range"
	// ContentRange is the byte range of a PATCH chunk or of a 206 answer.
	ContentRange = "Content-Range"
	// Link carries the next page of tags, the catalog or referrers.
	Link = "Link"
	// WWWAuthenticate carries the authentication challenge of a 401.
	WWWAuthenticate = "WWW-Authenticate"
)

// DistributionAPIVersion is the value of the Docker-Distribution-API-Version
// header.
const DistributionAPIVersion = "registry/2.0"

// Range errors. Errors from ParseRange and ParseContentRange wrap one of
// these (test with errors.Is). A server answers both with 416 and
// "Content-Range: bytes */<size>" (see UnsatisfiedContentRange).
var (
	// ErrRangeUnsatisfiable: the range is well formed but selects no byte
	// of the blob.
	ErrRangeUnsatisfiable = errors.New("range not satisfiable")
	// ErrRangeMalformed: the header does not parse, or asks for something
	// unsupported (several ranges).
	ErrRangeMalformed = errors.New("malformed range")
)

// parseUint parses a non-empty run of ASCII digits (no sign, no spaces).
func parseUint(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// ParseContentRange parses the Content-Range of an OCI PATCH: "<start>-<end>",
// both inclusive. A "bytes " (or "bytes=") prefix and a "/<total>" or "/*"
// suffix are accepted too ("bytes 0-99/100"). It requires start <= end and,
// with a numeric total, end < total. Errors wrap ErrRangeMalformed.
//
// The length of an accepted range, end-start+1, and end+1 (the size of an
// upload that ends with the chunk) are always positive int64 values: an end
// of math.MaxInt64, whose successor overflows, is malformed.
func ParseContentRange(s string) (start, end int64, err error) {
	bad := func(why string) (int64, int64, error) {
		return 0, 0, fmt.Errorf("%w: Content-Range %s %s (want <start>-<end>)", ErrRangeMalformed, quote(s), why)
	}
	v := strings.TrimSpace(s)
	if len(v) >= 6 && strings.EqualFold(v[:5], "bytes") && (v[5] == ' ' || v[5] == '=') {
		v = strings.TrimSpace(v[6:])
	}
	v, total, hasTotal := strings.Cut(v, "/")
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return bad("has no '-'")
	}
	if start, ok = parseUint(a); !ok {
		return bad("has no valid start")
	}
	if end, ok = parseUint(b); !ok {
		return bad("has no valid end")
	}
	if start > end {
		return bad("has its start after its end")
	}
	if end == math.MaxInt64 {
		return bad("ends at the largest possible offset, so its length overflows")
	}
	if hasTotal && total != "*" {
		t, ok := parseUint(total)
		if !ok {
			return bad("has an invalid total")
		}
		if end >= t {
			return bad("ends beyond its total")
		}
	}
	return start, end, nil
}

// UploadRange formats the Range header of an upload session holding size
// bytes: "0-<size-1>". For an empty session it returns "0-0", as CNCF
// Distribution does (and clients expect), although that literally names one
// byte; clients should treat "0-0" as "0 or 1 byte" and rely on their own
// count.
func UploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// ByteRange is one satisfiable byte range of a blob.
type ByteRange struct {
	// Start is the offset of the first byte.
	Start int64
	// Length is the number of bytes, at least 1.
	Length int64
}

// End returns the offset of the last byte (inclusive).
func (r ByteRange) End() int64 { return r.Start + r.Length - 1 }

// ContentRange formats the Content-Range of a 206 answer:
// "bytes <start>-<end>/<size>".
func (r ByteRange) ContentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.Start, r.End(), size)
}

// UnsatisfiedContentRange formats the Content-Range of a 416 answer for a
// blob of size bytes: "bytes */<size>".
func UnsatisfiedContentRange(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// ParseRange parses an HTTP Range header ("bytes=a-b", "bytes=a-",
// "bytes=-n") for a blob of size bytes, clamping the end to the blob. Only
// a single range is supported; several ranges are reported as malformed.
// Errors wrap ErrRangeUnsatisfiable when no byte is selected (any range of
// an empty blob, a start at or beyond size, "bytes=-0") and
// ErrRangeMalformed otherwise.
func ParseRange(h string, size int64) (ByteRange, error) {
	bad := func(why string) (ByteRange, error) {
		return ByteRange{}, fmt.Errorf("%w: Range %s %s", ErrRangeMalformed, quote(h), why)
	}
	unsat := func() (ByteRange, error) {
		return ByteRange{}, fmt.Errorf("%w: Range %s selects no byte of a %d-byte blob", ErrRangeUnsatisfiable, quote(h), size)
	}
	if size < 0 {
		return bad(fmt.Sprintf("cannot apply to negative size %d", size))
	}
	v := strings.TrimSpace(h)
	unit, spec, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return bad(`does not start with "bytes="`)
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return bad("has several ranges; only one is supported")
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return bad("has no '-'")
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" { // suffix range
		n, ok := parseUint(b)
		if !ok {
			return bad("has an invalid suffix length")
		}
		if n == 0 || size == 0 {
			return unsat()
		}
		n = min(n, size)
		return ByteRange{Start: size - n, Length: n}, nil
	}
	start, ok := parseUint(a)
	if !ok {
		return bad("has an invalid start")
	}
	end := int64(-1)
	if b != "" {
		if end, ok = parseUint(b); !ok {
			return bad("has an invalid end")
		}
		if end < start {
			return bad("has its end before its start")
		}
	}
	if start >= size {
		return unsat()
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	return ByteRange{Start: start, Length: end - start + 1}, nil
}

// NextLink formats the Link header pointing at the next page, r being the
// request for that page: `<path?n=..&last=..>; rel="next"`. The URL is
// relative (path and query only), as registries send it.
func NextLink(r Request) string {
	return "<" + r.Path() + `>; rel="next"`
}

// ParseNextLink returns the URL of the rel="next" link in a Link header
// value (which may hold several comma-separated links), as written (it may
// be relative; resolve it against the request URL).
func ParseNextLink(h string) (string, bool) {
	s := h
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" || s[0] != '<' {
			return "", false
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", false
		}
		uri := s[1:end]
		s = s[end+1:]
		// Parameters up to the next top-level comma.
		next := false
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return "", false
			}
			s = strings.TrimLeft(s[1:], " \t")
			i := strings.IndexAny(s, "=;,")
			if i < 0 {
				i = len(s)
			}
			name := strings.TrimSpace(s[:i])
			s = s[i:]
			var val string
			if s != "" && s[0] == '=' {
				s = strings.TrimLeft(s[1:], " \t")
				if s != "" && s[0] == '"' {
					var b strings.Builder
					i := 1
					for ; i < len(s) && s[i] != '"'; i++ {
						if s[i] == '\\' && i+1 < len(s) {
							i++
						}
						b.WriteByte(s[i])
					}
					if i >= len(s) {
						return "", false
					}
					val, s = b.String(), s[i+1:]
				} else {
					j := strings.IndexAny(s, ";,")
					if j < 0 {
						j = len(s)
					}
					val, s = strings.TrimSpace(s[:j]), s[j:]
				}
			}
			if strings.EqualFold(name, "rel") {
				for _, rel := range strings.Fields(val) {
					if strings.EqualFold(rel, "next") {
						next = true
					}
				}
			}
		}
		if next {
			return uri, true
		}
	}
}
