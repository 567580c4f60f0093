package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
)

// TestDefaultMaxManifestSize: by default a manifest of exactly 10 MiB is
// stored and one byte more is refused with 413.
func TestDefaultMaxManifestSize(t *testing.T) {
	if server.DefaultMaxManifestSize < 10<<20 {
		t.Fatalf("DefaultMaxManifestSize %d, want at least 10 MiB", server.DefaultMaxManifestSize)
	}
	base := newServer(t, newMeta(t, "mem"), "mem://")
	cfg := []byte(`{}`)
	cd := digest.FromBytes(cfg)
	if resp, body := do(t, http.MethodPost, base+"/v2/big/app/blobs/uploads/?digest="+cd.String(), bytes.NewReader(cfg)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push config: %d %s", resp.StatusCode, body)
	}
	manifest := func(size int) []byte {
		head := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[],"annotations":{"pad":"`, cd, len(cfg))
		tail := `"}}`
		return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
	}
	put := func(tag string, m []byte) int {
		resp, body := do(t, http.MethodPut, base+"/v2/big/app/manifests/"+tag, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != http.StatusCreated && !bytes.Contains(body, []byte(`"errors"`)) {
			t.Fatalf("PUT %s: %d without an OCI error body: %.200s", tag, resp.StatusCode, body)
		}
		return resp.StatusCode
	}
	m := manifest(int(server.DefaultMaxManifestSize))
	if got := put("exact", m); got != http.StatusCreated {
		t.Fatalf("a manifest of %d bytes: %d, want 201", len(m), got)
	}
	resp, body := do(t, http.MethodGet, base+"/v2/big/app/manifests/exact", nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, m) {
		t.Fatalf("GET the 10 MiB manifest: %d, %d bytes", resp.StatusCode, len(body))
	}
	if got := put("over", manifest(int(server.DefaultMaxManifestSize)+1)); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("a manifest one byte over the limit: %d, want 413", got)
	}
}
