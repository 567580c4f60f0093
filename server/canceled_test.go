package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/storage"
)

// TestClientGoneIsNotAnInternalError: a request whose client went away
// (its context canceled) before the metadata store answered is recorded
// as 499, and the log has no "internal error" for it (OCI, generic and
// management API).
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	meta := newMeta(t, "bolt")
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var logs bytes.Buffer
	h := server.New(meta, st, server.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, target := range []string{"/v2/app/manifests/v1", "/v2/app/tags/list", "/v2/app/blobs/sha256:" + strings.Repeat("a", 64),
		"/api/packages/alice/generic/tool/1.0.0/tool.tgz", "/api/v1/packages/alice"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil))
		if rec.Code != server.StatusClientClosedRequest {
			t.Errorf("GET %s with its client gone: status %d, want %d\n%s", target, rec.Code, server.StatusClientClosedRequest, rec.Body)
		}
	}
	if strings.Contains(logs.String(), "internal error") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a canceled request was logged as a server error:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "request canceled by the client") {
		t.Fatalf("no debug line for the canceled requests:\n%s", logs.String())
	}
}
