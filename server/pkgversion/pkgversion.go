// Package pkgversion holds the version rules of the generic package API:
// which versions are SemVer 2.0.0 (a package whose first version is SemVer
// accepts only SemVer versions) and which version of a package is its
// latest. SemVer parsing and precedence are github.com/Masterminds/semver/v3;
// this package adds the optional leading 'v' and the latest rule (the
// README's "Latest version" section of the management API).
package pkgversion

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Parse parses s as a strict SemVer 2.0.0 version, allowing one leading
// 'v' ("v1.2.3"). ok is false when s is not SemVer, or when one of its
// numbers does not fit in 64 bits.
func Parse(s string) (v *semver.Version, ok bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	return v, err == nil
}

// IsSemVer reports whether s is a SemVer 2.0.0 version (optionally with a
// leading 'v').
func IsSemVer(s string) bool {
	_, ok := Parse(s)
	return ok
}

// Compare orders two version strings that are both SemVer by precedence
// (build metadata ignored), breaking ties ("1.0.0" and "v1.0.0+b") by byte
// order so that the order is total: -1, 0 or +1. ok is false when either
// is not SemVer.
func Compare(a, b string) (r int, ok bool) {
	va, oka := Parse(a)
	vb, okb := Parse(b)
	if !oka || !okb {
		return 0, false
	}
	return compare(va, vb, a, b), true
}

func compare(va, vb *semver.Version, a, b string) int {
	if r := va.Compare(vb); r != 0 {
		return r
	}
	return strings.Compare(a, b)
}

// LatestSemVer returns the index of the latest of versions by the SemVer
// rule (generic.LatestSemVer): the highest stable release, or the highest
// pre-release when all are pre-releases. ok is false when versions is
// empty or any of them is not SemVer; the caller then applies
// generic.LatestNewest.
func LatestSemVer(versions []string) (i int, ok bool) {
	best := -1
	var bv *semver.Version
	for i, s := range versions {
		v, ok := Parse(s)
		if !ok {
			return -1, false
		}
		if best < 0 || better(v, bv, s, versions[best]) {
			best, bv = i, v
		}
	}
	return best, best >= 0
}

// better reports whether v (written s) beats the current best w (written
// t): a stable release beats any pre-release, then precedence decides.
func better(v, w *semver.Version, s, t string) bool {
	vs, ws := v.Prerelease() == "", w.Prerelease() == ""
	if vs != ws {
		return vs
	}
	return compare(v, w, s, t) > 0
}

// LatestKey returns a byte string for a SemVer version s such that the
// keys of versions, in ascending byte order, list them latest first by
// the SemVer rule: stable releases before pre-releases, then by
// precedence (highest first), ties broken like Compare (the greater
// string first). A store keeps versions sorted by it to answer latest
// with one read. ok is false when s is not SemVer. Keys never start with
// 0xff.
func LatestKey(s string) (key string, ok bool) {
	v, ok := Parse(s)
	if !ok {
		return "", false
	}
	b := make([]byte, 0, 64)
	pre := v.Prerelease()
	if pre == "" {
		b = append(b, '0')
	} else {
		b = append(b, '1')
	}
	for _, n := range []uint64{v.Major(), v.Minor(), v.Patch()} {
		b = binary.BigEndian.AppendUint64(b, ^n)
	}
	if pre != "" {
		for _, id := range strings.Split(pre, ".") {
			if n, err := strconv.ParseUint(id, 10, 64); err == nil {
				// Numeric identifiers have lower precedence than
				// alphanumeric ones (numbers beyond 64 bits compare as
				// strings in semver/v3, so they are alphanumeric here).
				b = append(b, 2)
				b = binary.BigEndian.AppendUint64(b, ^n)
			} else {
				b = append(append(b, 1), invert(nil, id)...)
				b = append(b, 0xff)
			}
		}
		b = append(b, 3) // fewer identifiers: lower precedence, later
	}
	b = append(invert(b, s), 0xff)
	return string(b), true
}

// invert appends the complement of every byte of s to b (descending
// order of strings of one length, and of ASCII strings ended by 0xff).
func invert(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, ^s[i])
	}
	return b
}
