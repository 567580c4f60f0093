//go:build linux

package server_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
)

// smallDisk mounts a tmpfs of size bytes at a new directory and returns
// it (unmounted at the end). It needs the right to mount (root, as in
// CI); without it the test is skipped, saying why.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("mounting a small tmpfs needs root (CAP_SYS_ADMIN): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// stagedBytes sums the sizes of the staging files under dir.
func stagedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	_ = filepath.Walk(filepath.Join(dir, "_uploads"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestDiskFull: a chunk, a monolithic upload or a generic file that does
// not fit on the blob store's disk answers 507 with a message that says
// so, in the protocol's format — never 500 — and its partial bytes are
// freed at once; the upload then continues once it fits.
func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "2m")
	base := newServer(t, newMeta(t, "mem"), "file://"+dir)
	big := randomBytes(7, 3<<20)
	expect507 := func(resp *http.Response, body []byte, what, format string) {
		t.Helper()
		if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(body), "storage is full") {
			t.Fatalf("%s: %d %s, want 507 saying the storage is full", what, resp.StatusCode, body)
		}
		if format == "json" && !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			t.Fatalf("%s: Content-Type %q, want the OCI JSON error", what, resp.Header.Get("Content-Type"))
		}
		if n := stagedBytes(t, dir); n != 0 {
			t.Fatalf("%s: %d bytes left staged after the failure", what, n)
		}
	}

	loc := startUpload(t, base, "full/app")
	resp, body := do(t, http.MethodPatch, base+loc, bytes.NewReader(big), "Content-Range", "0-3145727")
	expect507(resp, body, "PATCH of 3 MiB on a 2 MiB disk", "json")
	resp, body = do(t, http.MethodPost, base+"/v2/full/app/blobs/uploads/?digest="+digest.FromBytes(big).String(), bytes.NewReader(big))
	expect507(resp, body, "monolithic upload of 3 MiB", "json")
	resp, body = do(t, http.MethodPut, base+"/api/packages/full/generic/f/1.0/f.bin", bytes.NewReader(big))
	expect507(resp, body, "generic upload of 3 MiB", "text")

	// The session is intact and takes what fits.
	small := big[:500_000]
	if r := patch(t, base, loc, 0, small); r.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH that fits: %d", r.StatusCode)
	}
	resp, body = do(t, http.MethodPut, base+loc+"?digest="+digest.FromBytes(small).String(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("finish: %d %s", resp.StatusCode, body)
	}
}
