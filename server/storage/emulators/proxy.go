package emulators

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Request is one request a Proxy forwarded to its emulator.
type Request struct {
	Method string
	// Path is the request's path (bucket and key, escaped as sent).
	Path string
	// Range is the byte range asked for (S3 and GCS "Range", Azure
	// "x-ms-range"), "" for none.
	Range string
}

// Ranged reports whether r is a read of a byte range.
func (r Request) Ranged() bool { return r.Method == http.MethodGet && r.Range != "" }

// String returns "METHOD path [range]".
func (r Request) String() string {
	if r.Range != "" {
		return r.Method + " " + r.Path + " [" + r.Range + "]"
	}
	return r.Method + " " + r.Path
}

// Proxy is a reverse proxy on a free loopback port in front of an
// emulator that records every request it forwards: a test opens its
// bucket through the proxy (URL, NewBucket) and counts the calls the
// storage layer makes. The traffic is real: the proxy forwards each
// request unchanged (Host included, so request signatures stay valid).
type Proxy struct {
	e   *Emulator
	srv *httptest.Server

	mu   sync.Mutex
	reqs []Request
	drop bool
	sent atomic.Int64 // request body bytes forwarded
}

// Proxy starts a counting proxy in front of e, stopped when t ends. Only
// S3 and Azure buckets can be opened through it: the GCS driver takes its
// endpoint from the process environment (STORAGE_EMULATOR_HOST), which
// the other tests of the process share.
func (e *Emulator) Proxy(t testing.TB) *Proxy {
	t.Helper()
	if e.Kind == GCS {
		t.Fatal("emulators: a GCS bucket cannot be opened through a proxy (its endpoint is the process's STORAGE_EMULATOR_HOST)")
	}
	target := &url.URL{Scheme: "http", Host: e.Addr}
	p := &Proxy{e: e}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // signed by the client
		},
		// The emulator is down: a load balancer's answer, without a log.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rg := r.Header.Get("X-Ms-Range")
		if rg == "" {
			rg = r.Header.Get("Range")
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, Request{Method: r.Method, Path: r.URL.EscapedPath(), Range: rg})
		drop := p.drop
		p.mu.Unlock()
		if r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, n: &p.sent}
		}
		if drop {
			// The connection ends before a response, as when a server dies
			// in the middle of a request.
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// NewBucket creates an empty bucket on the emulator (directly, not
// counted) and returns the gocloud URL that opens it through the proxy.
func (p *Proxy) NewBucket(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(p.e.NewBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	return p.URL(u.Host)
}

// URL returns the gocloud URL of bucket name on the emulator, through
// the proxy.
func (p *Proxy) URL(name string) string {
	switch p.e.Kind {
	case S3:
		return "s3://" + name + "?endpoint=http://" + p.Addr() + "&use_path_style=true&region=us-east-1"
	case Azure:
		return "azblob://" + name + "?protocol=http&domain=" + p.Addr() + "&localemu=true"
	}
	panic(fmt.Sprintf("emulators: no proxy URL for %s", p.e.Kind))
}

// Drop makes the proxy close every connection on which a request arrives,
// without an answer (on), or forward requests again (off). Dropped
// requests are recorded too.
func (p *Proxy) Drop(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = on
}

// Sent returns the request body bytes forwarded since the last call, and
// starts counting again.
func (p *Proxy) Sent() int64 { return p.sent.Swap(0) }

// countingBody adds what is read of a request body to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// Take returns the requests forwarded since the last Take (or the start)
// and forgets them.
func (p *Proxy) Take() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}
