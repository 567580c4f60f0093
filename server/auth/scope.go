package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Token scopes, as Gitea names them for packages (plural, as docs/auth.md
// writes them).
const (
	// ScopeReadPackages allows pulls and downloads.
	ScopeReadPackages = "read:packages"
	// ScopeWritePackages allows pushes and uploads; it implies read.
	ScopeWritePackages = "write:packages"
	// ScopeDeletePackages allows deletes; it implies read (a client has
	// to resolve what it deletes), not write.
	ScopeDeletePackages = "delete:packages"
)

// scopeAliases maps accepted spellings to canonical scopes: Gitea's
// singular read:package and write:package, and delete:package for
// symmetry. Gitea's write:package also deletes, so it stands for
// write:packages and delete:packages; regkit's own write:packages stays
// without delete, the finer scope.
var scopeAliases = map[string][]string{
	ScopeReadPackages:   {ScopeReadPackages},
	ScopeWritePackages:  {ScopeWritePackages},
	ScopeDeletePackages: {ScopeDeletePackages},
	"read:package":      {ScopeReadPackages},
	"write:package":     {ScopeWritePackages, ScopeDeletePackages},
	"delete:package":    {ScopeDeletePackages},
}

// Package types a deploy token can be limited to.
const (
	// PackageContainer is the OCI registry (/v2).
	PackageContainer = "container"
	// PackageGeneric is the generic package registry (/api/packages).
	PackageGeneric = "generic"
)

// NormalizeScopes returns the canonical, de-duplicated, sorted form of
// scopes, accepting aliases and comma-separated entries. It fails on an
// unknown scope (naming it) and on an empty list.
func NormalizeScopes(scopes []string) ([]string, error) {
	var out []string
	for _, entry := range scopes {
		for _, s := range strings.Split(entry, ",") {
			s = strings.ToLower(strings.TrimSpace(s))
			if s == "" {
				continue
			}
			cs, ok := scopeAliases[s]
			if !ok {
				return nil, fmt.Errorf("unknown token scope %q: use read:packages, write:packages or delete:packages", clip(s, 64))
			}
			for _, c := range cs {
				if !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no token scope given: use read:packages, write:packages or delete:packages")
	}
	slices.Sort(out)
	return out, nil
}

// NormalizePackageTypes validates and sorts the package types of a deploy
// token; empty means all types.
func NormalizePackageTypes(types []string) ([]string, error) {
	var out []string
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != PackageContainer && t != PackageGeneric {
			return nil, fmt.Errorf("unknown package type %q: use container or generic", clip(t, 64))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Action is something done to an owner's packages or images.
type Action string

// Actions, named as OCI token scopes name them.
const (
	// Pull reads.
	Pull Action = "pull"
	// Push writes.
	Push Action = "push"
	// Delete deletes.
	Delete Action = "delete"
)

// Actions is a set of actions.
type Actions uint8

const (
	actPull Actions = 1 << iota
	actPush
	actDelete
	actAll = actPull | actPush | actDelete
)

func actionBit(a Action) Actions {
	switch a {
	case Pull:
		return actPull
	case Push:
		return actPush
	case Delete:
		return actDelete
	}
	return 0
}

// ActionsOf returns the set of the named actions; "*" means all, unknown
// names are ignored.
func ActionsOf(names ...string) Actions {
	var s Actions
	for _, n := range names {
		if n == "*" {
			s |= actAll
		}
		s |= actionBit(Action(n))
	}
	return s
}

// Has reports whether s contains every action of need.
func (s Actions) Has(need Actions) bool { return s&need == need }

// List returns the actions in the order pull, push, delete.
func (s Actions) List() []string {
	var out []string
	for _, a := range []Action{Pull, Push, Delete} {
		if s&actionBit(a) != 0 {
			out = append(out, string(a))
		}
	}
	return out
}

// String returns the actions comma-separated, as in an OCI scope.
func (s Actions) String() string { return strings.Join(s.List(), ",") }

// scopeActions returns what a personal token's scopes allow.
func scopeActions(scopes []string) Actions {
	var s Actions
	for _, sc := range scopes {
		switch sc {
		case ScopeReadPackages:
			s |= actPull
		case ScopeWritePackages:
			s |= actPull | actPush
		case ScopeDeletePackages:
			s |= actPull | actDelete
		}
	}
	return s
}

// roleActions returns what an organization role allows.
func roleActions(role string) Actions {
	switch role {
	case "read":
		return actPull
	case "write", "admin":
		return actAll
	}
	return 0
}

// Access is one entry of an OCI bearer token's "access" claim, and one
// parsed scope of a token request: "repository:<name>:<actions>".
type Access struct {
	// Type is "repository" or "registry".
	Type string `json:"type"`
	// Name is the repository name (or "catalog").
	Name string `json:"name"`
	// Actions lists the granted actions.
	Actions []string `json:"actions"`
}

// Scope returns the access in scope syntax, type:name:actions.
func (a Access) Scope() string { return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",") }

// ParseScope parses an OCI token scope "type:name:actions". The name may
// contain ':' (a registry host with a port); a type with a resource class,
// "repository(plugin)", counts as its type.
func ParseScope(s string) (Access, bool) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first <= 0 || last == first {
		return Access{}, false
	}
	typ, name, actions := s[:first], s[first+1:last], s[last+1:]
	if i := strings.IndexByte(typ, '('); i > 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:i]
	}
	if name == "" {
		return Access{}, false
	}
	var acts []string
	for _, a := range strings.Split(actions, ",") {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(acts, a) {
			acts = append(acts, a)
		}
	}
	return Access{Type: typ, Name: name, Actions: acts}, true
}

// Owner returns the owner of a repository or package path: its first
// path component.
func Owner(repository string) string {
	owner, _, _ := strings.Cut(repository, "/")
	return owner
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
