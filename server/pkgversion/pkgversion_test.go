package pkgversion

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestIsSemVer(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "v1.2.3", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
		"1.0.0-x-y.--", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "18446744073709551615.0.0"}
	invalid := []string{"", "1", "1.2", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3+a..b",
		"vv1.2.3", "V1.2.3", "v", "1.2.3.4", " 1.2.3", "1.2.3 ", "latest", "1.2.3-a..b", "1.2.3-a_b", "1..3", "-1.2.3",
		"1.2.3-ä", "18446744073709551616.0.0"}
	for _, s := range valid {
		if !IsSemVer(s) {
			t.Errorf("IsSemVer(%q) = false", s)
		}
	}
	for _, s := range invalid {
		if IsSemVer(s) {
			t.Errorf("IsSemVer(%q) = true", s)
		}
	}
}

func TestCompare(t *testing.T) {
	// semver.org's precedence example, in ascending order, and a few more.
	order := []string{"0.9.0", "0.10.0", "1.0.0-0", "1.0.0-2", "1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0"}
	for i := range order {
		for j := range order {
			r, ok := Compare(order[i], order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if !ok || r != want {
				t.Errorf("Compare(%s, %s) = %d, %v; want %d", order[i], order[j], r, ok, want)
			}
		}
	}
	// Equal precedence: build metadata and the 'v' are ignored, then byte
	// order makes the order total.
	if r, ok := Compare("1.0.0", "v1.0.0+b"); !ok || r != strings.Compare("1.0.0", "v1.0.0+b") {
		t.Errorf("tie = %d, %v", r, ok)
	}
	if _, ok := Compare("1.0.0", "latest"); ok {
		t.Error("Compare with a non-SemVer")
	}
}

func TestLatestSemVer(t *testing.T) {
	tests := []struct {
		versions []string
		want     string
	}{
		{[]string{"1.0.0", "2.0.0-rc.1", "1.5.0"}, "1.5.0"},
		{[]string{"2.0.0-rc.1", "2.0.0-beta"}, "2.0.0-rc.1"},
		{[]string{"v1.10.0", "1.9.0"}, "v1.10.0"},
		{[]string{"1.10.0", "2.0.0-rc.1", "1.2.0"}, "1.10.0"},
		{[]string{"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-alpha"}, "1.0.0-beta.11"},
		{[]string{"1.0.0+a", "1.0.0+b"}, "1.0.0+b"},
		{[]string{"1.0.0", "latest"}, ""},
		{[]string{"nightly-2", "build-10", "nightly-1"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		for range 2 { // in both orders: the result does not depend on it
			i, ok := LatestSemVer(tt.versions)
			got := ""
			if ok {
				got = tt.versions[i]
			}
			if got != tt.want {
				t.Errorf("LatestSemVer(%v) = %q, want %q", tt.versions, got, tt.want)
			}
			slices.Reverse(tt.versions)
		}
	}
}

// semverRE is the expression semver.org recommends, with an optional
// leading 'v': the oracle for FuzzIsSemVer.
var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// FuzzIsSemVer checks IsSemVer against semver.org's regular expression
// (for versions whose numbers fit in 64 bits), and that Compare is a total
// order on what it accepts.
func FuzzIsSemVer(f *testing.F) {
	for _, s := range []string{"1.2.3", "v1.0.0-rc.1+b", "01.2.3", "1.0.0-alpha.01", "1.2", "1.0.0-x.7.z.92"} {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		m := semverRE.FindStringSubmatch(a)
		want := m != nil
		if want {
			for _, n := range m[1:4] {
				if _, err := strconv.ParseUint(n, 10, 64); err != nil {
					return // beyond the library's 64-bit numbers
				}
			}
		}
		if got := IsSemVer(a); got != want {
			t.Fatalf("IsSemVer(%q) = %v, semver.org's expression says %v", a, got, want)
		}
		r1, ok1 := Compare(a, b)
		r2, ok2 := Compare(b, a)
		if ok1 != ok2 || r1 != -r2 || (ok1 && (r1 == 0) != (a == b)) {
			t.Fatalf("Compare(%q, %q) = %d, %v but Compare(%q, %q) = %d, %v", a, b, r1, ok1, b, a, r2, ok2)
		}
	})
}

// TestLatestKey checks that ordering by LatestKey is the latest rule:
// for every pair of versions, the one LatestSemVer picks has the lower
// key, and the first of a sorted list is LatestSemVer's choice.
func TestLatestKey(t *testing.T) {
	vs := []string{
		"1.0.0", "v1.0.0", "1.0.0+b", "v1.0.0+b", "0.9.9", "1.0.1", "1.10.0", "1.9.0", "2.0.0-rc.1",
		"2.0.0-rc.2", "2.0.0-rc.10", "2.0.0-rc", "2.0.0-rc.1.x", "2.0.0-alpha", "2.0.0-alpha.1",
		"2.0.0-alpha.beta", "2.0.0-beta", "2.0.0-beta.2", "2.0.0-beta.11", "2.0.0-1", "2.0.0-2", "2.0.0-10",
		"2.0.0-a-b", "2.0.0-A", "18446744073709551615.0.0", "18446744073709551614.1.1", "0.0.0-0",
		"1.0.0-99999999999999999999999", "1.0.0-100000000000000000000000",
	}
	for _, a := range vs {
		ka, ok := LatestKey(a)
		if !ok || ka == "" || ka[0] == 0xff {
			t.Fatalf("LatestKey(%q) = %q, %v", a, ka, ok)
		}
		for _, b := range vs {
			kb, _ := LatestKey(b)
			i, _ := LatestSemVer([]string{a, b})
			if a == b {
				if ka != kb {
					t.Fatalf("LatestKey(%q) not stable", a)
				}
				continue
			}
			if (i == 0) != (ka < kb) {
				t.Errorf("latest of %q, %q is %q but keys order %v", a, b, []string{a, b}[i], ka < kb)
			}
		}
	}
	if _, ok := LatestKey("1.0"); ok {
		t.Error("LatestKey accepts a non-SemVer version")
	}
}
