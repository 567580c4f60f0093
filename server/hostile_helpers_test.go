package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest sends head (the request line and headers, without the blank
// line) and body over a new connection to base, half-closes it when
// closeWrite is set, and reads the response within 30 s. It fails the
// test when no response comes.
func rawRequest(t *testing.T, base, head string, body []byte, closeWrite bool) (*http.Response, []byte) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: no response: %v", firstLine(head), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", firstLine(head), err)
	}
	return resp, b
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// expectFormat checks that an error response to path has status and is
// in the format of path's protocol: OCI JSON errors with code (when not
// "") under /v2 and elsewhere, plain text under /api/packages, JSON
// {"message","url"} under /api/v1. HEAD responses have no body to check.
func expectFormat(t *testing.T, method, path string, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	what := method + " " + path
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d (body %q)", what, resp.StatusCode, status, body)
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(path, "/api/packages/"):
		if !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("%s: Content-Type %q, want text/plain", what, ct)
		}
		if method != http.MethodHead && len(bytes.TrimSpace(body)) == 0 {
			t.Fatalf("%s: empty error message", what)
		}
	case strings.HasPrefix(path, "/api/v1/"):
		var e struct {
			Message string `json:"message"`
			URL     string `json:"url"`
		}
		if !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s: Content-Type %q, want JSON", what, ct)
		}
		if method != http.MethodHead && (json.Unmarshal(body, &e) != nil || e.Message == "") {
			t.Fatalf("%s: body %q is not {\"message\",\"url\"}", what, body)
		}
	default:
		var e struct {
			Errors []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s: Content-Type %q, want JSON", what, ct)
		}
		if method == http.MethodHead {
			return
		}
		if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 || e.Errors[0].Message == "" {
			t.Fatalf("%s: body %q is not OCI JSON errors", what, body)
		}
		if code != "" && e.Errors[0].Code != code {
			t.Fatalf("%s: code %s, want %s (%s)", what, e.Errors[0].Code, code, e.Errors[0].Message)
		}
	}
}

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// logger returns a logger writing every level to l.
func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// errors returns the lines logged at level ERROR.
func (l *logBuffer) errors() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}
