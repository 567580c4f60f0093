package server

import (
	"net/http"
	"testing"
)

// TestClientIP: X-Forwarded-For is believed only from trusted proxies,
// read from the right past every trusted hop; what the client wrote left
// of that is ignored, and a malformed entry ends the walk at the hop that
// wrote it.
func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,::1,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "1.2.3", "10.0.0.1/8/2"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted it", bad)
		}
	}
	trusting := &Server{opts: options{trustedProxies: proxies}}
	plain := &Server{}
	for _, c := range []struct {
		peer    string
		xff     []string
		want    string // with the proxies trusted
		wantRaw string // with none
	}{
		{"203.0.113.5:4000", nil, "203.0.113.5", "203.0.113.5"},
		{"203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5", "203.0.113.5"}, // untrusted peer: header ignored
		{"10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1", "10.1.2.3"},
		{"10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1", "10.1.2.3"},    // 6.6.6.6 is the client's own claim
		{"10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1, 192.0.2.7"}, "198.51.100.1", "10.1.2.3"}, // several header lines
		{"10.1.2.3:80", []string{"198.51.100.1, garbage, 10.9.9.9"}, "10.9.9.9", "10.1.2.3"},        // garbage ends the walk at its writer
		{"10.1.2.3:80", []string{"10.4.4.4, 192.0.2.7"}, "10.4.4.4", "10.1.2.3"},                    // all trusted: the first
		{"[::1]:80", []string{"2001:db8::9"}, "2001:db8::9", "::1"},
		{"[::ffff:10.1.2.3]:80", []string{"::ffff:198.51.100.1"}, "198.51.100.1", "::ffff:10.1.2.3"},
		{"10.1.2.3:80", []string{""}, "10.1.2.3", "10.1.2.3"},
		{"not-an-address", []string{"198.51.100.1"}, "not-an-address", "not-an-address"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := trusting.clientIP(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q, trusted proxies: %s, want %s", c.peer, c.xff, got, c.want)
		}
		if got := plain.clientIP(r); got != c.wantRaw {
			t.Errorf("peer %s, X-Forwarded-For %q, no trusted proxies: %s, want %s", c.peer, c.xff, got, c.wantRaw)
		}
	}
}
