package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/spec/oci"
)

// pushBlob pushes body to repo monolithically with authz.
func (e *authEnv) pushBlob(repo string, body []byte, authz string) digest.Digest {
	e.t.Helper()
	d := digest.FromBytes(body)
	resp := e.send(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), authz, body, "Content-Type", "application/octet-stream")
	if resp.status != http.StatusCreated {
		e.t.Fatalf("push blob to %s: %s", repo, resp)
	}
	return d
}

// wantMounted checks that resp is a mount's 201 into repo and that the
// blob is readable there.
func (e *authEnv) wantMounted(what string, resp response, repo string, d digest.Digest, authz string) {
	e.t.Helper()
	if resp.status != http.StatusCreated || resp.header.Get("Location") != "/v2/"+repo+"/blobs/"+d.String() {
		e.t.Fatalf("%s: %s (Location %q), want 201", what, resp, resp.header.Get("Location"))
	}
	if got := e.send(http.MethodHead, "/v2/"+repo+"/blobs/"+d.String(), authz, nil); got.status != http.StatusOK {
		e.t.Fatalf("%s: HEAD of the mounted blob: %d", what, got.status)
	}
}

// wantUploadStart checks that resp is a plain upload start (202 with an
// upload Location) and that repo does not hold d.
func (e *authEnv) wantUploadStart(what string, resp response, repo string, d digest.Digest, authz string) {
	e.t.Helper()
	if resp.status != http.StatusAccepted || !strings.HasPrefix(resp.header.Get("Location"), "/v2/"+repo+"/blobs/uploads/") {
		e.t.Fatalf("%s: %s (Location %q), want 202", what, resp, resp.header.Get("Location"))
	}
	if got := e.send(http.MethodHead, "/v2/"+repo+"/blobs/"+d.String(), authz, nil); got.status != http.StatusNotFound {
		e.t.Fatalf("%s: HEAD of the blob in %s: %d, want 404", what, repo, got.status)
	}
}

// TestAuthAutoMount: with auth and WithAutoMount, a mount without from=
// of a blob the caller may pull answers 201 (with Basic credentials and
// with a bearer token covering only the target), and 202 for a caller
// that may pull no repository holding it, exactly as for a blob that
// does not exist.
func TestAuthAutoMount(t *testing.T) {
	for _, backend := range []string{"mem", "bolt"} {
		t.Run(backend, func(t *testing.T) {
			e := newAuthServerWith(t, newMeta(t, backend), "", nil, nil, server.WithAutoMount(true))
			e.user("alice", pw, metadata.VisibilityPrivate, false)
			e.user("bob", pw, metadata.VisibilityPrivate, false)
			alice, bob := basic("alice", pw), basic("bob", pw)
			d := e.pushBlob("alice/src", []byte("alice's private layer"), alice)
			missing := digest.FromString("stored nowhere")

			mount := func(repo string, d digest.Digest, authz string) response {
				return e.send(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?mount="+d.String(), authz, nil)
			}
			e.wantMounted("alice, Basic", mount("alice/dst", d, alice), "alice/dst", d, alice)
			tok, resp := e.tokenFor(client{user: "alice", pass: pw}, "repository:alice/dst2:pull,push")
			if tok == "" {
				t.Fatalf("token: %s", resp)
			}
			e.wantMounted("alice, bearer token for the target only", mount("alice/dst2", d, "Bearer "+tok), "alice/dst2", d, alice)
			e.wantUploadStart("alice, a blob stored nowhere", mount("alice/dst3", missing, alice), "alice/dst3", missing, alice)

			// bob may pull no repository holding d: the same 202 as for a
			// digest stored nowhere, so existence does not leak.
			e.wantUploadStart("bob, alice's private blob", mount("bob/dst", d, bob), "bob/dst", d, bob)
			e.wantUploadStart("bob, a blob stored nowhere", mount("bob/dst", missing, bob), "bob/dst", missing, bob)
			tok, resp = e.tokenFor(client{user: "bob", pass: pw}, "repository:bob/dst:pull,push repository:alice/src:pull")
			if tok == "" {
				t.Fatalf("token: %s", resp)
			}
			e.wantUploadStart("bob, bearer token asking for alice/src too", mount("bob/dst", d, "Bearer "+tok), "bob/dst", d, bob)

			// Once it is in a repository of bob's, bob mounts it.
			e.pushBlob("bob/own", []byte("alice's private layer"), bob)
			e.wantMounted("bob, blob in his own repository", mount("bob/dst", d, bob), "bob/dst", d, bob)
		})
	}
}

// TestAuthAutoMountOff: without WithAutoMount a mount without from=
// starts an upload even for the blob's owner.
func TestAuthAutoMountOff(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	alice := basic("alice", pw)
	d := e.pushBlob("alice/src", []byte("a layer"), alice)
	resp := e.send(http.MethodPost, "/v2/alice/dst/blobs/uploads/?mount="+d.String(), alice, nil)
	e.wantUploadStart("auto-mount off", resp, "alice/dst", d, alice)
}

// TestAuthMountFromChallenge: a mount from= a repository that the bearer
// token does not cover, while its subject may pull it, answers 401 with a
// challenge adding the source's pull scope; with a token for that scope
// it mounts. A caller without pull on the source gets 202.
func TestAuthMountFromChallenge(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	e.user("bob", pw, metadata.VisibilityPrivate, false)
	alice, bob := basic("alice", pw), basic("bob", pw)
	d := e.pushBlob("alice/src", []byte("a layer to mount"), alice)
	path := "/v2/alice/dst/blobs/uploads/?mount=" + d.String() + "&from=alice/src"

	tok, resp := e.tokenFor(client{user: "alice", pass: pw}, "repository:alice/dst:pull,push")
	if tok == "" {
		t.Fatalf("token: %s", resp)
	}
	resp = e.send(http.MethodPost, path, "Bearer "+tok, nil)
	chs, err := oci.ParseChallenges(resp.header.Values("WWW-Authenticate"))
	if resp.status != http.StatusUnauthorized || err != nil || len(chs) != 1 || !chs[0].Is("Bearer") ||
		chs[0].Params["scope"] != "repository:alice/dst:pull,push repository:alice/src:pull" || chs[0].Params["error"] != "insufficient_scope" {
		t.Fatalf("mount with a token for the target only: %s, challenge %q: %v", resp, resp.header.Values("WWW-Authenticate"), err)
	}
	params := chs[0].Params
	if tok, resp = e.tokenFor(client{user: "alice", pass: pw}, params["scope"]); tok == "" {
		t.Fatalf("token for the challenged scope: %s", resp)
	}
	e.wantMounted("alice, token for both", e.send(http.MethodPost, path, "Bearer "+tok, nil), "alice/dst", d, alice)
	// The client flow (a token for the operation, then for the challenge).
	e.wantMounted("alice, client flow", e.oci(client{user: "alice", pass: pw}, http.MethodPost,
		"/v2/alice/dst4/blobs/uploads/?mount="+d.String()+"&from=alice/src", nil), "alice/dst4", d, alice)
	// Basic credentials carry the user's rights: no challenge.
	e.wantMounted("alice, Basic", e.send(http.MethodPost, "/v2/alice/dst5/blobs/uploads/?mount="+d.String()+"&from=alice/src", alice, nil), "alice/dst5", d, alice)

	// bob may not pull alice/src: a plain upload start, with Basic and
	// with a token (no challenge he could never satisfy).
	bobPath := "/v2/bob/dst/blobs/uploads/?mount=" + d.String() + "&from=alice/src"
	e.wantUploadStart("bob, Basic", e.send(http.MethodPost, bobPath, bob, nil), "bob/dst", d, bob)
	if tok, resp = e.tokenFor(client{user: "bob", pass: pw}, "repository:bob/dst:pull,push"); tok == "" {
		t.Fatalf("token: %s", resp)
	}
	e.wantUploadStart("bob, bearer", e.send(http.MethodPost, bobPath, "Bearer "+tok, nil), "bob/dst", d, bob)
	missingPath := "/v2/bob/dst/blobs/uploads/?mount=" + digest.FromString("nowhere").String() + "&from=alice/src"
	e.wantUploadStart("bob, a blob stored nowhere", e.send(http.MethodPost, missingPath, bob, nil), "bob/dst", digest.FromString("nowhere"), bob)
}
