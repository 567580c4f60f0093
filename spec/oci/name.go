package oci

import (
	_ "crypto/sha256" // register sha256 for go-digest
	_ "crypto/sha512" // register sha512 for go-digest
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Grammars of the OCI Distribution Specification.
const (
	// RepositoryGrammar is the regular expression a repository name must
	// match (in full).
	RepositoryGrammar = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
	// MaxRepositoryLength is the maximum length of a repository name.
	MaxRepositoryLength = 255
	// TagGrammar is the regular expression a tag must match (in full).
	TagGrammar = `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
	// MaxTagLength is the maximum length of a tag.
	MaxTagLength = 128
	// DigestGrammar describes the digests this package accepts: sha256 with
	// 64 and sha512 with 128 lowercase hexadecimal digits.
	DigestGrammar = `sha256:[a-f0-9]{64} or sha512:[a-f0-9]{128}`
)

// componentRE is one component of a repository name, for diagnostics.
var componentRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)

// matchRepository reports whether s matches RepositoryGrammar: components
// joined by "/". It is the grammar written out by hand, because it runs
// on both sides of every request (name_test.go checks it against the
// regular expression on every short string of the grammar's alphabet).
func matchRepository(s string) bool {
	for {
		i := strings.IndexByte(s, '/')
		if i < 0 {
			return matchComponent(s)
		}
		if !matchComponent(s[:i]) {
			return false
		}
		s = s[i+1:]
	}
}

// matchComponent reports whether s matches [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func matchComponent(s string) bool {
	i, n := 0, len(s)
	for {
		j := i
		for j < n && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i {
			return false
		}
		if j == n {
			return true
		}
		switch s[j] {
		case '.':
			j++
		case '_':
			j++
			if j < n && s[j] == '_' {
				j++
			}
		case '-':
			for j < n && s[j] == '-' {
				j++
			}
		default:
			return false
		}
		i = j
	}
}

// matchTag reports whether s matches TagGrammar.
func matchTag(s string) bool {
	if len(s) == 0 || len(s) > MaxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// quote returns s quoted for an error message, shortened when long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...(%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// ValidRepository returns nil when s is a valid repository name, else a
// NAME_INVALID *Error explaining what is wrong.
func ValidRepository(s string) error {
	if len(s) <= MaxRepositoryLength && matchRepository(s) {
		return nil
	}
	return CodeNameInvalid.Errorf("repository name %s is invalid: %s (names must match %s and have at most %d characters)",
		quote(s), repositoryProblem(s), RepositoryGrammar, MaxRepositoryLength)
}

// repositoryProblem names the first thing wrong with the invalid name s.
func repositoryProblem(s string) string {
	if s == "" {
		return "it is empty"
	}
	if len(s) > MaxRepositoryLength {
		return fmt.Sprintf("it has %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			return fmt.Sprintf("it contains the uppercase letter %q; use lowercase", c)
		case c >= 0x80:
			return "it contains a non-ASCII character"
		case !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("._-/", c) >= 0):
			return fmt.Sprintf("it contains the character %q", c)
		}
	}
	for i, comp := range strings.Split(s, "/") {
		if comp == "" {
			return fmt.Sprintf("path component %d is empty (leading, trailing or double '/')", i+1)
		}
		if !componentRE.MatchString(comp) {
			return fmt.Sprintf("path component %q must start and end with [a-z0-9] and separate them only by '.', '_', '__' or '-'", comp)
		}
	}
	return "it does not match the grammar"
}

// ValidTag returns nil when s is a valid tag, else a MANIFEST_INVALID *Error
// explaining what is wrong. (Parse picks the code that fits each route.)
func ValidTag(s string) error {
	if matchTag(s) {
		return nil
	}
	var why string
	switch {
	case s == "":
		why = "it is empty"
	case len(s) > MaxTagLength:
		why = fmt.Sprintf("it has %d characters, more than %d", len(s), MaxTagLength)
	case s[0] == '.' || s[0] == '-':
		why = fmt.Sprintf("it starts with %q", s[0])
	default:
		why = "it contains a character other than [a-zA-Z0-9._-]"
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
				why = fmt.Sprintf("it contains the character %q", c)
				break
			}
		}
	}
	return CodeManifestInvalid.Errorf("tag %s is invalid: %s (tags must match %s)", quote(s), why, TagGrammar)
}

// ParseDigest parses s strictly: only sha256 (64 lowercase hex digits) and
// sha512 (128 lowercase hex digits) are accepted. The error is a
// DIGEST_INVALID *Error saying what is wrong.
func ParseDigest(s string) (digest.Digest, error) {
	if why := digestProblem(s); why != "" {
		return "", CodeDigestInvalid.Errorf("digest %s is invalid: %s (want %s)", quote(s), why, DigestGrammar)
	}
	d, err := digest.Parse(s)
	if err != nil { // unreachable given the checks above; kept as a safety net
		return "", CodeDigestInvalid.Errorf("digest %s is invalid: %v (want %s)", quote(s), err, DigestGrammar)
	}
	return d, nil
}

// ValidDigest returns nil when d is a digest ParseDigest accepts.
func ValidDigest(d digest.Digest) error {
	_, err := ParseDigest(string(d))
	return err
}

func digestProblem(s string) string {
	if s == "" {
		return "it is empty"
	}
	alg, hex, ok := strings.Cut(s, ":")
	if !ok {
		return "it has no algorithm prefix"
	}
	var n int
	switch alg {
	case "sha256":
		n = 64
	case "sha512":
		n = 128
	case "":
		return "the algorithm is empty"
	default:
		return fmt.Sprintf("the algorithm %s is not supported", quote(alg))
	}
	if len(hex) != n {
		return fmt.Sprintf("a %s digest has %d hex digits, not %d", alg, n, len(hex))
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			return "hex digits must be lowercase"
		default:
			return fmt.Sprintf("it contains the non-hex character %q", c)
		}
	}
	return ""
}
