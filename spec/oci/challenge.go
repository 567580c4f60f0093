package oci

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// section 11.6.1), such as the Bearer challenge of the token flow:
//
//	Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
type Challenge struct {
	// Scheme is the auth-scheme as sent ("Bearer", "Basic"); schemes are
	// case-insensitive, so compare it with strings.EqualFold (or use Is).
	Scheme string
	// Params are the auth-params by lower-cased name (realm, service,
	// scope, error, ...), with quoted values unquoted and unescaped. It is
	// never nil. A parameter sent twice keeps its first value.
	Params map[string]string
	// Token68 is the token68 form of credentials some schemes use instead
	// of parameters ("" when the challenge has parameters or nothing).
	Token68 string
}

// Is reports whether c's scheme is scheme, ignoring case.
func (c Challenge) Is(scheme string) bool { return strings.EqualFold(c.Scheme, scheme) }

// challengeOrder is the order in which String writes the parameters of
// the token flow, before any other (by name).
var challengeOrder = []string{"realm", "service", "scope", "error"}

// String formats c as a WWW-Authenticate value: realm, service, scope and
// error first (the order registries send them), then the other parameters
// by name, every value a quoted-string ('"' and '\' escaped).
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteString(" " + c.Token68)
		return b.String()
	}
	var names, rest []string
	for _, k := range challengeOrder {
		if _, ok := c.Params[k]; ok {
			names = append(names, k)
		}
	}
	for k := range c.Params {
		if !slices.Contains(challengeOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)
	for i, k := range names {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + `="`)
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(c.Params[k]))
		b.WriteByte('"')
	}
	return b.String()
}

// ParseChallenges parses WWW-Authenticate header values: each a
// comma-separated list of challenges, each an auth-scheme followed by
// either a token68 or comma-separated auth-params (name=token or
// name="quoted string" with backslash escapes; whitespace around '=' and
// ',' allowed, empty list elements skipped). The challenges are returned
// in order. On a syntax error it returns the challenges parsed before it
// (a client can still use a well-formed first challenge) and an error
// naming the value and the offset.
func ParseChallenges(values []string) ([]Challenge, error) {
	var out []Challenge
	for _, v := range values {
		p := challengeParser{s: v}
		chs, err := p.parse()
		out = append(out, chs...)
		if err != nil {
			return out, fmt.Errorf("WWW-Authenticate %q: at offset %d: %w", v, p.i, err)
		}
	}
	return out, nil
}

// challengeParser scans one header value.
type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) eof() bool { return p.i >= len(p.s) }

func (p *challengeParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

// ows skips optional whitespace (SP and HTAB).
func (p *challengeParser) ows() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// separators skips whitespace and the commas of empty list elements.
func (p *challengeParser) separators() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// isTchar reports whether c is a token character (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68 reports whether c may appear in a token68 (before its '='
// padding).
func isToken68(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

func (p *challengeParser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string at p.i (which is '"').
func (p *challengeParser) quoted() (string, error) {
	var b strings.Builder
	for p.i++; !p.eof(); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.eof() {
				return "", fmt.Errorf("quoted string ends in a backslash")
			}
			c = p.s[p.i]
			if c < 0x20 && c != '\t' || c == 0x7f {
				return "", fmt.Errorf("control character %#x escaped in a quoted string", c)
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", fmt.Errorf("control character %#x in a quoted string", c)
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("quoted string is not closed")
}

// isParam reports whether a "name BWS =" starts at p.i, without moving.
func (p *challengeParser) isParam() bool {
	save := p.i
	defer func() { p.i = save }()
	if p.token() == "" {
		return false
	}
	p.ows()
	if p.peek() != '=' {
		return false
	}
	// "name=" followed by '=' or the end is a token68's padding.
	p.i++
	p.ows()
	return !p.eof() && (p.peek() == '"' || isTchar(p.peek())) && p.peek() != '='
}

func (p *challengeParser) parse() ([]Challenge, error) {
	var out []Challenge
	for p.separators(); !p.eof(); p.separators() {
		scheme := p.token()
		if scheme == "" {
			return out, fmt.Errorf("expected an auth-scheme, found %q", p.peek())
		}
		ch := Challenge{Scheme: scheme, Params: map[string]string{}}
		if p.eof() || p.peek() == ',' {
			out = append(out, ch)
			continue
		}
		if p.peek() != ' ' && p.peek() != '\t' {
			return out, fmt.Errorf("expected a space after the auth-scheme %q, found %q", scheme, p.peek())
		}
		p.ows()
		if !p.eof() && p.peek() != ',' && !p.isParam() {
			start := p.i
			for !p.eof() && isToken68(p.peek()) {
				p.i++
			}
			for !p.eof() && p.peek() == '=' {
				p.i++
			}
			ch.Token68 = p.s[start:p.i]
			p.ows()
			if ch.Token68 == "" || !p.eof() && p.peek() != ',' {
				return out, fmt.Errorf("expected auth-params or a token68 after %q", scheme)
			}
			out = append(out, ch)
			continue
		}
		if err := p.params(ch.Params); err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// params reads the auth-params of one challenge into into, stopping at the
// end or before the next challenge's scheme.
func (p *challengeParser) params(into map[string]string) error {
	for {
		p.separators()
		if p.eof() || !p.isParam() {
			return nil
		}
		name := strings.ToLower(p.token())
		p.ows()
		p.i++ // '='
		p.ows()
		var val string
		if p.peek() == '"' {
			var err error
			if val, err = p.quoted(); err != nil {
				return fmt.Errorf("parameter %s: %w", name, err)
			}
		} else {
			val = p.token()
		}
		if _, dup := into[name]; !dup {
			into[name] = val
		}
		p.ows()
		if !p.eof() && p.peek() != ',' {
			return fmt.Errorf("expected ',' after parameter %s, found %q", name, p.peek())
		}
	}
}
