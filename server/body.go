package server

import (
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"time"

	"github.com/regkit/regkit/server/core"
)

// Request bodies. guard wraps every request body so that
//
//   - an error reading it — a client that sent less than its
//     Content-Length, broke its chunked encoding or went away — is
//     recognisable as the client's (*bodyError) wherever it surfaces: the
//     error writers answer it with a 400 in the protocol's format, never a
//     500;
//   - it arrives at a minimum rate (WithMinBodyRate): every window must
//     bring rate×window bytes, else the read fails (408). The storage
//     layer then releases an upload session unchanged, so a client that
//     trickles bytes cannot hold a session's lease, a connection and two
//     file descriptors forever. The rate is enforced with a read deadline
//     on the connection (http.ResponseController), so a blocked read ends
//     too; where the connection has no deadlines (an
//     httptest.ResponseRecorder) the rate is not enforced.

// Defaults of WithMinBodyRate.
const (
	// DefaultMinBodyRate is the slowest a request body may arrive, in
	// bytes per second averaged over DefaultMinBodyWindow (1 KiB/s).
	DefaultMinBodyRate = 1 << 10
	// DefaultMinBodyWindow is the window over which the rate is averaged,
	// and so the longest a body may stall.
	DefaultMinBodyWindow = 30 * time.Second
)

// WithMinBodyRate sets the minimum rate of request bodies: each window of
// the given length must bring at least bytesPerSecond×window bytes, or the
// request fails with 408 (BLOB_UPLOAD_INVALID on /v2) and nothing of it is
// stored. The first window starts when the handler starts reading the
// body, and the window restarts whenever it has brought its bytes. The
// default is DefaultMinBodyRate over DefaultMinBodyWindow; a rate or
// window of 0 disables the check.
func WithMinBodyRate(bytesPerSecond int64, window time.Duration) Option {
	return func(o *options) { o.minBodyRate, o.minBodyWindow = max(bytesPerSecond, 0), max(window, 0) }
}

// wrapBody returns r with its body wrapped (a shallow copy: net/http keeps
// the original request, so its own handling of unread bodies is
// unchanged).
func (s *Server) wrapBody(w http.ResponseWriter, r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	b := &body{rc: r.Body, info: core.Info(r.Context())}
	if rate, window := s.opts.minBodyRate, s.opts.minBodyWindow; rate > 0 && window > 0 {
		ctl := http.NewResponseController(w)
		// Until the handler reads, the deadline bounds what net/http reads
		// of an unread body after the handler.
		if ctl.SetReadDeadline(time.Now().Add(window)) == nil {
			b.ctl, b.rate, b.window = ctl, rate, window
			b.need = int64(min(float64(rate)*window.Seconds(), math.MaxInt64/2))
		}
	}
	r2 := r.WithContext(r.Context())
	r2.Body = b
	return r2
}

// body is a wrapped request body.
type body struct {
	rc   io.ReadCloser
	info *core.RequestInfo // counts the bytes read (nil: none)

	// The rate check (ctl nil: none).
	ctl     *http.ResponseController
	rate    int64
	window  time.Duration
	need    int64 // bytes per window
	got     int64 // bytes in the current window
	started bool
	done    bool // EOF seen, deadline cleared
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.ctl != nil && !b.started {
		b.started = true
		b.restart()
	}
	n, err := b.rc.Read(p)
	if b.info != nil {
		b.info.BytesIn.Add(int64(n))
	}
	if b.ctl != nil && !b.done {
		b.got += int64(n)
		switch {
		case err == io.EOF:
			// The handler goes on without the body: no deadline may cut
			// net/http's background read of the connection (it would
			// cancel the request's context).
			b.done = true
			_ = b.ctl.SetReadDeadline(time.Time{})
		case b.got >= b.need:
			b.restart()
		}
	}
	if err != nil && err != io.EOF {
		be := &core.BodyError{Err: err}
		if b.ctl != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			be.Rate, be.Window = b.rate, b.window
		}
		return n, be
	}
	return n, err
}

// restart begins a new window.
func (b *body) restart() {
	b.got = 0
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.window))
}

// Close implements io.Closer.
func (b *body) Close() error { return b.rc.Close() }
