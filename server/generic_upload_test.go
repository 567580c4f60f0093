package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestGenericResumableInterrupted cuts a resumable upload midway (the
// client disconnects inside a chunk), then resumes from the offset the
// server reports and finishes: the file is intact and its four sums are
// right. It runs on file storage with each metadata store, and on memory
// storage.
func TestGenericResumableInterrupted(t *testing.T) {
	for _, kind := range append(metaKinds, "mem-bucket") {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			meta := kind
			if kind == "mem-bucket" {
				bucket, meta = "mem://", "mem"
			}
			base := newServer(t, newMeta(t, meta), bucket)
			data := make([]byte, 3<<20+123)
			for i := range data {
				data[i] = byte(i*7 + i>>10)
			}
			file := base + "/api/packages/o/generic/big/1.0.0/data.bin"
			resp, body := do(t, "POST", file+"/uploads", nil, "Content-Type", "application/x-custom")
			loc := resp.Header.Get("Location")
			if resp.StatusCode != 202 || !strings.HasPrefix(loc, "/api/packages/o/generic/big/1.0.0/data.bin/uploads/") || resp.Header.Get("Range") != "0-0" {
				t.Fatalf("start: %d %s %v", resp.StatusCode, body, resp.Header)
			}
			const first = 1 << 20
			resp, body = do(t, "PATCH", base+loc, bytes.NewReader(data[:first]), "Content-Range", fmt.Sprintf("0-%d", first-1))
			if resp.StatusCode != 202 || resp.Header.Get("Range") != fmt.Sprintf("0-%d", first-1) {
				t.Fatalf("first chunk: %d %s %v", resp.StatusCode, body, resp.Header)
			}

			// The second chunk is cut: the client announces 1 MiB, sends
			// half of it and goes away.
			host := strings.TrimPrefix(base, "http://")
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Range: %d-%d\r\nContent-Length: %d\r\n\r\n", loc, host, first, 2*first-1, first)
			_, _ = conn.Write(data[first : first+first/2])
			_ = conn.Close()

			// The server reports the last complete offset: the cut chunk
			// is dropped.
			resp, _ = do(t, "GET", base+loc, nil)
			if offset := resp.Header.Get("Upload-Offset"); resp.StatusCode != 204 || offset != fmt.Sprint(first) {
				t.Fatalf("offset after the cut: %s (status %d)", offset, resp.StatusCode)
			}
			// A chunk at the wrong offset: 416 with the current Range.
			resp, _ = do(t, "PATCH", base+loc, bytes.NewReader(data[:10]), "Content-Range", "5-14")
			if resp.StatusCode != 416 || resp.Header.Get("Range") != fmt.Sprintf("0-%d", first-1) {
				t.Fatalf("wrong offset: %d %v", resp.StatusCode, resp.Header)
			}
			// Resume: the rest as a chunk and a final PUT with the tail.
			// Until the server has noticed the disconnect, the cut write
			// holds the session: 409 with Retry-After and the same Range,
			// and the client retries.
			for range 200 {
				resp, body = do(t, "PATCH", base+loc, bytes.NewReader(data[first:3<<20]), "Content-Range", fmt.Sprintf("%d-%d", first, 3<<20-1))
				if resp.StatusCode != 409 {
					break
				}
				if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Range") != fmt.Sprintf("0-%d", first-1) {
					t.Fatalf("busy session: %d %v, want Retry-After and the Range", resp.StatusCode, resp.Header)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if resp.StatusCode != 202 {
				t.Fatalf("resume: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, "PUT", base+loc, bytes.NewReader(data[3<<20:]))
			if resp.StatusCode != 201 || resp.Header.Get("Location") != "/api/packages/o/generic/big/1.0.0/data.bin" {
				t.Fatalf("finish: %d %s", resp.StatusCode, body)
			}
			if resp, _ := do(t, "GET", base+loc, nil); resp.StatusCode != 404 {
				t.Fatalf("session after finish: %d", resp.StatusCode)
			}
			resp, got := do(t, "GET", file, nil)
			if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "application/x-custom" {
				t.Fatalf("download: %d, %d bytes, %v", resp.StatusCode, len(got), resp.Header)
			}
			_, body = do(t, "GET", base+"/api/v1/packages/o/generic/big/1.0.0/files", nil)
			var files []struct{ MD5, SHA1, SHA256, SHA512 string }
			if err := json.Unmarshal(body, &files); err != nil || len(files) != 1 {
				t.Fatalf("files: %s", body)
			}
			s := sumsOf(data)
			if files[0].MD5 != s.md5 || files[0].SHA1 != s.sha1 || files[0].SHA256 != s.sha256 || files[0].SHA512 != s.sha512 {
				t.Fatalf("sums %+v, want %+v", files[0], s)
			}
		})
	}
}

// TestGenericResumableCancel cancels a session: 204, then 404.
func TestGenericResumableCancel(t *testing.T) {
	base := newServer(t, newMeta(t, "mem"), "mem://")
	resp, _ := do(t, "POST", base+"/api/packages/o/generic/p/1/f/uploads", nil)
	loc := resp.Header.Get("Location")
	if resp, _ := do(t, "PATCH", base+loc, strings.NewReader("abc")); resp.StatusCode != 202 {
		t.Fatalf("chunk: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", base+loc, nil); resp.StatusCode != 204 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		if resp, _ := do(t, m, base+loc, io.NopCloser(strings.NewReader(""))); resp.StatusCode != 404 {
			t.Fatalf("%s after cancel: %d", m, resp.StatusCode)
		}
	}
	// A session of another file is unknown.
	resp, _ = do(t, "POST", base+"/api/packages/o/generic/p/1/f/uploads", nil)
	other := strings.Replace(resp.Header.Get("Location"), "/f/uploads/", "/g/uploads/", 1)
	if resp, _ := do(t, "GET", base+other, nil); resp.StatusCode != 404 {
		t.Fatalf("session of another file: %d", resp.StatusCode)
	}
}

// TestGenericChunkLengthMustMatchContentRange: a chunk whose body is
// shorter or longer than its Content-Range is refused with 400 and
// dropped whole; the upload keeps its offset and finishes with the right
// bytes. A range whose length overflows is refused too.
func TestGenericChunkLengthMustMatchContentRange(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			base := newServer(t, newMeta(t, kind), bucket)
			file := base + "/api/packages/o/generic/exact/1.0.0/f.bin"
			resp, body := do(t, "POST", file+"/uploads", nil)
			if resp.StatusCode != 202 {
				t.Fatalf("start: %d %s", resp.StatusCode, body)
			}
			loc := base + resp.Header.Get("Location")
			for _, c := range []struct {
				name, rng, body string
				status          int
			}{
				{"short body", "0-9", "abc", 400},
				{"long body", "0-2", "abcdef", 400},
				{"overflowing range", "0-9223372036854775807", "abc", 416},
			} {
				resp, body := do(t, "PATCH", loc, strings.NewReader(c.body), "Content-Range", c.rng)
				if resp.StatusCode != c.status {
					t.Fatalf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
				}
				resp, _ = do(t, "GET", loc, nil)
				if got := resp.Header.Get("Upload-Offset"); got != "0" {
					t.Fatalf("%s: offset %s after a refused chunk, want 0", c.name, got)
				}
			}
			resp, body = do(t, "PATCH", loc, strings.NewReader("abc"), "Content-Range", "0-2")
			if resp.StatusCode != 202 {
				t.Fatalf("exact chunk: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, "PUT", loc, nil)
			if resp.StatusCode != 201 {
				t.Fatalf("finish: %d %s", resp.StatusCode, body)
			}
			resp, got := do(t, "GET", file, nil)
			if resp.StatusCode != 200 || string(got) != "abc" {
				t.Fatalf("download: %d %q, want \"abc\"", resp.StatusCode, got)
			}
		})
	}
}
