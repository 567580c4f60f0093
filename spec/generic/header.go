package generic

import (
	"fmt"
	"strconv"
	"strings"
)

// Header names of the two APIs.
const (
	// TotalCount carries the number of items of a listing, all pages.
	TotalCount = "X-Total-Count"
	// Link carries the first, prev, next and last pages of a listing.
	Link = "Link"
	// ContentDisposition names the downloaded file.
	ContentDisposition = "Content-Disposition"
	// ContentDigest carries the file's sha256 (RFC 9530):
	// sha-256=:<base64>:.
	ContentDigest = "Content-Digest"
	// Digest carries the file's sha256 (RFC 3230): SHA-256=<base64>.
	Digest = "Digest"
	// UploadOffset is sent on resumable upload responses: the bytes
	// received so far (besides Range "0-<offset-1>").
	UploadOffset = "Upload-Offset"
)

// PageLinks returns the Link header of a listing page: the request r for
// the current page (with its Page and Limit) and the total number of
// items. Relations: first, prev (when page > 1), next (when more follow)
// and last. URLs are relative (path and query).
func PageLinks(r Request, total int) string {
	page, limit := r.PageLimit()
	last := max((total+limit-1)/limit, 1)
	link := func(p int, rel string) string {
		c := r
		c.Page, c.Limit = p, limit
		return "<" + c.Path() + `>; rel="` + rel + `"`
	}
	var out []string
	if page < last {
		out = append(out, link(page+1, "next"))
	}
	out = append(out, link(last, "last"), link(1, "first"))
	if page > 1 {
		out = append(out, link(min(page-1, last), "prev"))
	}
	return strings.Join(out, ", ")
}

// ParseLinks returns the URLs of a Link header by relation ("next", ...),
// as written.
func ParseLinks(h string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, "<") {
			continue
		}
		end := strings.IndexByte(part, '>')
		if end < 0 {
			continue
		}
		uri := part[1:end]
		for _, p := range strings.Split(part[end+1:], ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
				for _, rel := range strings.Fields(strings.Trim(v, `"`)) {
					out[strings.ToLower(rel)] = uri
				}
			}
		}
	}
	return out
}

// Disposition formats the Content-Disposition of a download:
// attachment; filename="<name>"; filename*=UTF-8”<percent-encoded name>.
// The quoted form escapes '"' and '\'.
func Disposition(filename string) string {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(filename)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, q, attrEscape(filename))
}

// attrEscape percent-encodes every byte of s that is not an attr-char of
// RFC 8187.
func attrEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// UploadRange formats the Range header of a resumable upload holding size
// bytes: "0-<size-1>" ("0-0" when empty, as OCI registries answer).
func UploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}
