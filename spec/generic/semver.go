package generic

import (
	"regexp"
	"strings"
)

// SemVer is a parsed Semantic Versioning 2.0.0 version.
type SemVer struct {
	// Major, Minor and Patch are the decimal core numbers, as written
	// (no leading zeros; arbitrarily long).
	Major, Minor, Patch string
	// Pre lists the dot-separated pre-release identifiers (nil for a
	// release).
	Pre []string
	// Build is the build metadata after '+' ("" when none); it does not
	// take part in ordering.
	Build string
}

// semverRE is the expression semver.org recommends, with an optional
// leading 'v'.
var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ParseSemVer parses s as SemVer 2.0.0, allowing one leading 'v'
// ("v1.2.3"). ok is false when s is not SemVer.
func ParseSemVer(s string) (v SemVer, ok bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return SemVer{}, false
	}
	v = SemVer{Major: m[1], Minor: m[2], Patch: m[3], Build: m[5]}
	if m[4] != "" {
		v.Pre = strings.Split(m[4], ".")
	}
	return v, true
}

// IsSemVer reports whether s is a SemVer 2.0.0 version (optionally with a
// leading 'v').
func IsSemVer(s string) bool { return semverRE.MatchString(s) }

// Prerelease reports whether v is a pre-release.
func (v SemVer) Prerelease() bool { return len(v.Pre) > 0 }

// numCmp compares two decimal strings without leading zeros.
func numCmp(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Compare orders v and w by SemVer precedence: -1, 0 or +1. Build metadata
// is ignored.
func (v SemVer) Compare(w SemVer) int {
	for _, c := range [][2]string{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if r := numCmp(c[0], c[1]); r != 0 {
			return r
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		an, bn := isNum(a), isNum(b)
		var r int
		switch {
		case an && bn:
			r = numCmp(a, b)
		case an:
			r = -1
		case bn:
			r = 1
		default:
			r = strings.Compare(a, b)
		}
		if r != 0 {
			return r
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// CompareVersions orders two version strings that are both SemVer by
// precedence, breaking ties (equal precedence: "1.0.0" and "v1.0.0+b") by
// byte order so the order is total. ok is false when either is not SemVer.
func CompareVersions(a, b string) (r int, ok bool) {
	va, oka := ParseSemVer(a)
	vb, okb := ParseSemVer(b)
	if !oka || !okb {
		return 0, false
	}
	if r = va.Compare(vb); r == 0 {
		r = strings.Compare(a, b)
	}
	return r, true
}

// Latest rules, reported by the management API's latest route.
const (
	// LatestSemVer: every version is SemVer; the highest stable release
	// wins, else (only pre-releases) the highest pre-release.
	LatestSemVer = "semver"
	// LatestNewest: some version is not SemVer; the most recently created
	// version wins.
	LatestNewest = "newest"
)

// LatestSemVerOf returns the index of the latest of versions by the SemVer
// rule (the highest release; the highest pre-release when all are
// pre-releases), and false when versions is empty or any is not SemVer.
func LatestSemVerOf(versions []string) (int, bool) {
	best, bestStable := -1, false
	var bv SemVer
	for i, s := range versions {
		v, ok := ParseSemVer(s)
		if !ok {
			return -1, false
		}
		stable := !v.Prerelease()
		switch {
		case best < 0, stable && !bestStable:
		case stable == bestStable:
			if r := v.Compare(bv); r < 0 || (r == 0 && s <= versions[best]) {
				continue
			}
		default:
			continue
		}
		best, bv, bestStable = i, v, stable
	}
	return best, best >= 0
}
