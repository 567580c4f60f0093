package storage_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/regkit/regkit/server/metadata"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/server/storage/emulators"
	"github.com/regkit/regkit/server/storage/storagetest"
)

// env is one backend under test: a metadata store and a way to open
// another replica (a new Store value) over the same bucket.
type env struct {
	meta    *memmeta.Store
	dir     string              // file storage root, "" for mem
	emu     *emulators.Emulator // the emulator of s3, gcs, azure
	url     string              // the bucket URL on emu
	replica func(t *testing.T, opts ...storage.Option) *storage.Store
	// over opens a replica over another metadata store (a wrapper of
	// meta) on the same bucket.
	over func(t *testing.T, meta metadata.Store, opts ...storage.Option) *storage.Store
}

func quiet() storage.Option {
	return storage.WithLogger(slog.New(slog.DiscardHandler))
}

var backendNames = []string{"file", "mem", "s3", "gcs", "azure"}

func TestMain(m *testing.M) {
	code := m.Run()
	emulators.StopShared()
	os.Exit(code)
}

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	e := &env{meta: memmeta.New()}
	t.Cleanup(func() { _ = e.meta.Close() })
	switch backend {
	case "file":
		e.dir = t.TempDir()
		e.over = func(t *testing.T, meta metadata.Store, opts ...storage.Option) *storage.Store {
			t.Helper()
			s, err := storage.Open(context.Background(), "file://"+e.dir, meta, append([]storage.Option{quiet()}, opts...)...)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	case "mem":
		// mem:// opens a new, empty bucket each time; replicas share one.
		b := memblob.OpenBucket(nil)
		t.Cleanup(func() { _ = b.Close() })
		e.over = func(t *testing.T, meta metadata.Store, opts ...storage.Option) *storage.Store {
			return storage.New(b, meta, append([]storage.Option{quiet()}, opts...)...)
		}
	case "s3", "gcs", "azure":
		em, err := emulators.Shared(emulators.Kind(backend))
		if err != nil {
			t.Fatal(err)
		}
		url := em.NewBucket(t)
		e.emu, e.url = em, url
		e.over = func(t *testing.T, meta metadata.Store, opts ...storage.Option) *storage.Store {
			t.Helper()
			s, err := storage.Open(context.Background(), url, meta, append([]storage.Option{quiet()}, opts...)...)
			if err != nil {
				t.Fatalf("Open(%s): %v", url, err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	e.replica = func(t *testing.T, opts ...storage.Option) *storage.Store {
		t.Helper()
		return e.over(t, e.meta, opts...)
	}
	return e
}

// forEach runs f on every backend.
func forEach(t *testing.T, f func(t *testing.T, e *env)) {
	for _, name := range backendNames {
		t.Run(name, func(t *testing.T) { f(t, newEnv(t, name)) })
	}
}

func randBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, s *storage.Store, b metadata.Blob, offset, length int64) []byte {
	t.Helper()
	rc, err := s.ReadBlob(context.Background(), b, offset, length)
	if err != nil {
		t.Fatalf("ReadBlob(%d, %d): %v", offset, length, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("ReadBlob(%d, %d): read: %v", offset, length, err)
	}
	return got
}

func exists(t *testing.T, s *storage.Store, key string) bool {
	t.Helper()
	ok, err := s.Bucket().Exists(context.Background(), key)
	if err != nil {
		t.Fatalf("Exists(%s): %v", key, err)
	}
	return ok
}

// keys lists the bucket's keys under prefix.
func keys(t *testing.T, s *storage.Store, prefix string) []string {
	t.Helper()
	it := s.Bucket().List(&blob.ListOptions{Prefix: prefix})
	var out []string
	for {
		obj, err := it.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("List(%s): %v", prefix, err)
		}
		out = append(out, obj.Key)
	}
}

// checkStored asserts that b is recorded and its bytes are data.
func checkStored(t *testing.T, e *env, s *storage.Store, b metadata.Blob, data []byte) {
	t.Helper()
	want := digest.FromBytes(data)
	if b.Digest != want || b.Size != int64(len(data)) || (b.Key != storage.Key(want) && !strings.HasPrefix(b.Key, "objects/")) {
		t.Fatalf("blob record = %+v, want digest %s size %d key %s (or objects/<session>)", b, want, len(data), storage.Key(want))
	}
	rec, err := e.meta.GetBlob(context.Background(), want)
	if err != nil {
		t.Fatalf("meta.GetBlob: %v", err)
	}
	if got := readAll(t, s, rec, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d (or content differs)", len(got), len(data))
	}
}

// checkNoStaged asserts that no upload bytes are left in the bucket:
// no staged object, and on Azure no uncommitted block either.
func checkNoStaged(t *testing.T, e *env, s *storage.Store) {
	t.Helper()
	if ks := keys(t, s, "_uploads/"); len(ks) != 0 {
		t.Fatalf("staged objects left: %q", ks)
	}
	if n := uncommitted(t, e, s); n != 0 {
		t.Fatalf("%d blobs with uncommitted blocks left", n)
	}
}

// hasStaged reports whether staged bytes exist: objects under _uploads/,
// or on Azure blobs with uncommitted blocks.
func hasStaged(t *testing.T, e *env, s *storage.Store) bool {
	t.Helper()
	return len(keys(t, s, "_uploads/")) > 0 || uncommitted(t, e, s) > 0
}

// uncommitted counts the session objects of an Azure container that
// exist only as uncommitted blocks (0 on other backends).
func uncommitted(t *testing.T, e *env, s *storage.Store) int {
	t.Helper()
	var c *container.Client
	if e.emu == nil || e.emu.Kind != emulators.Azure || !s.Bucket().As(&c) {
		return 0
	}
	pager := c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{UncommittedBlobs: true}})
	committed := map[string]bool{}
	for _, k := range keys(t, s, "objects/") {
		committed[k] = true
	}
	n := 0
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list uncommitted blobs: %v", err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil && strings.HasPrefix(*b.Name, "objects/") && !committed[*b.Name] {
				n++
			}
		}
	}
	return n
}

func TestKey(t *testing.T) {
	d := digest.FromString("hello")
	want := "blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()[2:4] + "/" + d.Encoded()
	if got := storage.Key(d); got != want {
		t.Fatalf("Key = %s, want %s", got, want)
	}
}

func TestPutBlob(t *testing.T) {
	data := randBytes(3<<20 + 17)
	tests := []struct {
		name    string
		data    []byte
		want    digest.Digest
		size    int64
		wantErr error
	}{
		{name: "known size", data: data, want: digest.FromBytes(data), size: int64(len(data))},
		{name: "unknown size", data: data, want: digest.FromBytes(data), size: -1},
		{name: "empty", data: nil, want: digest.FromBytes(nil), size: 0},
		{name: "sha512", data: data[:1000], want: digest.SHA512.FromBytes(data[:1000]), size: 1000},
		{name: "short body", data: data[:10], want: digest.FromBytes(data[:10]), size: 11, wantErr: storage.ErrSizeMismatch},
		{name: "long body", data: data[:12], want: digest.FromBytes(data[:12]), size: 11, wantErr: storage.ErrSizeMismatch},
		{name: "digest mismatch", data: data[:100], want: digest.FromBytes(data[:99]), size: 100, wantErr: storage.ErrDigestMismatch},
		{name: "invalid digest", data: data[:100], want: "sha256:../../etc", size: 100, wantErr: storage.ErrDigestInvalid},
	}
	forEach(t, func(t *testing.T, e *env) {
		s := e.replica(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b, err := s.PutBlob(context.Background(), tc.want, bytes.NewReader(tc.data), tc.size)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("PutBlob: %v, want %v", err, tc.wantErr)
					}
					if tc.want.Validate() == nil && exists(t, s, storage.Key(tc.want)) {
						t.Fatalf("object stored at %s after a failed put", storage.Key(tc.want))
					}
					if _, err := e.meta.GetBlob(context.Background(), tc.want); !errors.Is(err, metadata.ErrNotFound) {
						t.Fatalf("blob recorded after a failed put: %v", err)
					}
					checkNoStaged(t, e, s)
					return
				}
				if err != nil {
					t.Fatalf("PutBlob: %v", err)
				}
				if b.Digest != tc.want || b.Size != int64(len(tc.data)) {
					t.Fatalf("PutBlob = %+v", b)
				}
				if got := readAll(t, s, b, 0, -1); !bytes.Equal(got, tc.data) {
					t.Fatalf("read back differs")
				}
				checkNoStaged(t, e, s)
			})
		}
	})
}

// TestChunkedAcrossReplicas: every call runs on a new Store value (another
// replica) over the same bucket and metadata.
func TestChunkedAcrossReplicas(t *testing.T) {
	data := randBytes(5<<20 + 3)
	chunks := [][]byte{data[:1<<20], data[1<<20 : 3<<20], data[3<<20 : 5<<20], data[5<<20:]}
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u, err := e.replica(t).StartUpload(ctx, "library/x")
		if err != nil {
			t.Fatalf("StartUpload: %v", err)
		}
		var off int64
		for i, c := range chunks[:3] {
			nu, err := e.replica(t).AppendUpload(ctx, "", u.ID, off, bytes.NewReader(c))
			if err != nil {
				t.Fatalf("AppendUpload %d: %v", i, err)
			}
			off += int64(len(c))
			if nu.Offset != off {
				t.Fatalf("offset after chunk %d = %d, want %d", i, nu.Offset, off)
			}
			st, err := e.replica(t).UploadStatus(ctx, "", u.ID)
			if err != nil || st.Offset != off || st.Repo != "library/x" {
				t.Fatalf("UploadStatus = %+v, %v", st, err)
			}
		}
		s := e.replica(t)
		b, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(chunks[3]), digest.FromBytes(data))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, s, b, data)
		if _, err := s.UploadStatus(ctx, "", u.ID); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("UploadStatus after finish: %v, want ErrUploadUnknown", err)
		}
		checkNoStaged(t, e, s)
	})
}

func TestStaleOffsetRetry(t *testing.T) {
	data := randBytes(300_000)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		u, err := s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:100_000])); err != nil {
			t.Fatalf("AppendUpload: %v", err)
		}
		for _, start := range []int64{0, 50_000, 100_001} {
			_, err := e.replica(t).AppendUpload(ctx, "", u.ID, start, bytes.NewReader(data[:100_000]))
			var re *storage.RangeError
			if !errors.As(err, &re) || re.Offset != 100_000 {
				t.Fatalf("append at stale offset %d: %v, want *RangeError{Offset: 100000}", start, err)
			}
		}
		if _, err := s.AppendUpload(ctx, "", u.ID, 100_000, bytes.NewReader(data[100_000:200_000])); err != nil {
			t.Fatalf("AppendUpload: %v", err)
		}
		// A PUT whose final chunk is stale is rejected too, and changes nothing.
		_, err = s.FinishUpload(ctx, "", "aaaaaaaaaaaaaaaaaaaaaaaaaa", nil, digest.FromBytes(data))
		if !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("FinishUpload(unknown): %v", err)
		}
		b, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(data[200_000:]), digest.FromBytes(data))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, s, b, data)
	})
}

func TestStreamedAppend(t *testing.T) {
	data := randBytes(1<<20 + 5)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u, err := e.replica(t).StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(data); i += 300_000 {
			c := data[i:min(i+300_000, len(data))]
			if _, err := e.replica(t).AppendUpload(ctx, "", u.ID, -1, bytes.NewReader(c)); err != nil {
				t.Fatalf("AppendUpload(-1) at %d: %v", i, err)
			}
		}
		// An empty streamed PATCH changes nothing.
		if nu, err := e.replica(t).AppendUpload(ctx, "", u.ID, -1, bytes.NewReader(nil)); err != nil || nu.Offset != int64(len(data)) {
			t.Fatalf("empty AppendUpload = %+v, %v", nu, err)
		}
		s := e.replica(t)
		b, err := s.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(data))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, s, b, data)
	})
}

func TestFinishDigests(t *testing.T) {
	data := randBytes(700_001)
	sha512Of := func(p []byte) digest.Digest {
		h := sha512.Sum512(p)
		return digest.NewDigestFromBytes(digest.SHA512, h[:])
	}
	tests := []struct {
		name    string
		algs    []digest.Algorithm
		want    digest.Digest
		wantErr error
	}{
		{name: "sha256 default", want: digest.FromBytes(data)},
		{name: "sha512 session", algs: []digest.Algorithm{digest.SHA512}, want: sha512Of(data)},
		{name: "both hashed, sha512 wanted", algs: []digest.Algorithm{digest.SHA256, digest.SHA512}, want: sha512Of(data)},
		{name: "fallback: sha512 not hashed", want: sha512Of(data)},
		{name: "fallback: sha256 not hashed", algs: []digest.Algorithm{digest.SHA512}, want: digest.FromBytes(data)},
		{name: "mismatch", want: digest.FromBytes(data[1:]), wantErr: storage.ErrDigestMismatch},
		{name: "fallback mismatch", want: sha512Of(data[1:]), wantErr: storage.ErrDigestMismatch},
	}
	forEach(t, func(t *testing.T, e *env) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				s := e.replica(t)
				u, err := s.StartUpload(ctx, "r", tc.algs...)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:400_000])); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AppendUpload(ctx, "", u.ID, 400_000, bytes.NewReader(data[400_000:])); err != nil {
					t.Fatal(err)
				}
				before := keys(t, s, "blobs/")
				b, err := s.FinishUpload(ctx, "", u.ID, nil, tc.want)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("FinishUpload: %v, want %v", err, tc.wantErr)
					}
					if !strings.Contains(err.Error(), string(tc.want)) {
						t.Errorf("error %q does not name the expected digest", err)
					}
					if exists(t, s, storage.Key(tc.want)) {
						t.Fatalf("object at Key(want) after a mismatch")
					}
					if ks := keys(t, s, "blobs/"); !slices.Equal(ks, before) {
						t.Fatalf("blobs/ after a mismatch = %q, want unchanged %q", ks, before)
					}
					if _, err := s.UploadStatus(ctx, "", u.ID); !errors.Is(err, storage.ErrUploadUnknown) {
						t.Fatalf("session kept after a mismatch: %v", err)
					}
					checkNoStaged(t, e, s)
					return
				}
				if err != nil {
					t.Fatalf("FinishUpload: %v", err)
				}
				if b.Digest != tc.want || b.Size != int64(len(data)) || (b.Key != storage.Key(tc.want) && !strings.HasPrefix(b.Key, "objects/")) {
					t.Fatalf("blob = %+v", b)
				}
				if got := readAll(t, s, b, 0, -1); !bytes.Equal(got, data) {
					t.Fatalf("read back differs")
				}
				checkNoStaged(t, e, s)
			})
		}
	})
}

func TestInvalidDigestKeepsSession(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		u, err := s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishUpload(ctx, "", u.ID, strings.NewReader("x"), "sha256:nothex"); !errors.Is(err, storage.ErrDigestInvalid) {
			t.Fatalf("FinishUpload(bad digest): %v", err)
		}
		if st, err := s.UploadStatus(ctx, "", u.ID); err != nil || st.Offset != 0 {
			t.Fatalf("session after a bad digest = %+v, %v", st, err)
		}
		if _, err := s.StartUpload(ctx, "r", "md5"); !errors.Is(err, storage.ErrDigestInvalid) {
			t.Fatalf("StartUpload(md5): %v", err)
		}
	})
}

func TestZeroByte(t *testing.T) {
	empty := digest.FromBytes(nil)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		u, err := s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.FinishUpload(ctx, "", u.ID, nil, empty)
		if err != nil {
			t.Fatalf("FinishUpload(empty): %v", err)
		}
		checkStored(t, e, s, b, nil)
		if got := readAll(t, s, b, 0, 0); len(got) != 0 {
			t.Fatalf("ReadBlob(0, 0) = %d bytes", len(got))
		}
		// Again, with an empty final body, deduplicated.
		u, err = s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(nil), empty); err != nil {
			t.Fatalf("FinishUpload(empty again): %v", err)
		}
		checkNoStaged(t, e, s)
	})
}

func TestCancel(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		u, err := s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(randBytes(1000))); err != nil {
			t.Fatal(err)
		}
		if !hasStaged(t, e, s) {
			t.Fatalf("no staged bytes after an append")
		}
		if err := e.replica(t).CancelUpload(ctx, "", u.ID); err != nil {
			t.Fatalf("CancelUpload: %v", err)
		}
		checkNoStaged(t, e, s)
		for name, err := range map[string]error{
			"status": func() error { _, err := s.UploadStatus(ctx, "", u.ID); return err }(),
			"append": func() error { _, err := s.AppendUpload(ctx, "", u.ID, -1, strings.NewReader("x")); return err }(),
			"finish": func() error { _, err := s.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(nil)); return err }(),
			"cancel": s.CancelUpload(ctx, "", u.ID),
			"bad id": s.CancelUpload(ctx, "", "../../etc/passwd"),
		} {
			if !errors.Is(err, storage.ErrUploadUnknown) {
				t.Errorf("%s after cancel: %v, want ErrUploadUnknown", name, err)
			}
		}
	})
}

func TestSweepUploads(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		var ids []string
		for range 3 {
			u, err := s.StartUpload(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(randBytes(5000))); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		// Nothing is older than an hour ago.
		if n, err := s.SweepUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("SweepUploads(an hour ago) = %d, %v; want 0", n, err)
		}
		if !hasStaged(t, e, s) {
			t.Fatalf("staged bytes swept too early")
		}
		// An orphan: staged bytes without a session (a crash between
		// deleting the record and the bytes).
		if err := s.Bucket().WriteAll(ctx, "_uploads/put-orphan", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		n, err := e.replica(t).SweepUploads(ctx, time.Now().Add(time.Second))
		if err != nil || n != len(ids) {
			t.Fatalf("SweepUploads(now) = %d, %v; want %d", n, err, len(ids))
		}
		checkNoStaged(t, e, s)
		for _, id := range ids {
			if _, err := s.UploadStatus(ctx, "", id); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Fatalf("session %s survived the sweep: %v", id, err)
			}
		}
	})
}

// failingReader returns the first n bytes of data, then err.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := copy(p, r.data[:min(r.n, len(r.data))])
	r.data, r.n = r.data[k:], r.n-k
	return k, nil
}

func TestFailingBody(t *testing.T) {
	data := randBytes(3<<20 + 11)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		u, err := s.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:1<<20])); err != nil {
			t.Fatal(err)
		}
		// The client disconnects after 1.5 MiB of a 2 MiB chunk, then again
		// on the final PUT.
		broken := &failingReader{data: randBytes(2 << 20), n: 3 << 19, err: io.ErrUnexpectedEOF}
		if _, err := e.replica(t).AppendUpload(ctx, "", u.ID, 1<<20, broken); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("AppendUpload(failing body): %v, want io.ErrUnexpectedEOF", err)
		}
		if st, err := s.UploadStatus(ctx, "", u.ID); err != nil || st.Offset != 1<<20 {
			t.Fatalf("session after failed append = offset %d, %v; want %d", st.Offset, err, 1<<20)
		}
		broken = &failingReader{data: randBytes(1 << 20), n: 1000, err: errors.New("connection reset")}
		if _, err := e.replica(t).FinishUpload(ctx, "", u.ID, broken, digest.FromBytes(data)); err == nil {
			t.Fatalf("FinishUpload(failing body) succeeded")
		}
		if exists(t, s, storage.Key(digest.FromBytes(data))) {
			t.Fatalf("blob stored by a failed finish")
		}
		// The retry at the same offset completes the upload.
		if _, err := e.replica(t).AppendUpload(ctx, "", u.ID, 1<<20, bytes.NewReader(data[1<<20:3<<20])); err != nil {
			t.Fatalf("retry: %v", err)
		}
		b, err := e.replica(t).FinishUpload(ctx, "", u.ID, bytes.NewReader(data[3<<20:]), digest.FromBytes(data))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, s, b, data)
		checkNoStaged(t, e, s)
	})
}

// slowReader returns data in small pieces with a pause before each.
type slowReader struct {
	data  []byte
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	k := copy(p[:min(len(p), 4096)], r.data)
	r.data = r.data[k:]
	return k, nil
}

func TestConcurrentAppend(t *testing.T) {
	data := randBytes(64 << 10)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for round := range 3 {
			u, err := e.replica(t).StartUpload(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			const writers = 4
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				s := e.replica(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.AppendUpload(ctx, "", u.ID, 0, &slowReader{data: data, pause: time.Millisecond})
				}()
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				var (
					re   *storage.RangeError
					busy *storage.BusyError
				)
				switch {
				case err == nil:
					ok++
				case errors.As(err, &re), errors.As(err, &busy):
				default:
					t.Fatalf("round %d writer %d: %v, want nil, *RangeError or *BusyError", round, i, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d writers succeeded, want exactly 1 (%v)", round, ok, errs)
			}
			s := e.replica(t)
			b, err := s.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(data))
			if err != nil {
				t.Fatalf("FinishUpload: %v", err)
			}
			checkStored(t, e, s, b, data)
		}
	})
}

// TestLeaseRefresh: a PATCH streaming for several lease ttls keeps its
// lease, and a second writer meanwhile gets a *BusyError.
func TestLeaseRefresh(t *testing.T) {
	// 20 reads of 4 KiB, 60ms each: 1.2 s, four ttls (the lease is renewed
	// every 100 ms, so a renewal must be 200 ms late to lose it).
	data := randBytes(80 << 10)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ttl := storage.WithLeaseTTL(300 * time.Millisecond)
		u, err := e.replica(t, ttl).StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := e.replica(t, ttl).AppendUpload(ctx, "", u.ID, 0, &slowReader{data: data, pause: 60 * time.Millisecond})
			done <- err
		}()
		time.Sleep(700 * time.Millisecond) // past two ttls
		var busy *storage.BusyError
		_, ierr := e.replica(t, ttl).AppendUpload(ctx, "", u.ID, 0, strings.NewReader("intruder"))
		if err := <-done; err != nil {
			t.Fatalf("long PATCH: %v", err)
		}
		if !errors.As(ierr, &busy) || busy.Offset != 0 || busy.RetryAfter <= 0 {
			t.Fatalf("second writer during a long PATCH: %v, want *BusyError at offset 0 with a RetryAfter", ierr)
		}
		b, err := e.replica(t, ttl).FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(data))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, e.replica(t), b, data)
	})
}

func TestDedup(t *testing.T) {
	data := randBytes(200_000)
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		var first metadata.Blob
		for i := range 3 {
			u, err := s.StartUpload(ctx, "repo"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(data), digest.FromBytes(data))
			if err != nil {
				t.Fatalf("FinishUpload %d: %v", i, err)
			}
			if i == 0 {
				first = b
			} else if b.Digest != first.Digest || b.Size != first.Size || b.Key != first.Key || !b.Created.Equal(first.Created) {
				t.Fatalf("second record %+v differs from the first %+v", b, first)
			} else if b.Used.Before(first.Used) {
				t.Fatalf("reuse did not refresh the record's last use: %v, then %v", first.Used, b.Used)
			}
		}
		if _, err := s.PutBlob(ctx, digest.FromBytes(data), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("PutBlob: %v", err)
		}
		if ks := keys(t, s, "blobs/"); len(ks) != 1 || ks[0] != storage.Key(digest.FromBytes(data)) {
			t.Fatalf("blobs/ holds %q, want exactly the one object", ks)
		}
		checkNoStaged(t, e, s)
	})
}

func TestReadBlobRanges(t *testing.T) {
	data := randBytes(1<<20 + 333)
	n := int64(len(data))
	tests := []struct {
		name           string
		offset, length int64
		wantErr        error
	}{
		{name: "whole", offset: 0, length: -1},
		{name: "whole explicit", offset: 0, length: n},
		{name: "start", offset: 0, length: 65536},
		{name: "middle", offset: 300_000, length: 65536},
		{name: "end", offset: n - 1000, length: 1000},
		{name: "to the end", offset: 777_777, length: -1},
		{name: "empty at end", offset: n, length: -1},
		{name: "offset past end", offset: n + 1, length: -1, wantErr: storage.ErrInvalidRange},
		{name: "length past end", offset: n - 10, length: 11, wantErr: storage.ErrInvalidRange},
		{name: "negative offset", offset: -1, length: 1, wantErr: storage.ErrInvalidRange},
	}
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.replica(t)
		b, err := s.PutBlob(ctx, digest.FromBytes(data), bytes.NewReader(data), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.wantErr != nil {
					if _, err := s.ReadBlob(ctx, b, tc.offset, tc.length); !errors.Is(err, tc.wantErr) {
						t.Fatalf("ReadBlob: %v, want %v", err, tc.wantErr)
					}
					return
				}
				end := n
				if tc.length >= 0 {
					end = tc.offset + tc.length
				}
				if got := readAll(t, s, b, tc.offset, tc.length); !bytes.Equal(got, data[tc.offset:end]) {
					t.Fatalf("got %d bytes, want %d (or content differs)", len(got), end-tc.offset)
				}
			})
		}
		if err := s.DeleteBlobBytes(ctx, b); err != nil {
			t.Fatalf("DeleteBlobBytes: %v", err)
		}
		if _, err := s.ReadBlob(ctx, b, 0, -1); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ReadBlob after delete: %v, want ErrNotFound", err)
		}
		if err := s.DeleteBlobBytes(ctx, b); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("DeleteBlobBytes twice: %v, want ErrNotFound", err)
		}
	})
}

// readerFromRecorder records what its ReadFrom is given.
type readerFromRecorder struct {
	bytes.Buffer
	src io.Reader
}

func (w *readerFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.src = r
	return w.Buffer.ReadFrom(r)
}

// TestFileFastPath checks what is specific to file storage: blobs land at
// <dir>/Key(d) without .attrs sidecars, are readable through the fileblob
// bucket, and ReadBlob hands an *io.LimitedReader over an *os.File to a
// ReaderFrom (what net/http turns into sendfile).
func TestFileFastPath(t *testing.T) {
	e := newEnv(t, "file")
	ctx := context.Background()
	s := e.replica(t)
	data := randBytes(100_000)
	d := digest.FromBytes(data)
	u, err := s.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:50_000])); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "_uploads", u.ID)); err != nil {
		t.Fatalf("staging file: %v", err)
	}
	b, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(data[50_000:]), d)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, filepath.FromSlash(storage.Key(d)))
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file at %s: %d bytes, %v", p, len(got), err)
	}
	if _, err := os.Stat(p + ".attrs"); !os.IsNotExist(err) {
		t.Fatalf(".attrs sidecar: %v, want none", err)
	}
	fb, err := fileblob.OpenBucket(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for _, bk := range []*blob.Bucket{fb, s.Bucket()} {
		r, err := bk.NewRangeReader(ctx, storage.Key(d), 10, 20, nil)
		if err != nil {
			t.Fatalf("fileblob read: %v", err)
		}
		got, err := io.ReadAll(r)
		_ = r.Close()
		if err != nil || !bytes.Equal(got, data[10:30]) {
			t.Fatalf("fileblob range read = %d bytes, %v", len(got), err)
		}
	}

	rc, err := s.ReadBlob(ctx, b, 1000, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var w readerFromRecorder
	if n, err := io.Copy(&w, rc); err != nil || n != 5000 {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	lr, ok := w.src.(*io.LimitedReader)
	if !ok {
		t.Fatalf("ReadFrom got %T, want *io.LimitedReader", w.src)
	}
	if _, ok := lr.R.(*os.File); !ok {
		t.Fatalf("LimitedReader wraps %T, want *os.File", lr.R)
	}
	if !bytes.Equal(w.Bytes(), data[1000:6000]) {
		t.Fatalf("sendfile-path bytes differ")
	}
}

// TestFileStaleTail: bytes left past the offset by a failed write never
// reach the blob, even when the next call is the final PUT.
func TestFileStaleTail(t *testing.T) {
	e := newEnv(t, "file")
	ctx := context.Background()
	s := e.replica(t)
	data := randBytes(10_000)
	u, err := s.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Garbage after the offset, as a crashed writer would leave it.
	f, err := os.OpenFile(filepath.Join(e.dir, "_uploads", u.ID), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("garbage")); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	b, err := s.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(data))
	if err != nil {
		t.Fatalf("FinishUpload: %v", err)
	}
	checkStored(t, e, s, b, data)

	// Staged bytes lost (shorter than the offset) are detected.
	u, err = s.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:5000])); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(e.dir, "_uploads", u.ID), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(data[:5000])); !errors.Is(err, storage.ErrUploadBroken) {
		t.Fatalf("FinishUpload(lost bytes): %v, want ErrUploadBroken", err)
	}
	if _, err := s.AppendUpload(ctx, "", u.ID, 5000, bytes.NewReader(data[5000:])); !errors.Is(err, storage.ErrUploadBroken) {
		t.Fatalf("AppendUpload(lost bytes): %v, want ErrUploadBroken", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "root")
	s, err := storage.Open(ctx, "file://"+dir, memmeta.New(), quiet())
	if err != nil {
		t.Fatalf("Open(missing dir): %v", err)
	}
	_ = s.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("dir not created: %v", err)
	}
	if _, err := storage.Open(ctx, "nope://x", memmeta.New()); err == nil {
		t.Fatalf("Open(nope://) succeeded")
	}
	s, err = storage.Open(ctx, "mem://", memmeta.New())
	if err != nil {
		t.Fatalf("Open(mem://): %v", err)
	}
	_ = s.Close()
}

func TestBucketProperties(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) string { return "file://" + t.TempDir() })
	})
	t.Run("mem", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) string { return "mem://" })
	})
}
