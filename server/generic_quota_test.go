package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/spec/oci"
)

// TestGenericQuota: an owner's generic files count in the quota of the
// namespace of the same name, together with its OCI blobs: a generic
// upload that would exceed it is refused with 403 naming the quota (so is
// an OCI blob once generic files fill it), each file counts its full
// size even when its content is stored already, and deleting a file, a
// version or a version through the management API frees its bytes.
func TestGenericQuota(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			meta := newMeta(t, kind)
			q := quota.New(meta, quota.WithLimit("team", 100_000))
			base := newServer(t, meta, "mem://", server.WithQuota(q))
			api := base + "/api/packages/team/generic/tool/1.0.0/"
			usage := func(want int64) {
				t.Helper()
				if got, err := q.Usage(ctx, "team"); err != nil || got != want {
					t.Fatalf("usage of team = %d, %v; want %d", got, err, want)
				}
			}
			refused := func(resp *http.Response, body []byte, what string) {
				t.Helper()
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "team") || !strings.Contains(string(body), "quota") {
					t.Fatalf("%s: %d %s, want 403 naming the quota", what, resp.StatusCode, body)
				}
			}

			// 40 000 bytes of OCI blobs in team/app.
			layer := randomBytes(20, 40_000)
			resp, body := do(t, http.MethodPost, base+"/v2/team/app/blobs/uploads/?digest="+digest.FromBytes(layer).String(), bytes.NewReader(layer))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("OCI blob: %d %s", resp.StatusCode, body)
			}
			usage(40_000)

			// Two files of the same 30 000 bytes: each counts (the owner's
			// name is case-insensitive).
			a := randomBytes(21, 30_000)
			for _, u := range []string{api + "a.bin", strings.Replace(api, "/team/", "/Team/", 1) + "copy-of-a.bin"} {
				if resp, body := do(t, http.MethodPut, u, bytes.NewReader(a)); resp.StatusCode != http.StatusCreated {
					t.Fatalf("PUT %s: %d %s", u, resp.StatusCode, body)
				}
			}
			usage(100_000)

			// Full: one more byte is refused, as a plain upload, a
			// resumable upload announcing its length and an OCI blob.
			resp, body = do(t, http.MethodPut, api+"b.bin", strings.NewReader("b"))
			refused(resp, body, "generic upload over the quota")
			resp, body = do(t, http.MethodPost, api+"b.bin/uploads", nil, "Upload-Length", "1")
			refused(resp, body, "resumable upload over the quota")
			one := []byte("x")
			resp, body = do(t, http.MethodPost, base+"/v2/team/app/blobs/uploads/?digest="+digest.FromBytes(one).String(), bytes.NewReader(one))
			expectOCIError(t, resp, body, http.StatusForbidden, oci.CodeDenied)
			if resp, _ := do(t, http.MethodGet, api+"b.bin", nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("refused file exists: %d", resp.StatusCode)
			}
			usage(100_000)

			// A resumable upload without a declared length is refused when
			// it finishes.
			resp, _ = do(t, http.MethodPost, api+"c.bin/uploads", nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("start resumable upload: %d", resp.StatusCode)
			}
			resp, body = do(t, http.MethodPut, base+resp.Header.Get("Location"), strings.NewReader("cc"))
			refused(resp, body, "resumable upload finished over the quota")
			usage(100_000)

			// Deleting one copy frees its 30 000 bytes.
			if resp, body := do(t, http.MethodDelete, api+"copy-of-a.bin", nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete file: %d %s", resp.StatusCode, body)
			}
			usage(70_000)
			b := randomBytes(22, 20_000)
			if resp, body := do(t, http.MethodPut, api+"b.bin", bytes.NewReader(b)); resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload after the delete freed space: %d %s", resp.StatusCode, body)
			}
			usage(90_000)
			resp, body = do(t, http.MethodPut, base+"/api/packages/team/generic/tool/2.0.0/c.bin", bytes.NewReader(randomBytes(23, 10_001)))
			refused(resp, body, "a new version over the quota")

			// A version delete frees all its files; so does the
			// management API's.
			if resp, body := do(t, http.MethodPut, base+"/api/packages/team/generic/tool/2.0.0/c.bin", bytes.NewReader(randomBytes(23, 10_000))); resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload to the quota: %d %s", resp.StatusCode, body)
			}
			usage(100_000)
			if resp, body := do(t, http.MethodDelete, base+"/api/packages/team/generic/tool/1.0.0", nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete version: %d %s", resp.StatusCode, body)
			}
			usage(50_000)
			if resp, body := do(t, http.MethodDelete, base+"/api/v1/packages/team/generic/tool/2.0.0", nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("management API delete: %d %s", resp.StatusCode, body)
			}
			usage(40_000)
			if n, err := meta.RepoUsage(ctx, "team/app"); err != nil || n != 40_000 {
				t.Fatalf("RepoUsage(team/app) = %d, %v; want 40000 (files never count there)", n, err)
			}
		})
	}
}

// TestGenericUploadSweep: when storage sweeps an expired generic upload
// session, its package upload record goes too.
func TestGenericUploadSweep(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			meta := newMeta(t, kind)
			bucket, _ := fileBucket(t)
			base := newServer(t, meta, bucket)
			pkgs, ok := meta.(metadata.Packages)
			if !ok {
				t.Fatalf("%T does not implement metadata.Packages", meta)
			}
			start := func(file string) string {
				t.Helper()
				resp, body := do(t, http.MethodPost, base+"/api/packages/o/generic/p/1.0.0/"+file+"/uploads", nil)
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("start: %d %s", resp.StatusCode, body)
				}
				return resp.Header.Get("Location")
			}
			expired := start("old.bin")
			if resp, _ := do(t, http.MethodPatch, base+expired, strings.NewReader("abc")); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("chunk: %d", resp.StatusCode)
			}
			id := path.Base(expired)
			if _, err := pkgs.GetPackageUpload(ctx, id); err != nil {
				t.Fatalf("package upload record before the sweep: %v", err)
			}
			cutoff := time.Now().Add(time.Millisecond)
			time.Sleep(5 * time.Millisecond)
			fresh := start("new.bin")

			st, err := storage.Open(context.Background(), bucket, meta)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			n, err := st.SweepUploads(ctx, cutoff)
			if err != nil || n != 1 {
				t.Fatalf("SweepUploads = %d, %v; want 1", n, err)
			}
			if _, err := pkgs.GetPackageUpload(ctx, id); !errors.Is(err, metadata.ErrNotFound) {
				t.Fatalf("package upload record after the sweep: %v, want not found", err)
			}
			if resp, _ := do(t, http.MethodGet, base+expired, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("swept session: %d", resp.StatusCode)
			}
			// The fresh session and its record are untouched.
			if _, err := pkgs.GetPackageUpload(ctx, path.Base(fresh)); err != nil {
				t.Fatalf("record of the fresh session: %v", err)
			}
			if resp, body := do(t, http.MethodPut, base+fresh, strings.NewReader("new")); resp.StatusCode != http.StatusCreated {
				t.Fatalf("finish the fresh session: %d %s", resp.StatusCode, body)
			}
		})
	}
}
