package generic

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Grammars and limits.
const (
	// OwnerGrammar is the regular expression an owner (user or
	// organization name) must match in full.
	OwnerGrammar = `[A-Za-z0-9][A-Za-z0-9._-]*`
	// MaxOwnerLength is the longest owner name.
	MaxOwnerLength = 64
	// NameGrammar is the regular expression a package name must match in
	// full; ".." is refused besides.
	NameGrammar = `[A-Za-z0-9][A-Za-z0-9._+-]*`
	// MaxNameLength is the longest package name, in bytes.
	MaxNameLength = 255
	// MaxVersionLength is the longest version, in bytes.
	MaxVersionLength = 255
	// FilenameGrammar is the regular expression a filename must match in
	// full: word characters, space and -_+=:;.()[]{}~!@#$%^&, with no
	// leading or trailing space; "." and ".." are refused besides.
	FilenameGrammar = `[\w\-+=:;.()\[\]{}~!@#$%^&]([\w \-+=:;.()\[\]{}~!@#$%^&]*[\w\-+=:;.()\[\]{}~!@#$%^&])?`
	// MaxFilenameLength is the longest filename, in bytes.
	MaxFilenameLength = 255
	// TypeGrammar is the regular expression a package type must match.
	TypeGrammar = `[a-z0-9][a-z0-9_-]*`
	// MaxTypeLength is the longest package type.
	MaxTypeLength = 32
	// MaxUploadIDLength is the longest upload session ID.
	MaxUploadIDLength = 128
)

var (
	ownerRE    = regexp.MustCompile(`^` + OwnerGrammar + `$`)
	nameRE     = regexp.MustCompile(`^` + NameGrammar + `$`)
	filenameRE = regexp.MustCompile(`^` + FilenameGrammar + `$`)
	typeRE     = regexp.MustCompile(`^` + TypeGrammar + `$`)
	uploadRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// quote returns s quoted for an error message, shortened when long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...(%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func invalid(field, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "%s", field+" "+fmt.Sprintf(format, args...)).WithField(field)
}

// isBidiControl reports whether r is a bidirectional control character
// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), with which a
// version or name could display as another one ("Trojan Source").
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// firstBidiControl returns the first bidirectional control character of
// s (0 when none).
func firstBidiControl(s string) rune {
	for _, r := range s {
		if isBidiControl(r) {
			return r
		}
	}
	return 0
}

// problem describes what is wrong with s in general terms: empty, too
// long, not UTF-8, a control character or a bidirectional control; ""
// when none of these.
func problem(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("is %d bytes long (at most %d)", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "contains a control character"
	case strings.ContainsFunc(s, isBidiControl):
		return fmt.Sprintf("contains the bidirectional control character %U, which makes text display as something else", firstBidiControl(s))
	case strings.Contains(s, "/"):
		return "contains '/'"
	}
	return ""
}

// ValidOwner returns nil when s is a valid owner name, else a 400 *Error
// naming the field "owner".
func ValidOwner(s string) error {
	if p := problem(s, MaxOwnerLength); p != "" {
		return invalid("owner", "%s %s", quote(s), p)
	}
	if !ownerRE.MatchString(s) || strings.Contains(s, "..") {
		return invalid("owner", "%s is invalid: it must match %s", quote(s), OwnerGrammar)
	}
	return nil
}

// ValidName returns nil when s is a valid package name, else a 400 *Error
// naming the field "name".
func ValidName(s string) error {
	if p := problem(s, MaxNameLength); p != "" {
		return invalid("name", "%s %s", quote(s), p)
	}
	if !nameRE.MatchString(s) || strings.Contains(s, "..") {
		return invalid("name", "%s is invalid: it must match %s and not contain \"..\"", quote(s), NameGrammar)
	}
	return nil
}

// ValidVersion returns nil when s is a valid version: not empty, at most
// MaxVersionLength bytes of UTF-8 without '/', control characters or
// leading and trailing white space, and not "." or "..". Else a 400 *Error
// naming the field "version".
func ValidVersion(s string) error {
	if p := problem(s, MaxVersionLength); p != "" {
		return invalid("version", "%s %s", quote(s), p)
	}
	if strings.TrimSpace(s) != s {
		return invalid("version", "%s has leading or trailing white space", quote(s))
	}
	if s == "." || s == ".." {
		return invalid("version", "%s is not allowed", quote(s))
	}
	return nil
}

// ValidFilename returns nil when s is a valid filename, else a 400 *Error
// naming the field "filename".
func ValidFilename(s string) error {
	if p := problem(s, MaxFilenameLength); p != "" {
		return invalid("filename", "%s %s", quote(s), p)
	}
	if s == "." || s == ".." {
		return invalid("filename", "%s is not allowed", quote(s))
	}
	if !filenameRE.MatchString(s) {
		return invalid("filename", "%s is invalid: use word characters, space and -_+=:;.()[]{}~!@#$%%^&, without leading or trailing space", quote(s))
	}
	return nil
}

// ValidType returns nil when s is a syntactically valid package type (the
// server decides whether it knows it), else a 400 *Error naming "type".
func ValidType(s string) error {
	if len(s) > MaxTypeLength || !typeRE.MatchString(s) {
		return invalid("type", "%s is invalid: it must match %s", quote(s), TypeGrammar)
	}
	return nil
}

// ValidUploadID returns nil when s can be an upload session ID; else a 404
// *Error (an ID that cannot exist is an unknown upload).
func ValidUploadID(s string) error {
	if len(s) > MaxUploadIDLength || !uploadRE.MatchString(s) {
		return Errorf(http.StatusNotFound, "upload %s does not exist", quote(s)).WithField("upload")
	}
	return nil
}

// Key returns the case-insensitive lookup key of an owner, name, version or
// filename: names are unique case-insensitively and keep their case for
// display.
func Key(s string) string { return strings.ToLower(s) }
