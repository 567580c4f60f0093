// Package routetab holds what every route table of spec/ does the same
// way: copies handed out so callers cannot change the table, lookup by
// ID, and <placeholder> paths turned into bunrouter patterns.
package routetab

import "strings"

// Copy returns a copy of routes, each passed through clone (which copies
// a route's slices).
func Copy[R any](routes []R, clone func(R) R) []R {
	out := make([]R, len(routes))
	for i, r := range routes {
		out[i] = clone(r)
	}
	return out
}

// Find returns a clone of the first route whose ID is id.
func Find[R any, ID comparable](routes []R, id ID, idOf func(R) ID, clone func(R) R) (R, bool) {
	for _, r := range routes {
		if idOf(r) == id {
			return clone(r), true
		}
	}
	var zero R
	return zero, false
}

// Pattern returns path as a bunrouter pattern: each <placeholder> becomes
// a :placeholder parameter; an unclosed "<" is kept as it is.
func Pattern(path string) string {
	var b strings.Builder
	rest := path
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		b.WriteByte(':')
		b.WriteString(rest[i+1 : i+j])
		rest = rest[i+j+1:]
	}
}
