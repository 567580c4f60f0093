package metadata

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Compact records. The blob records (global and links) and the manifest
// records are CBOR maps with small integer keys (one byte each) instead of
// field names: a digest is its algorithm's code and the raw hash, a time
// the Unix nanoseconds, a known media type a small code, a blob's Key is
// left out when it is DefaultBlobKey of its digest, the digest of a link
// or of a global blob record is left out (the record's key or shard names
// it), and zero fields are left out. A record in the format before
// (fields keyed by their names, times as RFC 3339 text) is a map whose
// first key is a text string: decoders read both, so stores written
// before need no migration and old and new records mix; every write
// stores the compact form. record_test.go holds records of the old format
// as they were written.

// DefaultBlobKey is the bucket key of the bytes of d in the
// content-addressed layout, blobs/<alg>/<2>/<2>/<hex> (storage.Key). A
// blob record stores its Key only when it is another.
func DefaultBlobKey(d digest.Digest) string {
	alg, hex := d.Algorithm().String(), d.Encoded()
	if len(hex) < 4 {
		return "blobs/" + alg + "/" + hex
	}
	return "blobs/" + alg + "/" + hex[:2] + "/" + hex[2:4] + "/" + hex
}

// legacy reports whether b is a record of the format before the compact
// one: a CBOR map whose first key is a text string.
func legacy(b []byte) bool {
	if len(b) == 0 || b[0]>>5 != 5 {
		return false
	}
	i := 1
	switch ai := b[0] & 0x1f; ai {
	case 24:
		i = 2
	case 25:
		i = 3
	case 26:
		i = 5
	case 27:
		i = 9
	}
	return len(b) > i && b[i]>>5 == 3
}

// Digest codes of packDigest.
const (
	digestText   = 0 // the digest string follows
	digestSHA256 = 1 // 32 bytes of hash follow
	digestSHA512 = 2 // 64 bytes of hash follow
)

// packDigest is d as its algorithm's code and raw hash, or code 0 and the
// string for any other algorithm or encoding; nil for "".
func packDigest(d digest.Digest) []byte {
	if d == "" {
		return nil
	}
	s := string(d)
	for _, a := range []struct {
		prefix string
		code   byte
	}{{"sha256:", digestSHA256}, {"sha512:", digestSHA512}} {
		if len(s) > len(a.prefix) && s[:len(a.prefix)] == a.prefix {
			if raw, ok := lowerHex(s[len(a.prefix):]); ok && len(raw) == hashLen(a.code) {
				return append([]byte{a.code}, raw...)
			}
		}
	}
	return append([]byte{digestText}, s...)
}

func hashLen(code byte) int {
	if code == digestSHA256 {
		return 32
	}
	return 64
}

// lowerHex decodes s if it is lowercase hex (so that encoding the bytes
// again gives s back).
func lowerHex(s string) ([]byte, bool) {
	if len(s)%2 != 0 {
		return nil, false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, false
		}
	}
	raw, err := hex.DecodeString(s)
	return raw, err == nil
}

// packDigests concatenates the packed digests of ds, a text digest's
// string preceded by its length (uvarint); nil for none.
func packDigests(ds []digest.Digest) []byte {
	if len(ds) == 0 {
		return nil
	}
	out := make([]byte, 0, 33*len(ds))
	for _, d := range ds {
		p := packDigest(d)
		if len(p) == 0 || p[0] == digestText {
			out = append(binary.AppendUvarint(append(out, digestText), uint64(len(d))), d...)
			continue
		}
		out = append(out, p...)
	}
	return out
}

// unpackDigests reverses packDigests; the digests share one string.
func unpackDigests(b []byte) ([]digest.Digest, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, size := 0, 0
	err := walkDigests(b, func(code byte, v []byte) {
		n++
		size += digestLen(code, v)
	})
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.Grow(size)
	_ = walkDigests(b, func(code byte, v []byte) {
		switch code {
		case digestSHA256:
			sb.WriteString("sha256:")
		case digestSHA512:
			sb.WriteString("sha512:")
		default:
			sb.Write(v)
			return
		}
		var h [128]byte
		hex.Encode(h[:], v)
		sb.Write(h[:2*len(v)])
	})
	all, out, at := sb.String(), make([]digest.Digest, 0, n), 0
	_ = walkDigests(b, func(code byte, v []byte) {
		l := digestLen(code, v)
		out = append(out, digest.Digest(all[at:at+l]))
		at += l
	})
	return out, nil
}

// digestLen is the length of the digest string of a packed digest.
func digestLen(code byte, v []byte) int {
	if code == digestText {
		return len(v)
	}
	return len("sha256:") + 2*len(v)
}

// walkDigests calls fn with the code and the bytes (hash or text) of
// every digest of a packDigests list.
func walkDigests(b []byte, fn func(code byte, v []byte)) error {
	for i := 0; i < len(b); {
		code := b[i]
		var n, w int
		switch code {
		case digestSHA256, digestSHA512:
			n, w = hashLen(code), 0
		case digestText:
			u, uw := binary.Uvarint(b[i+1:])
			if uw <= 0 || u > uint64(len(b)) {
				return fmt.Errorf("%w: bad digest length in a digest list", errCorrupt)
			}
			n, w = int(u), uw
		default:
			return fmt.Errorf("%w: digest code %d in a digest list", errCorrupt, code)
		}
		if i+1+w+n > len(b) {
			return fmt.Errorf("%w: truncated digest list", errCorrupt)
		}
		fn(code, b[i+1+w:i+1+w+n])
		i += 1 + w + n
	}
	return nil
}

func unpackDigest(b []byte) (digest.Digest, error) {
	switch {
	case len(b) == 0:
		return "", nil
	case b[0] == digestText:
		return digest.Digest(b[1:]), nil
	case b[0] == digestSHA256 && len(b) == 33:
		return digest.Digest("sha256:" + hex.EncodeToString(b[1:])), nil
	case b[0] == digestSHA512 && len(b) == 65:
		return digest.Digest("sha512:" + hex.EncodeToString(b[1:])), nil
	}
	return "", fmt.Errorf("%w: digest of %d bytes with code %d", errCorrupt, len(b), b[0])
}

// packInc is an Inc (16 lowercase hex digits from NewInc) as 1 and its
// raw bytes, or 0 and the string; nil for "".
func packInc(s string) []byte {
	if s == "" {
		return nil
	}
	if raw, ok := lowerHex(s); ok {
		return append([]byte{1}, raw...)
	}
	return append([]byte{0}, s...)
}

func unpackInc(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case b[0] == 1:
		return hex.EncodeToString(b[1:])
	}
	return string(b[1:])
}

// packTime is t in Unix nanoseconds, 0 for the zero time.
func packTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func unpackTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// mediaTypes are the codes of the media types records store as numbers
// (index = code; 0 is none). Codes are stored: append only.
var mediaTypes = []string{
	"",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.config.v1+json",
	"application/vnd.docker.container.image.v1+json",
	"application/vnd.oci.empty.v1+json",
	"application/vnd.oci.artifact.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
}

var mediaTypeCodes = func() map[string]uint8 {
	m := make(map[string]uint8, len(mediaTypes))
	for i, t := range mediaTypes[1:] {
		m[t] = uint8(i + 1)
	}
	return m
}()

// packType returns the code of t, or 0 and t when it has none.
func packType(t string) (uint8, string) {
	if c, ok := mediaTypeCodes[t]; ok {
		return c, ""
	}
	return 0, t
}

func unpackType(code uint8, s string) (string, error) {
	if code == 0 {
		return s, nil
	}
	if int(code) >= len(mediaTypes) {
		return "", fmt.Errorf("%w: media type code %d", errCorrupt, code)
	}
	return mediaTypes[code], nil
}
