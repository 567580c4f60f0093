// Package bytesize parses and formats the byte sizes of command-line flags
// and configuration: "256MiB", "8MiB", "1GiB", "64KiB", "1.5GB", "1024".
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// units are the accepted suffixes, longest first (case-insensitive).
// Single-letter suffixes are binary, like their -iB forms.
var units = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10},
	{"B", 1},
}

// Parse parses a byte size: a non-negative number (integer or decimal)
// with an optional unit suffix, case-insensitive, space allowed between
// them: "256MiB", "8M", "1GiB", "64kib", "1.5GB", "12 B", "1024" (bytes).
// KiB, MiB, GiB, TiB and K, M, G, T are binary; KB, MB, GB, TB decimal.
// Fractions of a byte are dropped. A size that does not fit in an int64 is
// an error, as is a negative, NaN or infinite one.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, factor = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.factor
			break
		}
	}
	if !isDecimal(t) {
		return 0, invalid(s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n > math.MaxInt64/factor {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return n * factor, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, invalid(s)
	}
	v := f * float64(factor)
	if v >= math.MaxInt64 { // float64(MaxInt64) rounds up to 2^63
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v), nil
}

// isDecimal reports whether t is digits with at most one '.' among or
// after them ("12", "1.5", "2.", ".5"): no sign, exponent, hex or spaces.
func isDecimal(t string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

func invalid(s string) error {
	return fmt.Errorf("invalid size %q (want e.g. 256MiB, 8MiB, 1GiB or a number of bytes)", s)
}

// Format formats n bytes in the flag syntax, with the largest binary unit
// that divides it: "256MiB", "1GiB", "1000B". Parse(Format(n)) == n for
// every n >= 0.
func Format(n int64) string {
	for _, u := range units[:4] {
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
