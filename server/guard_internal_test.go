package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// panicServer is a Server whose router has only the handlers of routes
// (path → handler), under guard like every request.
func panicServer(t *testing.T, log *slog.Logger, routes map[string]bunrouter.HandlerFunc) string {
	t.Helper()
	meta := memmeta.New()
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := New(meta, st, WithLogger(log), WithMinBodyRate(0, 0))
	r := bunrouter.New(bunrouter.Use(s.logRequests))
	for p, h := range routes {
		r.Handle(http.MethodPut, p, h)
		r.Handle(http.MethodGet, p, h)
	}
	s.router = r
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestPanicAfterHeaders: a panic once the response has started aborts the
// connection (the client must not take a cut body for a whole one), and
// is logged with its stack.
func TestPanicAfterHeaders(t *testing.T) {
	var logs syncBuffer
	base := panicServer(t, slog.New(slog.NewTextHandler(&logs, nil)), map[string]bunrouter.HandlerFunc{
		"/v2/late": func(w http.ResponseWriter, _ bunrouter.Request) error {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			w.(interface{ Unwrap() http.ResponseWriter }).Unwrap().(http.Flusher).Flush()
			panic("late panic")
		},
	})
	resp, err := http.Get(base + "/v2/late")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a response cut by a panic read as complete")
	}
	if out := logs.String(); !strings.Contains(out, "late panic") || !strings.Contains(out, "goroutine ") {
		t.Fatalf("the late panic was not logged with its stack:\n%s", out)
	}
}

// TestPanicWithUnreadBody: a handler that panics before reading its body
// gets a 500 promptly, and the connection is closed at once instead of
// waiting for the rest of a stalled body.
func TestPanicWithUnreadBody(t *testing.T) {
	base := panicServer(t, slog.New(slog.NewTextHandler(io.Discard, nil)), map[string]bunrouter.HandlerFunc{
		"/v2/early": func(http.ResponseWriter, bunrouter.Request) error { panic(errors.New("early panic")) },
	})
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "PUT /v2/early HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\nabc", host)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !resp.Close || !bytes.Contains(body, []byte(`"UNKNOWN"`)) {
		t.Fatalf("panic answered %d (close %v) %s", resp.StatusCode, resp.Close, body)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("more bytes after the 500")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stayed open, waiting for the unread body")
	}
}
