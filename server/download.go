package server

import (
	"io"
	"math"
	"net/http"
	"time"
)

// Responses. guard's responseWriter makes every response body leave at a
// minimum rate (WithMinDownloadRate): it writes in pieces of rate×window
// bytes and gives each piece a write deadline of one window on the
// connection (http.ResponseController), so a client that stops reading —
// or reads a blob at a byte a second — fails its write within a window of
// falling behind, and the connection, its goroutine and the open blob are
// released. Pieces of a sendfile(2) response stay sendfile: the piece is
// cut by shortening the *io.LimitedReader storage hands over, never by
// wrapping it. A response smaller than a piece costs one deadline (a
// runtime timer, no system call), and one more covers net/http's final
// flush after the handler. Where the connection has no deadlines
// (an httptest.ResponseRecorder) the rate is not enforced.

// Defaults of WithMinDownloadRate.
const (
	// DefaultMinDownloadRate is the slowest a response may be read, in
	// bytes per second averaged over DefaultMinDownloadWindow (4 KiB/s).
	DefaultMinDownloadRate = 4 << 10
	// DefaultMinDownloadWindow is the window over which the rate is
	// averaged, and so the longest a reader may stall.
	DefaultMinDownloadWindow = 30 * time.Second
)

// minPiece is the smallest piece a response is cut into, whatever the
// rate and window say (a window that must carry a few bytes is not worth
// a deadline per few bytes).
const minPiece = 4 << 10

// WithMinDownloadRate sets the minimum rate at which clients must read
// responses: each window of the given length must take at least
// bytesPerSecond×window bytes of the response, or the write fails and the
// connection is closed (the status was sent; the client sees a short
// body). The default is DefaultMinDownloadRate over
// DefaultMinDownloadWindow; a rate or window of 0 disables the check.
func WithMinDownloadRate(bytesPerSecond int64, window time.Duration) Option {
	return func(o *options) { o.minDownloadRate, o.minDownloadWindow = max(bytesPerSecond, 0), max(window, 0) }
}

// pace is the download rate check of one response (the zero value: none).
type pace struct {
	ctl    *http.ResponseController
	window time.Duration
	piece  int64 // bytes per window
	on     bool  // checked, on a connection with deadlines
}

// newPace returns the rate check of a response written to w.
func (s *Server) newPace(w http.ResponseWriter) pace {
	rate, window := s.opts.minDownloadRate, s.opts.minDownloadWindow
	if rate <= 0 || window <= 0 {
		return pace{}
	}
	piece := int64(min(float64(rate)*window.Seconds(), math.MaxInt64/2))
	return pace{ctl: http.NewResponseController(w), window: window, piece: max(piece, minPiece), on: true}
}

// finish gives what net/http flushes after the handler one more window
// (net/http clears the deadline after that flush, so the next request on
// the connection starts without one).
func (p *pace) finish() { p.arm() }

// arm gives the next piece its deadline; false when the connection has
// none (the check is off from then on).
func (p *pace) arm() bool {
	if p.on && p.ctl.SetWriteDeadline(time.Now().Add(p.window)) != nil {
		p.on = false
	}
	return p.on
}

// write writes b to w in pieces, each under its deadline.
func (p *pace) write(w io.Writer, b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if !p.arm() {
			m, err := w.Write(b)
			return n + m, err
		}
		k := int(min(int64(len(b)), p.piece))
		m, err := w.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// copy copies r to w in pieces, each under its deadline (io.Copy: w's
// ReadFrom, sendfile for a file). An *io.LimitedReader (storage's
// sendfile path) is cut by its N, so the connection still sees the
// *os.File beneath it.
func (p *pace) copy(w io.Writer, r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		lr = &io.LimitedReader{R: r, N: math.MaxInt64}
	}
	var total int64
	for lr.N > 0 {
		if !p.arm() {
			n, err := io.Copy(w, lr)
			return total + n, err
		}
		left := lr.N
		k := min(left, p.piece)
		lr.N = k
		n, err := io.Copy(w, lr)
		lr.N = left - n
		total += n
		if err != nil || n < k {
			return total, err // an error, or the reader's end
		}
	}
	return total, nil
}
