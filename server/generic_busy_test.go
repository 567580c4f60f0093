package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path"
	"testing"
	"time"
)

// TestGenericFinishWhileHeld finishes a resumable generic upload while
// another writer (one cut off on a replica that died, say) still holds
// the session's lease: 409 with Retry-After, the session kept, and the
// same PUT succeeds once the lease is released. (A soak run found a 500
// here, and the session cancelled, so that the retry could only fail.)
func TestGenericFinishWhileHeld(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			bucket, _ := fileBucket(t)
			meta := newMeta(t, kind)
			base := newServer(t, meta, bucket)
			data := bytes.Repeat([]byte("held "), 1000)
			file := base + "/api/packages/o/generic/held/1.0.0/f.bin"
			resp, body := do(t, http.MethodPost, file+"/uploads", nil)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusAccepted || loc == "" {
				t.Fatalf("start: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, http.MethodPatch, base+loc, bytes.NewReader(data), "Content-Range", "0-4999")
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("chunk: %d %s", resp.StatusCode, body)
			}
			ctx := context.Background()
			u, err := meta.AcquireUpload(ctx, path.Base(loc), -1, "a writer that was cut off", time.Minute)
			if err != nil {
				t.Fatalf("hold the session: %v", err)
			}
			resp, body = do(t, http.MethodPut, base+loc, nil)
			if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("finish while held: %d %s %v, want 409 with Retry-After", resp.StatusCode, body, resp.Header)
			}
			if err := meta.ReleaseUpload(ctx, u, "a writer that was cut off"); err != nil {
				t.Fatal(err)
			}
			resp, body = do(t, http.MethodPut, base+loc, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("finish after the release: %d %s", resp.StatusCode, body)
			}
			resp, err = http.Get(file)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
				t.Fatalf("download: %d, %d bytes, want the %d uploaded", resp.StatusCode, len(got), len(data))
			}
		})
	}
}
