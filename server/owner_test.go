package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// jsonMessage returns the "message" of a JSON error body.
func jsonMessage(t *testing.T, resp response) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(resp.body, &e); err != nil {
		t.Fatalf("error body %q: %v", resp.body, err)
	}
	return e.Message
}

// uploadFile uploads a generic package file as authz and fails unless 201.
func (e *authEnv) uploadFile(owner, pkg, version, file, authz string) {
	e.t.Helper()
	resp := e.send(http.MethodPut, "/api/packages/"+owner+"/generic/"+pkg+"/"+version+"/"+file, authz, []byte("bytes of "+file))
	if resp.status != http.StatusCreated {
		e.t.Fatalf("upload %s/%s/%s/%s: %s", owner, pkg, version, file, resp)
	}
}

// TestNamespaceTakeover replays the hostile test: a read-only member of a
// private organization waits for it to be deleted, creates an
// organization of the same name and would own its images and packages.
// Deleting an owner with content is refused unless purged, and a purge
// leaves nothing for the next owner of the name.
func TestNamespaceTakeover(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			e := newAuthServer(t, newMeta(t, kind), "", nil, nil)
			e.user("root", pw, metadata.VisibilityPrivate, true)
			e.user("boss", pw, metadata.VisibilityPrivate, false)
			e.user("reader", pw, metadata.VisibilityPrivate, false)
			e.org("team", metadata.VisibilityPrivate, map[string]metadata.Role{"boss": metadata.RoleAdmin, "reader": metadata.RoleRead})
			e.org("team-x", metadata.VisibilityPrivate, map[string]metadata.Role{"boss": metadata.RoleAdmin})
			boss, reader, root := basic("boss", pw), basic("reader", pw), basic("root", pw)
			d := e.pushImage("team/app", "v1", boss)
			e.pushImage("team/app/sub", "v1", boss)
			e.pushImage("team-x/app", "v1", boss)
			e.uploadFile("team", "tool", "1.0", "tool.bin", boss)
			e.uploadFile("team", "tool", "1.1", "tool.bin", boss)
			e.uploadFile("team", "lib", "2.0", "lib.tgz", boss)
			e.uploadFile("team-x", "tool", "1.0", "tool.bin", boss)

			resp := e.send(http.MethodDelete, "/api/v1/orgs/team", boss, nil)
			if resp.status != http.StatusConflict {
				t.Fatalf("delete of an organization with content: %s, want 409", resp)
			}
			if msg := jsonMessage(t, resp); !strings.Contains(msg, "2 repositories and 2 packages") || !strings.Contains(msg, "purge=true") {
				t.Fatalf("refusal message %q does not say what is left and how to purge", msg)
			}
			if resp := e.send(http.MethodGet, "/v2/team/app/manifests/v1", reader, nil); resp.status != http.StatusOK {
				t.Fatalf("the refused delete changed something: %s", resp)
			}
			if resp := e.send(http.MethodDelete, "/api/v1/orgs/team?purge=perhaps", boss, nil); resp.status != http.StatusBadRequest {
				t.Fatalf("purge=perhaps: %s, want 400", resp)
			}
			if resp := e.send(http.MethodDelete, "/api/v1/orgs/team?purge=true", boss, nil); resp.status != http.StatusNoContent {
				t.Fatalf("purge: %s", resp)
			}

			// The read-only member takes the name: it holds nothing.
			resp = e.send(http.MethodPost, "/api/v1/orgs", reader, []byte(`{"username":"team","visibility":"private"}`), "Content-Type", "application/json")
			if resp.status != http.StatusCreated {
				t.Fatalf("create the freed name: %s", resp)
			}
			for _, path := range []string{"/v2/team/app/manifests/v1", "/v2/team/app/manifests/" + d.String(), "/v2/team/app/sub/manifests/v1"} {
				if resp := e.send(http.MethodGet, path, reader, nil); resp.status != http.StatusNotFound {
					t.Fatalf("GET %s by the new owner: %s, want 404", path, resp)
				}
			}
			if resp := e.send(http.MethodGet, "/v2/team/app/tags/list", reader, nil); resp.status != http.StatusNotFound {
				t.Fatalf("tags of the purged repository: %s, want 404", resp)
			}
			if resp := e.send(http.MethodGet, "/api/packages/team/generic/tool/1.0/tool.bin", reader, nil); resp.status != http.StatusNotFound {
				t.Fatalf("package file of the purged owner: %s, want 404", resp)
			}
			resp = e.send(http.MethodGet, "/api/v1/packages/team", reader, nil)
			if resp.status != http.StatusOK || string(bytes.TrimSpace(resp.body)) != "[]" {
				t.Fatalf("packages of the new owner: %s, want []", resp)
			}
			repos, cresp := e.catalog(client{user: "root", pass: pw})
			if cresp.status != http.StatusOK {
				t.Fatalf("catalog: %s", cresp)
			}
			if strings.Join(repos, " ") != "team-x/app" {
				t.Fatalf("catalog after the purge = %q, want only team-x/app", repos)
			}
			// The neighbour whose name starts the same is untouched.
			if resp := e.send(http.MethodGet, "/v2/team-x/app/manifests/v1", root, nil); resp.status != http.StatusOK {
				t.Fatalf("team-x/app after purging team: %s", resp)
			}
			if resp := e.send(http.MethodGet, "/api/packages/team-x/generic/tool/1.0/tool.bin", root, nil); resp.status != http.StatusOK {
				t.Fatalf("team-x's package after purging team: %s", resp)
			}
			// Quotas see an empty namespace.
			if n, err := e.meta.NamespaceUsage(t.Context(), "team"); err != nil || n != 0 {
				t.Fatalf("NamespaceUsage(team) after the purge = %d, %v; want 0", n, err)
			}
		})
	}
}

// TestUserDeleteRefusedWithContent checks the site admin's user delete:
// refused while the user owns repositories or packages, done with
// ?purge=true.
func TestUserDeleteRefusedWithContent(t *testing.T) {
	e := newAuthServer(t, newMeta(t, "mem"), "", nil, nil)
	e.user("root", pw, metadata.VisibilityPrivate, true)
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	e.user("empty", pw, metadata.VisibilityPrivate, false)
	root := basic("root", pw)
	e.pushImage("alice", "v1", basic("alice", pw)) // the repository named like its owner
	resp := e.send(http.MethodDelete, "/api/v1/admin/users/alice", root, nil)
	if resp.status != http.StatusConflict || !strings.Contains(jsonMessage(t, resp), "1 repository and 0 packages") {
		t.Fatalf("delete of a user with a repository: %s, want 409 naming it", resp)
	}
	if _, err := e.ident.GetAccount(t.Context(), "alice"); err != nil {
		t.Fatalf("the refused delete removed the account: %v", err)
	}
	if resp := e.send(http.MethodDelete, "/api/v1/admin/users/empty", root, nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete of a user without content: %s", resp)
	}
	if resp := e.send(http.MethodDelete, "/api/v1/admin/users/alice?purge=true", root, nil); resp.status != http.StatusNoContent {
		t.Fatalf("purge: %s", resp)
	}
	if _, _, err := e.meta.Tags(t.Context(), "alice", "", -1); err == nil {
		t.Fatal("the purged user's repository is still there")
	}
	if resp := e.send(http.MethodDelete, "/api/v1/admin/users/alice?purge=true", root, nil); resp.status != http.StatusNotFound {
		t.Fatalf("second purge: %s, want 404", resp)
	}
}

// TestFreedNameInheritsNothing: content under a name without an account
// (left by an older version, or pushed by a site admin) blocks creating
// an account of that name until a site admin purges it.
func TestFreedNameInheritsNothing(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			e := newAuthServer(t, newMeta(t, kind), "", nil, nil)
			e.user("root", pw, metadata.VisibilityPrivate, true)
			e.user("mallory", pw, metadata.VisibilityPrivate, false)
			root, mallory := basic("root", pw), basic("mallory", pw)
			ctx := t.Context()
			// What an older version left: a repository, a blob link without
			// a manifest, and a package of owner "ghost", which has no
			// account.
			e.pushImage("ghost/app", "v1", root)
			left := metadata.Blob{Digest: digest.FromString("left"), Size: 4, Key: "k"}
			if _, err := e.meta.PutBlob(ctx, left); err != nil {
				t.Fatal(err)
			}
			if err := e.meta.LinkBlob(ctx, "ghost/uploads", left); err != nil {
				t.Fatal(err)
			}
			f := metadata.PackageFile{Name: "tool.bin", Size: 3, SHA256: digest.FromString("abc").Encoded()}
			if _, err := e.meta.(metadata.Packages).PutPackageFile(ctx, metadata.PackageRef{Owner: "ghost", Type: "generic", Name: "tool", Version: "1.0"}, f, metadata.PutFileOptions{}); err != nil {
				t.Fatal(err)
			}

			for _, c := range []struct{ path, authz, body string }{
				{"/api/v1/orgs", mallory, `{"username":"ghost"}`},
				{"/api/v1/orgs", mallory, `{"username":"GHOST"}`},
				{"/api/v1/admin/users", root, `{"username":"ghost","password":"ghost-password-1"}`},
			} {
				resp := e.send(http.MethodPost, c.path, c.authz, []byte(c.body), "Content-Type", "application/json")
				if resp.status != http.StatusUnprocessableEntity {
					t.Fatalf("POST %s %s: %s, want 422", c.path, c.body, resp)
				}
				if msg := jsonMessage(t, resp); !strings.Contains(msg, "2 repositories and 1 package") || !strings.Contains(msg, "purge=true") {
					t.Fatalf("refusal %q does not say what is left and how to remove it", msg)
				}
			}
			if _, err := e.ident.GetAccount(ctx, "ghost"); err == nil {
				t.Fatal("an account ghost was created")
			}
			if resp := e.send(http.MethodDelete, "/api/v1/admin/users/ghost?purge=true", mallory, nil); resp.status != http.StatusForbidden {
				t.Fatalf("purge by a non-admin: %s, want 403", resp)
			}
			if resp := e.send(http.MethodDelete, "/api/v1/admin/users/ghost", root, nil); resp.status != http.StatusNotFound {
				t.Fatalf("delete of a name without account, without purge: %s, want 404", resp)
			}
			if resp := e.send(http.MethodDelete, "/api/v1/admin/users/ghost?purge=true", root, nil); resp.status != http.StatusNoContent {
				t.Fatalf("purge of a name without account: %s", resp)
			}
			if resp := e.send(http.MethodDelete, "/api/v1/admin/users/nobody?purge=true", root, nil); resp.status != http.StatusNotFound {
				t.Fatalf("purge of an unknown, empty name: %s, want 404", resp)
			}
			resp := e.send(http.MethodPost, "/api/v1/orgs", mallory, []byte(`{"username":"ghost"}`), "Content-Type", "application/json")
			if resp.status != http.StatusCreated {
				t.Fatalf("create after the purge: %s", resp)
			}
			if _, err := e.meta.RepoBlob(ctx, "ghost/uploads", digest.FromString("left")); err == nil {
				t.Fatal("the new owner inherited a blob link")
			}
		})
	}
}
