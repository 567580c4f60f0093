package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeLimitFlags: the connection and body limits are flags (and
// REGKIT_* variables), with bounded defaults.
func TestServeLimitFlags(t *testing.T) {
	d := defaultServeConfig()
	if d.IdleTimeout <= 0 || d.ReadHeaderTimeout <= 0 || d.MaxHeaderBytes <= 0 || d.MinUploadRate <= 0 || d.MinUploadWindow <= 0 ||
		d.MinDownloadRate <= 0 || d.MinDownloadWindow <= 0 {
		t.Fatalf("unbounded defaults: %+v", d.httpLimits)
	}
	t.Setenv("REGKIT_MIN_UPLOAD_WINDOW", "7s")
	t.Setenv("REGKIT_TRUSTED_PROXIES", "10.0.0.0/8")
	cfg := defaultServeConfig()
	fs := newServeFlags(&cfg)
	var configPath string
	fs.StringVar(&configPath, "config", "", "")
	args := []string{"--idle-timeout", "5s", "--read-header-timeout", "2s", "--max-header-bytes", "16KiB", "--min-upload-rate", "0",
		"--min-download-rate", "8KiB", "--min-download-window", "9s"}
	if err := loadConfig(fs, args, &cfg, &configPath); err != nil {
		t.Fatal(err)
	}
	want := httpLimits{IdleTimeout: 5 * time.Second, ReadHeaderTimeout: 2 * time.Second, MaxHeaderBytes: 16 << 10, MinUploadRate: 0, MinUploadWindow: 7 * time.Second,
		MinDownloadRate: 8 << 10, MinDownloadWindow: 9 * time.Second, TrustedProxies: "10.0.0.0/8"}
	if cfg.httpLimits != want {
		t.Fatalf("limits %+v, want %+v", cfg.httpLimits, want)
	}
	bad := defaultServeConfig()
	bad.Data, bad.TrustedProxies = t.TempDir(), "10.0.0.0/33"
	if err := serve(t.Context(), bad, slog.New(slog.DiscardHandler), nil); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "trusted-proxies") {
		t.Fatalf("serve with -trusted-proxies 10.0.0.0/33: %v, want a usage error naming the flag", err)
	}
}

// TestServeLimits runs regkit serve with short limits: an idle
// keep-alive connection is closed, so is one whose headers do not come,
// oversized headers get 431, and an upload that trickles gets 408 while
// its session stays usable.
func TestServeLimits(t *testing.T) {
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.GCInterval = 0
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.MaxHeaderBytes = 8 << 10
	cfg.MinUploadRate = 1 << 10
	cfg.MinUploadWindow = 300 * time.Millisecond
	addr, stop := startServe(t, cfg)
	defer stop()

	// closed reports whether the server closes conn within 10 s.
	closed := func(t *testing.T, conn net.Conn, r *bufio.Reader) {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := r.ReadByte()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept the connection open")
		}
		if err == nil {
			t.Fatal("the server sent more bytes")
		}
	}
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}

	t.Run("idle", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprintf(conn, "GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("GET /v2/: %d, close %v", resp.StatusCode, resp.Close)
		}
		closed(t, conn, r)
	})
	t.Run("slow headers", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprintf(conn, "GET /v2/ HTTP/1.1\r\nHost: %s\r\n", addr) // no end of headers
		closed(t, conn, r)
	})
	t.Run("large headers", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprintf(conn, "GET /v2/ HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\n\r\n", addr, strings.Repeat("b", 64<<10))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("64 KiB of headers: %d, want 431", resp.StatusCode)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		resp, err := http.Post("http://"+addr+"/v2/slow/body/blobs/uploads/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusAccepted || loc == "" {
			t.Fatalf("upload start: %d", resp.StatusCode)
		}
		conn, r := dial(t)
		fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1048576\r\n\r\nx", loc, addr)
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err = http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("no answer to a trickling PATCH: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("trickling PATCH: %d, want 408", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPatch, "http://"+addr+loc, strings.NewReader("abc"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-2" {
			t.Fatalf("PATCH after the trickling one: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
		}
	})
}
