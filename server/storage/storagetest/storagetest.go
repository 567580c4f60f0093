// Package storagetest checks the bucket properties regkit's server relies
// on, so that every storage backend can be validated the same way (like
// gocloud's drivertest, but only for what regkit uses).
//
// Callers import the driver package of their scheme and call Run with a
// function that returns the URL of a fresh, empty bucket.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Run runs the bucket properties as subtests of t. openBucketURL returns
// the URL of a fresh, empty bucket each time it is called. without names
// properties that a backend's driver is known to break, each with the
// reason (logged): the storage layer must not rely on them there.
func Run(t *testing.T, openBucketURL func(t *testing.T) string, without ...Exception) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, b *blob.Bucket)
	}{
		{"RangedReads", testRangedReads},
		{"MissingKey", testMissingKey},
		{"Copy", testCopy},
		{"ListPrefix", testListPrefix},
		{"Delete", testDelete},
		{"AbortedWrite", testAbortedWrite},
	}
	for _, tc := range tests {
		if i := slices.IndexFunc(without, func(e Exception) bool { return e.Property == tc.name }); i >= 0 {
			t.Logf("%s not checked: %s", tc.name, without[i].Reason)
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b, err := blob.OpenBucket(ctx, openBucketURL(t))
			if err != nil {
				t.Fatalf("open bucket: %v", err)
			}
			t.Cleanup(func() { _ = b.Close() })
			tc.run(t, b)
		})
	}
}

// Exception names a property Run does not check on one backend, and why.
type Exception struct {
	// Property is the name of the property (its subtest's name).
	Property string
	// Reason says why, and what the storage layer does instead.
	Reason string
}

// pattern returns n deterministic, non-repeating-looking bytes.
func pattern(n int) []byte {
	p := make([]byte, n)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

func put(t *testing.T, b *blob.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.WriteAll(context.Background(), key, data, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func testRangedReads(t *testing.T, b *blob.Bucket) {
	ctx := context.Background()
	data := pattern(300_001)
	put(t, b, "blobs/x", data)
	n := int64(len(data))
	tests := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"whole", 0, -1, data},
		{"start", 0, 1000, data[:1000]},
		{"middle", 12345, 65536, data[12345 : 12345+65536]},
		{"end", n - 777, 777, data[n-777:]},
		{"tail to end", n - 10, -1, data[n-10:]},
		{"last byte", n - 1, 1, data[n-1:]},
		{"empty", 5, 0, []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := b.NewRangeReader(ctx, "blobs/x", tc.offset, tc.length, nil)
			if err != nil {
				t.Fatalf("NewRangeReader(%d, %d): %v", tc.offset, tc.length, err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("NewRangeReader(%d, %d): got %d bytes, want %d (or content differs)", tc.offset, tc.length, len(got), len(tc.want))
			}
		})
	}
}

func testMissingKey(t *testing.T, b *blob.Bucket) {
	ctx := context.Background()
	if _, err := b.NewRangeReader(ctx, "blobs/missing", 0, 10, nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("NewRangeReader(missing): code %v (%v), want NotFound", gcerrors.Code(err), err)
	}
	if _, err := b.Attributes(ctx, "blobs/missing"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Attributes(missing): code %v (%v), want NotFound", gcerrors.Code(err), err)
	}
	if ok, err := b.Exists(ctx, "blobs/missing"); err != nil || ok {
		t.Errorf("Exists(missing) = %v, %v; want false, nil", ok, err)
	}
	if err := b.Copy(ctx, "blobs/dst", "blobs/missing", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Copy(from missing): code %v (%v), want NotFound", gcerrors.Code(err), err)
	}
}

func testCopy(t *testing.T, b *blob.Bucket) {
	ctx := context.Background()
	data := pattern(70_000)
	put(t, b, "_uploads/u/00000000-x", data)
	if err := b.Copy(ctx, "blobs/sha256/ab/cd/abcd", "_uploads/u/00000000-x", nil); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	got, err := b.ReadAll(ctx, "blobs/sha256/ab/cd/abcd")
	if err != nil {
		t.Fatalf("read copy: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("copy holds %d bytes, want the %d bytes of the source", len(got), len(data))
	}
	// The source is unchanged and independent of the copy.
	if err := b.Delete(ctx, "_uploads/u/00000000-x"); err != nil {
		t.Fatalf("delete source: %v", err)
	}
	if got, err := b.ReadAll(ctx, "blobs/sha256/ab/cd/abcd"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy after deleting the source: %d bytes, %v", len(got), err)
	}
}

func testListPrefix(t *testing.T, b *blob.Bucket) {
	ctx := context.Background()
	keys := []string{"_uploads/a/1", "_uploads/a/2", "_uploads/ab/1", "_uploads/b", "blobs/sha256/00/11/0011"}
	for _, k := range keys {
		put(t, b, k, []byte(k))
	}
	list := func(prefix, delim string) []string {
		t.Helper()
		it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: delim})
		var out []string
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("list %q: %v", prefix, err)
			}
			out = append(out, obj.Key)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		prefix, delim string
		want          []string
	}{
		{"_uploads/a/", "", []string{"_uploads/a/1", "_uploads/a/2"}},
		{"_uploads/", "", []string{"_uploads/a/1", "_uploads/a/2", "_uploads/ab/1", "_uploads/b"}},
		{"_uploads/", "/", []string{"_uploads/a/", "_uploads/ab/", "_uploads/b"}},
		{"blobs/", "", []string{"blobs/sha256/00/11/0011"}},
		{"nothing/", "", nil},
	}
	for _, tc := range tests {
		if got := list(tc.prefix, tc.delim); !slices.Equal(got, tc.want) {
			t.Errorf("List(prefix %q, delimiter %q) = %q, want %q", tc.prefix, tc.delim, got, tc.want)
		}
	}
}

func testDelete(t *testing.T, b *blob.Bucket) {
	ctx := context.Background()
	put(t, b, "blobs/d", []byte("x"))
	if err := b.Delete(ctx, "blobs/d"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.NewReader(ctx, "blobs/d", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("read after delete: code %v, want NotFound", gcerrors.Code(err))
	}
	if err := b.Delete(ctx, "blobs/d"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("second Delete: code %v, want NotFound", gcerrors.Code(err))
	}
}

// testAbortedWrite: a write whose context is cancelled before Close is
// aborted and leaves no object (the storage layer writes monolithic
// uploads straight to their content-addressed key and relies on this).
func testAbortedWrite(t *testing.T, b *blob.Bucket) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.NewWriter(ctx, "blobs/aborted", &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if _, err := w.Write(pattern(100_000)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Errorf("Close after cancel: nil error, want the write aborted")
	}
	if ok, err := b.Exists(context.Background(), "blobs/aborted"); err != nil || ok {
		t.Errorf("Exists after aborted write = %v, %v; want false, nil", ok, err)
	}
}
