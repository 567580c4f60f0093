package oci

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestValidRepository(t *testing.T) {
	long := strings.Repeat("a", 127) + "/" + strings.Repeat("b", 127) // 255
	tests := []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"library/ubuntu", true},
		{"a0/b1/c2", true},
		{"a.b", true},
		{"a_b", true},
		{"a__b", true},
		{"a-b", true},
		{"a---b", true},
		{"a-b.c_d__e/f", true},
		{long, true},
		{long + "b", false},
		{"", false},
		{"A", false},
		{"fooBar", false},
		{"a..b", false},
		{"a___b", false},
		{"a._b", false},
		{"a-.b", false},
		{".a", false},
		{"a.", false},
		{"-a", false},
		{"a-", false},
		{"_a", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"a b", false},
		{"a:b", false},
		{"ä", false},
		{"a%2fb", false},
	}
	for _, tt := range tests {
		err := ValidRepository(tt.name)
		if (err == nil) != tt.valid {
			t.Errorf("ValidRepository(%q) = %v, want valid=%v", tt.name, err, tt.valid)
		}
		if err != nil {
			if !errors.Is(err, ErrNameInvalid) {
				t.Errorf("ValidRepository(%q) = %v, not NAME_INVALID", tt.name, err)
			}
			if !strings.Contains(err.Error(), RepositoryGrammar) {
				t.Errorf("message %q does not name the grammar", err)
			}
		}
	}
	// A very long name is shortened in the message.
	err := ValidRepository(strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 600 {
		t.Errorf("long name message: %d bytes", len(err.Error()))
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		tag   string
		valid bool
	}{
		{"latest", true},
		{"a", true},
		{"_", true},
		{"0", true},
		{"V1.2.3-rc_1", true},
		{"A" + strings.Repeat("b", 127), true},
		{"A" + strings.Repeat("b", 128), false},
		{"", false},
		{".a", false},
		{"-a", false},
		{"a+b", false},
		{"a/b", false},
		{"a:b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := ValidTag(tt.tag)
		if (err == nil) != tt.valid {
			t.Errorf("ValidTag(%q) = %v, want valid=%v", tt.tag, err, tt.valid)
		}
		if err != nil && (!errors.Is(err, ErrManifestInvalid) || !strings.Contains(err.Error(), TagGrammar)) {
			t.Errorf("ValidTag(%q) = %v", tt.tag, err)
		}
	}
}

func TestParseDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	hex128 := hex64 + hex64
	tests := []struct {
		in  string
		ok  bool
		why string
	}{
		{"sha256:" + hex64, true, ""},
		{"sha512:" + hex128, true, ""},
		{string(d256), true, ""},
		{string(d512), true, ""},
		{"", false, "empty"},
		{hex64, false, "no algorithm"},
		{":" + hex64, false, "algorithm is empty"},
		{"sha256:" + hex64[:63], false, "64 hex digits, not 63"},
		{"sha256:" + hex64 + "0", false, "not 65"},
		{"sha256:" + hex128, false, "not 128"},
		{"sha512:" + hex64, false, "128 hex digits, not 64"},
		{"sha256:" + strings.ToUpper(hex64), false, "lowercase"},
		{"SHA256:" + hex64, false, "not supported"},
		{"sha384:" + hex64 + hex64[:32], false, "not supported"},
		{"sha256:" + hex64[:63] + "g", false, "non-hex"},
		{"sha256+b64:" + hex64, false, "not supported"},
		{"sha256:" + hex64 + "\n", false, ""},
	}
	for _, tt := range tests {
		d, err := ParseDigest(tt.in)
		if tt.ok {
			if err != nil || string(d) != tt.in {
				t.Errorf("ParseDigest(%q) = %q, %v", tt.in, d, err)
			}
			if err := d.Validate(); err != nil {
				t.Errorf("go-digest rejects %q: %v", d, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseDigest(%q) = %q, want an error", tt.in, d)
			continue
		}
		if !errors.Is(err, ErrDigestInvalid) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ParseDigest(%q) = %v, want DIGEST_INVALID mentioning %q", tt.in, err, tt.why)
		}
	}
	if digest.SHA512.FromString("") != d512 || digest.SHA256.FromString("") != d256 {
		t.Error("test digests are wrong")
	}
	if ValidDigest(d512) != nil || ValidDigest("sha256:x") == nil {
		t.Error("ValidDigest")
	}
}

// FuzzParseDigest checks ParseDigest against go-digest and the grammar.
func FuzzParseDigest(f *testing.F) {
	f.Add(string(d256))
	f.Add(string(d512))
	f.Add("sha384:" + strings.Repeat("a", 96))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			if !errors.Is(err, ErrDigestInvalid) {
				t.Fatalf("ParseDigest(%q): %v", s, err)
			}
			return
		}
		if d.Validate() != nil || (d.Algorithm() != digest.SHA256 && d.Algorithm() != digest.SHA512) || strings.ToLower(s) != s {
			t.Fatalf("ParseDigest accepted %q", s)
		}
	})
}

// The grammars as regular expressions, which the hand-written matchers
// must agree with.
var (
	repositoryRE = regexp.MustCompile(`^` + RepositoryGrammar + `$`)
	tagRE        = regexp.MustCompile(`^` + TagGrammar + `$`)
)

// TestMatchersAgreeWithTheGrammars compares matchRepository and matchTag
// with the regular expressions on every string of up to 7 characters over
// an alphabet that exercises every rule (and longer tags at the limit).
func TestMatchersAgreeWithTheGrammars(t *testing.T) {
	alphabet := []byte("a0._-/A")
	var walk func(prefix []byte)
	n := 0
	walk = func(prefix []byte) {
		s := string(prefix)
		n++
		if got, want := matchRepository(s), repositoryRE.MatchString(s); got != want {
			t.Fatalf("matchRepository(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := matchTag(s), tagRE.MatchString(s); got != want {
			t.Fatalf("matchTag(%q) = %v, the grammar says %v", s, got, want)
		}
		if len(prefix) == 7 {
			return
		}
		for _, c := range alphabet {
			walk(append(prefix, c))
		}
	}
	walk(nil)
	for _, s := range []string{strings.Repeat("a", 128), strings.Repeat("a", 129), "_" + strings.Repeat("-", 127), "a__b", "a___b", "a--.b"} {
		if got, want := matchTag(s), tagRE.MatchString(s); got != want {
			t.Fatalf("matchTag(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := matchRepository(s), repositoryRE.MatchString(s); got != want {
			t.Fatalf("matchRepository(%q) = %v, the grammar says %v", s, got, want)
		}
	}
	t.Logf("%d strings compared", n)
}

// BenchmarkValidRepository measures the check every request makes.
func BenchmarkValidRepository(b *testing.B) {
	for range b.N {
		_ = ValidRepository("library/some-team__x/app.name")
	}
}

// FuzzValidRepository checks the diagnostics never panic and agree with
// the grammar.
func FuzzValidRepository(f *testing.F) {
	f.Add("a/b")
	f.Add("a__b/c")
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidRepository(s)
		valid := len(s) <= MaxRepositoryLength && repositoryRE.MatchString(s)
		if (err == nil) != valid {
			t.Fatalf("ValidRepository(%q) = %v", s, err)
		}
		if err != nil && strings.Contains(err.Error(), "does not match the grammar") {
			t.Fatalf("no specific reason for %q", s)
		}
		if (ValidTag(s) == nil) != tagRE.MatchString(s) {
			t.Fatalf("ValidTag(%q) disagrees with the grammar", s)
		}
	})
}
