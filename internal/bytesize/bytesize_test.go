package bytesize

import (
	"math"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"256MiB", 256 << 20, false},
		{"8M", 8 << 20, false},
		{"8MiB", 8 << 20, false},
		{"1GiB", 1 << 30, false},
		{"2TiB", 2 << 40, false},
		{"64kib", 64 << 10, false},
		{"1.5GB", 1500000000, false},
		{"1.5 GiB", 3 << 29, false},
		{"0.5", 0, false},
		{"1024", 1024, false},
		{" 12B ", 12, false},
		{"0", 0, false},
		{"8191PiB", 0, true}, // P is no unit
		{"9223372036854775807", math.MaxInt64, false},
		{"9223372036854775807B", math.MaxInt64, false},
		{"8589934592GiB", 0, true},
		{"8388608TiB", 0, true},
		{"9.3e18", 0, true},
		{"1e3", 0, true},
		{"0x10", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"infinityB", 0, true},
		{"", 0, true},
		{"MiB", 0, true},
		{"-1MiB", 0, true},
		{"+1MiB", 0, true},
		{"1_000", 0, true},
		{"1 000", 0, true},
		{"lots", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("Parse(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{256 << 20: "256MiB", 1 << 30: "1GiB", 64 << 10: "64KiB", 3 << 40: "3TiB", 1000: "1000B", 0: "0B", (1 << 30) + 1: "1073741825B"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzParse checks that Parse never panics, never returns a negative size,
// and that Format's output parses back to its input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"256MiB", "1.5GB", "9223372036854775807", "8589934592GiB", "NaN", "1e3"} {
		f.Add(s, int64(1<<20))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if v, err := Parse(s); err == nil && v < 0 {
			t.Fatalf("Parse(%q) = %d", s, v)
		}
		if n < 0 {
			return
		}
		if got, err := Parse(Format(n)); err != nil || got != n {
			t.Fatalf("Parse(Format(%d) = %q) = %d, %v", n, Format(n), got, err)
		}
		if got, err := Parse(strconv.FormatInt(n, 10)); err != nil || got != n {
			t.Fatalf("Parse(%d) = %d, %v", n, got, err)
		}
	})
}
