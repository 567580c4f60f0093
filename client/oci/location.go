package oci

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"
)

// Location kinds.
const (
	KindRegistry = "registry"    // host/repo[:tag][@digest]
	KindLayout   = "oci"         // oci:DIR[:TAG|@DIGEST]
	KindArchive  = "oci-archive" // oci-archive:FILE[:TAG|@DIGEST]
)

// DockerHub is the registry of references without a host, as Docker
// resolves them ("alpine" is docker.io/library/alpine).
const DockerHub = "registry-1.docker.io"

// Location is a parsed image reference: a repository of a registry, an OCI
// layout directory or an OCI archive, with an optional tag and digest.
type Location struct {
	// Kind is KindRegistry, KindLayout or KindArchive.
	Kind string `json:"kind"`
	// Scheme is "http" or "https" (registries only).
	Scheme string `json:"scheme,omitempty"`
	// Host is the registry's host[:port].
	Host string `json:"host,omitempty"`
	// Repo is the repository name.
	Repo string `json:"repository,omitempty"`
	// Path is the directory or file of a layout or archive.
	Path string `json:"path,omitempty"`
	// Tag and Digest name the manifest; both may be empty.
	Tag    string        `json:"tag,omitempty"`
	Digest digest.Digest `json:"digest,omitempty"`
}

// ParseLocation parses
//
//	[http://|https://|docker://]host[:port]/repo[:tag][@digest]
//	oci:DIR[:TAG|@DIGEST]
//	oci-archive:FILE[:TAG|@DIGEST]
//
// A registry reference whose first component has no "." or ":" and is not
// "localhost" is on Docker Hub. Registries on localhost or a loopback
// address are spoken to over plain HTTP unless https:// is given.
func ParseLocation(s string) (Location, error) {
	for _, kind := range []string{KindArchive, KindLayout} {
		if rest, ok := strings.CutPrefix(s, kind+":"); ok {
			l := Location{Kind: kind}
			rest, l.Digest = cutDigest(rest)
			// A tag follows the last ':' after the last '/'.
			slash := strings.LastIndexByte(rest, '/')
			if i := strings.LastIndexByte(rest, ':'); i > slash && i > 0 {
				rest, l.Tag = rest[:i], rest[i+1:]
			}
			if rest == "" {
				return Location{}, fmt.Errorf("%q: no path", s)
			}
			l.Path = rest
			return l, l.validDigest(s)
		}
	}
	l := Location{Kind: KindRegistry}
	rest := s
	switch {
	case strings.HasPrefix(rest, "http://"):
		l.Scheme, rest = "http", rest[len("http://"):]
	case strings.HasPrefix(rest, "https://"):
		l.Scheme, rest = "https", rest[len("https://"):]
	default:
		rest = strings.TrimPrefix(rest, "docker://")
	}
	rest, l.Digest = cutDigest(rest)
	first, path, hasSlash := strings.Cut(rest, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		l.Host = first
	} else {
		l.Host, path = DockerHub, rest
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
	}
	slash := strings.LastIndexByte(path, '/')
	if i := strings.LastIndexByte(path, ':'); i > slash {
		path, l.Tag = path[:i], path[i+1:]
	}
	if path == "" {
		return Location{}, fmt.Errorf("%q: no repository", s)
	}
	l.Repo = path
	if l.Scheme == "" {
		l.Scheme = "https"
		if loopback(l.Host) {
			l.Scheme = "http"
		}
	}
	return l, l.validDigest(s)
}

func cutDigest(s string) (string, digest.Digest) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], digest.Digest(s[i+1:])
	}
	return s, ""
}

func (l Location) validDigest(s string) error {
	if l.Digest == "" {
		return nil
	}
	if err := l.Digest.Validate(); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// loopback reports whether host (with an optional port) is this machine.
func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Ref returns what to resolve in the store: the digest when there is
// one, else the tag ("" for the default).
func (l Location) Ref() string {
	if l.Digest != "" {
		return l.Digest.String()
	}
	return l.Tag
}

// String formats l the way ParseLocation reads it.
func (l Location) String() string {
	var s string
	switch l.Kind {
	case KindLayout, KindArchive:
		s = l.Kind + ":" + l.Path
	default:
		s = l.Host + "/" + l.Repo
		if l.Scheme == "http" && !loopback(l.Host) {
			s = "http://" + s
		}
	}
	if l.Tag != "" {
		s += ":" + l.Tag
	}
	if l.Digest != "" {
		s += "@" + l.Digest.String()
	}
	return s
}

// BaseURL returns the registry's base URL.
func (l Location) BaseURL() string { return l.Scheme + "://" + l.Host }

// OpenOptions are the knobs of Open. A nil *OpenOptions uses docker's
// credentials (authn.DefaultKeychain) and the default client.
type OpenOptions struct {
	// Client makes the client of a registry; nil: NewClient(base,
	// WithKeychain(Keychain), ClientOptions...).
	Client func(base string) *Client
	// Keychain finds credentials (authn.DefaultKeychain when nil: docker's
	// config.json and credential helpers).
	Keychain authn.Keychain
	// ClientOptions are added to the options of NewClient.
	ClientOptions []Option
	// TmpDir is where archives are unpacked ("" for the system's).
	TmpDir string
}

// Open returns the Store l names. The caller must Close it.
func Open(_ context.Context, l Location, opts *OpenOptions) (Store, error) {
	var o OpenOptions
	if opts != nil {
		o = *opts
	}
	switch l.Kind {
	case KindLayout:
		return OpenLayout(l.Path)
	case KindArchive:
		return OpenArchive(l.Path, o.TmpDir)
	case KindRegistry:
		if o.Client != nil {
			return NewRepository(o.Client(l.BaseURL()), l.Repo), nil
		}
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		return NewRepository(NewClient(l.BaseURL(), append([]Option{WithKeychain(kc)}, o.ClientOptions...)...), l.Repo), nil
	}
	return nil, fmt.Errorf("unknown location kind %q", l.Kind)
}
