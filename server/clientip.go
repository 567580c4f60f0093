package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Client addresses. Rate limits, failed-login lockouts and the access log
// key on the client's IP. It is the peer's address unless the peer is a
// trusted proxy (WithTrustedProxies): then X-Forwarded-For is read from
// the right — each proxy appends the address it received the request
// from — past every trusted address, and the first untrusted one is the
// client. Addresses left of it were written by the client itself and are
// never believed, so a client cannot pick its own rate-limit bucket. An
// entry that is not an IP address ends the walk at the hop that wrote it.

// WithTrustedProxies names the load balancers and reverse proxies in
// front of the server (addresses as one-address prefixes). Without any,
// X-Forwarded-For is ignored.
func WithTrustedProxies(prefixes []netip.Prefix) Option {
	return func(o *options) { o.trustedProxies = append([]netip.Prefix(nil), prefixes...) }
}

// ParseTrustedProxies parses a comma-separated list of addresses and
// CIDR prefixes ("10.0.0.0/8, 192.0.2.7, ::1").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// trusted reports whether a is one of the trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.opts.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP returns the IP address of the client of r.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.opts.trustedProxies) == 0 {
		return host
	}
	hop, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(hop) {
		return host
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var item string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, item = line[:j], line[j+1:]
			} else {
				line, item = "", line
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return hop.Unmap().String()
			}
			if hop = a; !s.trusted(a) {
				return a.Unmap().String()
			}
		}
	}
	return hop.Unmap().String() // every hop is trusted: the first one
}
