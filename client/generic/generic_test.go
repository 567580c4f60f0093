package generic_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/regkit/regkit/client/generic"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// counter counts requests by method and path suffix.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
	ranges int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method
		if strings.Contains(r.URL.Path, "/uploads") {
			key += " uploads"
		}
		c.mu.Lock()
		c.counts[key]++
		if r.Header.Get("Range") != "" && r.Header.Get("If-Range") != "" {
			c.ranges++
		}
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func newServer(t *testing.T) (string, *counter) {
	t.Helper()
	meta := memmeta.New()
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{counts: map[string]int{}}
	ts := httptest.NewServer(c.wrap(server.New(meta, st, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))))
	t.Cleanup(func() { ts.Close(); _ = st.Close(); _ = meta.Close() })
	return ts.URL, c
}

func TestUploadDownloadManage(t *testing.T) {
	ctx := context.Background()
	base, cnt := newServer(t)
	c := generic.NewClient(base)
	small := []byte("#!/bin/sh\necho hi\n")
	big := fixtures.Blob(7, 3<<20+123)

	f1 := generic.FileRef{Owner: "alice", Name: "tool", Version: "1.0.0", Filename: "tool.sh"}
	if err := c.Upload(ctx, f1, bytes.NewReader(small), int64(len(small)), nil); err != nil {
		t.Fatal(err)
	}
	if cnt.counts["PUT"] != 1 || cnt.counts["POST uploads"] != 0 {
		t.Errorf("a small file should go up in one PUT: %v", cnt.counts)
	}
	f2 := generic.FileRef{Owner: "alice", Name: "tool", Version: "1.1.0", Filename: "tool.bin"}
	var last int64
	err := c.Upload(ctx, f2, bytes.NewReader(big), int64(len(big)), &generic.UploadOptions{ResumableFrom: 1 << 20, ChunkSize: 1 << 20, Progress: func(n int64) { last = n }})
	if err != nil {
		t.Fatal(err)
	}
	if cnt.counts["POST uploads"] != 1 || cnt.counts["PATCH uploads"] != 4 || cnt.counts["PUT uploads"] != 1 || last != int64(len(big)) {
		t.Errorf("a big file should go through a session in 4 chunks: %v, progress %d", cnt.counts, last)
	}
	if err := c.Upload(ctx, f1, bytes.NewReader(small), int64(len(small)), nil); !errors.Is(err, generic.ErrConflict) {
		t.Errorf("second upload: %v, want ErrConflict", err)
	}

	for _, parallel := range []int{1, 4} {
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		before := cnt.ranges
		in, err := c.Download(ctx, f2, out, &generic.DownloadOptions{Parallel: parallel, PartSize: 512 << 10})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out.Name())
		_ = out.Close()
		if !bytes.Equal(got, big) || in.Size != int64(len(big)) || len(in.SHA256) != 64 {
			t.Errorf("parallel %d: downloaded %d bytes (info %+v), want %d", parallel, len(got), in, len(big))
		}
		if parallel > 1 && cnt.ranges-before != 7 {
			t.Errorf("parallel download sent %d ranged requests with If-Range, want 7", cnt.ranges-before)
		}
	}

	vs, err := c.Versions(ctx, "alice", "", "tool", nil)
	if err != nil || len(vs) != 2 || vs[0].Version != "1.1.0" {
		t.Errorf("versions: %+v, %v", vs, err)
	}
	latest, err := c.Latest(ctx, "alice", "", "tool")
	if err != nil || latest.Version != "1.1.0" {
		t.Errorf("latest: %+v, %v", latest, err)
	}
	v, err := c.Version(ctx, "alice", "", "tool", "1.0.0")
	if err != nil || len(v.Files) != 1 || v.Files[0].Size != int64(len(small)) {
		t.Errorf("version: %+v, %v", v, err)
	}
	all, err := c.List(ctx, "alice", &generic.ListOptions{Limit: 1})
	if err != nil || len(all) != 2 {
		t.Errorf("list over pages of 1: %d entries, %v", len(all), err)
	}
	if err := c.Link(ctx, "alice", "", "tool", "tools"); err != nil {
		t.Errorf("link: %v", err)
	}
	if err := c.Delete(ctx, "alice", "", "tool", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(ctx, "alice", "", "tool", "1.0.0"); !errors.Is(err, generic.ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if err := c.DeleteFile(ctx, f2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, f2); !errors.Is(err, generic.ErrNotFound) {
		t.Errorf("stat after delete: %v, want ErrNotFound", err)
	}
}
