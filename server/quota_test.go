package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/quota"
	"github.com/regkit/regkit/spec/oci"
)

// TestQuota: a namespace's quota refuses monolithic and chunked uploads
// and mounts that would exceed it with 403 DENIED naming the quota; other
// namespaces and blobs already present are not affected.
func TestQuota(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			meta := newMeta(t, kind)
			q := quota.New(meta, quota.WithLimit("small", 100_000))
			base := newServer(t, meta, "mem://", server.WithQuota(q), server.WithAutoMount(true))

			fits := randomBytes(10, 60_000)
			resp, body := do(t, http.MethodPost, base+"/v2/small/app/blobs/uploads/?digest="+digest.FromBytes(fits).String(), bytes.NewReader(fits))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload within quota: %d %s", resp.StatusCode, body)
			}
			// The same blob again adds nothing.
			resp, _ = do(t, http.MethodPost, base+"/v2/small/app/blobs/uploads/?digest="+digest.FromBytes(fits).String(), bytes.NewReader(fits))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("re-upload of a present blob: %d", resp.StatusCode)
			}

			big := randomBytes(11, 50_000)
			bd := digest.FromBytes(big)
			resp, body = do(t, http.MethodPost, base+"/v2/small/other/blobs/uploads/?digest="+bd.String(), bytes.NewReader(big))
			expectOCIError(t, resp, body, http.StatusForbidden, oci.CodeDenied)
			if !strings.Contains(string(body), `namespace \"small\"`) || !strings.Contains(string(body), "quota") {
				t.Fatalf("message does not name the quota: %s", body)
			}

			loc := startUpload(t, base, "small/chunks")
			if r := patch(t, base, loc, 0, big[:30_000]); r.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH within quota: %d", r.StatusCode)
			}
			resp, body = do(t, http.MethodPatch, base+loc, bytes.NewReader(big[30_000:]),
				"Content-Range", fmt.Sprintf("%d-%d", 30_000, len(big)-1))
			expectOCIError(t, resp, body, http.StatusForbidden, oci.CodeDenied)

			// Another namespace is unlimited; mounting from it into the
			// small namespace counts against the quota.
			resp, _ = do(t, http.MethodPost, base+"/v2/big/app/blobs/uploads/?digest="+bd.String(), bytes.NewReader(big))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload to an unlimited namespace: %d", resp.StatusCode)
			}
			resp, body = do(t, http.MethodPost, base+"/v2/small/app/blobs/uploads/?mount="+bd.String()+"&from=big/app", nil)
			expectOCIError(t, resp, body, http.StatusForbidden, oci.CodeDenied)

			used, err := q.Usage(t.Context(), "small")
			if err != nil || used != 60_000 {
				t.Fatalf("usage of small = %d, %v; want 60000", used, err)
			}
		})
	}
}
