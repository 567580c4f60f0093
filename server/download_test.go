package server_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
)

// getRaw sends a GET of path on a new connection to base and returns the
// connection and its reader, positioned after the response's headers, and
// the response.
func getRaw(t *testing.T, base, path string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 1<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

// TestSlowDownloads: a client that stops reading a response loses the
// connection once it falls a window behind the minimum download rate,
// while one that reads gets every byte; the check cuts a sendfile(2)
// response (file storage) and a copied one (mem) alike; and a deadline a
// response left on a kept-alive connection does not break the next
// request's 100 Continue.
func TestSlowDownloads(t *testing.T) {
	const (
		window = 300 * time.Millisecond
		size   = 48 << 20 // more than loopback's socket buffers hold
	)
	blob := bytes.Repeat([]byte("regkit slow reader "), size/19+1)[:size]
	d := digest.FromBytes(blob)
	for _, bucket := range []string{"file", "mem"} {
		for _, rate := range []int64{1 << 20, 0} {
			t.Run(fmt.Sprintf("%s/rate=%d", bucket, rate), func(t *testing.T) {
				url := "mem://"
				if bucket == "file" {
					url, _ = fileBucket(t)
				}
				base := newServer(t, memmeta.New(), url, server.WithMinDownloadRate(rate, window))
				if resp, _ := do(t, http.MethodPost, base+"/v2/slow/read/blobs/uploads/?digest="+d.String(), bytes.NewReader(blob)); resp.StatusCode != http.StatusCreated {
					t.Fatalf("push: %d", resp.StatusCode)
				}
				path := "/v2/slow/read/blobs/" + d.String()

				// A reader that keeps up gets the blob, byte-exact.
				_, br, resp := getRaw(t, base, path)
				h := sha256.New()
				if n, err := io.Copy(h, io.LimitReader(br, resp.ContentLength)); err != nil || n != size || digest.NewDigest(digest.SHA256, h) != d {
					t.Fatalf("reader that keeps up: %d of %d bytes, %v", n, size, err)
				}

				// A reader that stalls for several windows.
				_, br, resp = getRaw(t, base, path)
				if resp.StatusCode != http.StatusOK || resp.ContentLength != size {
					t.Fatalf("GET: %d, %d bytes", resp.StatusCode, resp.ContentLength)
				}
				time.Sleep(6 * window)
				n, err := io.Copy(io.Discard, io.LimitReader(br, resp.ContentLength))
				if rate > 0 && n == size {
					t.Fatalf("a reader that stalled for %v got all %d bytes: the response was not cut", 6*window, n)
				}
				if rate == 0 && (n != size || err != nil) {
					t.Fatalf("without a minimum rate, the stalled reader got %d of %d bytes (%v)", n, size, err)
				}

				// Kept alive: a small response, then a request with Expect:
				// 100-continue well after the deadline that response left.
				c, br, resp := getRaw(t, base, "/v2/")
				_, _ = io.Copy(io.Discard, io.LimitReader(br, resp.ContentLength))
				time.Sleep(3 * window)
				small := []byte("after the deadline")
				sd := digest.FromBytes(small)
				fmt.Fprintf(c, "POST /v2/slow/read/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", sd, len(small))
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
					t.Fatalf("100 Continue on the kept-alive connection: %q, %v", line, err)
				}
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write(small); err != nil {
					t.Fatal(err)
				}
				resp, err = http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusCreated {
					t.Fatalf("upload after 100 Continue: %v, %v", resp, err)
				}
			})
		}
	}
}
