package conformance

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Exchange is one recorded HTTP request and its response, as the HTML
// report shows it. Bodies are cut to the Config's MaxBody; credentials in
// headers are redacted.
type Exchange struct {
	// Time is when the request was sent.
	Time time.Time `json:"time"`
	// Duration is how long the response took.
	Duration time.Duration `json:"duration"`
	// Method and URL are the request line.
	Method string `json:"method"`
	// URL is the absolute request URL.
	URL string `json:"url"`
	// RequestHeader are the request headers, redacted.
	RequestHeader http.Header `json:"requestHeader,omitempty"`
	// RequestBody is the start of the request body.
	RequestBody string `json:"requestBody,omitempty"`
	// RequestSize is the full size of the request body.
	RequestSize int64 `json:"requestSize"`
	// Status is the response status code; 0 when the request failed.
	Status int `json:"status"`
	// ResponseHeader are the response headers, redacted.
	ResponseHeader http.Header `json:"responseHeader,omitempty"`
	// ResponseBody is the start of the response body.
	ResponseBody string `json:"responseBody,omitempty"`
	// ResponseSize is the full size of the response body.
	ResponseSize int64 `json:"responseSize"`
	// Error is the transport error, if the request failed.
	Error string `json:"error,omitempty"`
	// Note says why the request was sent when the suite did not send it
	// itself (an auth token fetch, a followed redirect).
	Note string `json:"note,omitempty"`
}

// sensitive headers are redacted in recorded exchanges.
var sensitive = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

func redactHeader(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	c := h.Clone()
	for _, k := range sensitive {
		if vs := c.Values(k); len(vs) > 0 {
			for i, v := range vs {
				scheme, _, _ := strings.Cut(v, " ")
				if scheme == v || k == "Cookie" || k == "Set-Cookie" {
					vs[i] = Redacted
				} else {
					vs[i] = scheme + " " + Redacted
				}
			}
			c[http.CanonicalHeaderKey(k)] = vs
		}
	}
	return c
}

// clip returns at most n bytes of b as text, marking binary or cut content.
func clip(b []byte, n int) string {
	if len(b) == 0 {
		return ""
	}
	cut := len(b) > n
	if cut {
		b = b[:n]
	}
	printable := true
	for _, c := range b {
		if c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f {
			printable = false
			break
		}
	}
	var s string
	if printable {
		s = strings.ToValidUTF8(string(b), "\uFFFD")
	} else {
		const hexdigits = "0123456789abcdef"
		var sb strings.Builder
		sb.WriteString("(binary) ")
		for i, c := range b {
			if i >= n/2 {
				break
			}
			sb.WriteByte(hexdigits[c>>4])
			sb.WriteByte(hexdigits[c&15])
		}
		s = sb.String()
	}
	if cut {
		s += " …(cut)"
	}
	return s
}

// Recorder keeps the exchanges since its last Mark, for the spec that is
// running. It is safe for concurrent use (specs may send requests from
// several goroutines).
type Recorder struct {
	mu    sync.Mutex
	log   []Exchange
	limit int
}

// NewRecorder returns a Recorder that keeps at most limit exchanges (the
// newest) between marks.
func NewRecorder(limit int) *Recorder {
	if limit <= 0 {
		limit = 50
	}
	return &Recorder{limit: limit}
}

// Add records an exchange.
func (r *Recorder) Add(e Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, e)
	if len(r.log) > r.limit {
		r.log = append(r.log[:0:0], r.log[len(r.log)-r.limit:]...)
	}
}

// Mark forgets every recorded exchange; call it when a spec starts.
func (r *Recorder) Mark() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
}

// Exchanges returns the exchanges recorded since the last Mark.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.log...)
}
