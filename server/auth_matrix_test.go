package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
)

// matrixRow is one identity of the authorization matrix with the expected
// outcome of each action on a public and a private owner. An outcome is
// "pull push delete list tokens":
//
//   - pull: GET <ns>/app/manifests/v1 (200, 401 or 403);
//   - push: POST <ns>/app/blobs/uploads/ (202, 401 or 403);
//   - delete: DELETE <ns>/app/manifests/del-<row> (202, 401 or 403);
//   - list: GET /v2/_catalog: "+" lists <ns>/app, "-" answers 200
//     without it, or a status;
//   - tokens: GET /api/v1/users/<user>/tokens, or for the organization rows
//     GET /api/v1/owners/<org>/deploy_tokens (200, 401 or 403).
//
// Every request goes through the docker token flow (a token for the
// operation's scope from the token endpoint, with Basic credentials or
// anonymously; on a challenge, a token for its scope and a retry),
// except the expired OCI token, which is sent as is; on /api the
// credentials are sent directly (Basic with the password, "token X" for
// tokens, "Bearer X" for the OCI token).
type matrixRow struct {
	name          string
	org           bool // the namespace is the organization (member rows), else the user
	public, priv  string
	basicUser     func(v string) string // user name for Basic, given the visibility prefix
	secret        func(v string) string // password or token, given the visibility prefix
	apiHeader     func(v string) string
	bearerOCIOnly bool // send secret as a fixed bearer token on /v2
}

const pw = "correct-horse-battery"

func TestAuthMatrix(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) { runMatrix(t, kind) })
	}
}

func runMatrix(t *testing.T, kind string) {
	meta := newMeta(t, kind)
	e := newAuthServer(t, meta, "", nil, func(c *auth.Config) { c.Limits.FailedLogins = -1 })
	ctx := t.Context()

	// Fixture: for each visibility v ("pub", "priv"): user <v>user and
	// organization <v>org with the same visibility; members reader, writer
	// and orgadmin in both organizations; outsider and site admin root.
	for _, u := range []string{"reader", "writer", "orgadmin", "outsider"} {
		e.user(u, pw, metadata.VisibilityPublic, false)
	}
	e.user("root", pw, metadata.VisibilityPrivate, true)
	secrets := map[string]string{} // "<v>:<token>" → secret
	expired := map[string]string{}
	past, err := auth.New(auth.Config{Identity: e.ident, SigningKeys: [][]byte{testKey}, Service: "regkit-test", KDF: cheapKDF,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"pub", "priv"} {
		vis := metadata.VisibilityPublic
		if v == "priv" {
			vis = metadata.VisibilityPrivate
		}
		user := v + "user"
		e.user(user, pw, vis, false)
		e.org(v+"org", vis, map[string]metadata.Role{"reader": metadata.RoleRead, "writer": metadata.RoleWrite, "orgadmin": metadata.RoleAdmin})
		secrets[v+":read"], _ = e.token(metadata.TokenPersonal, user, "read", auth.ScopeReadPackages)
		secrets[v+":write"], _ = e.token(metadata.TokenPersonal, user, "write", auth.ScopeWritePackages)
		secrets[v+":delete"], _ = e.token(metadata.TokenPersonal, user, "delete", auth.ScopeDeletePackages)
		secrets[v+":deploy-read"], _ = e.token(metadata.TokenDeploy, user, "deploy-read", auth.ScopeReadPackages)
		secrets[v+":deploy-write"], _ = e.token(metadata.TokenDeploy, user, "deploy-write", auth.ScopeWritePackages)
		var revoked metadata.Token
		secrets[v+":revoked"], revoked = e.token(metadata.TokenPersonal, user, "revoked", auth.ScopeWritePackages)
		if err := e.ident.DeleteToken(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		p, err := past.Authenticate(ctx, auth.Credentials{Kind: auth.BasicCredentials, Username: user, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		bt, err := past.IssueBearer(ctx, p, []string{"repository:" + user + "/app:pull,push,delete", "registry:catalog:*"})
		if err != nil {
			t.Fatal(err)
		}
		expired[v] = bt.Token
	}

	pass := func(string) string { return pw }
	named := func(n string) func(string) string { return func(string) string { return n } }
	own := func(v string) string { return v + "user" }
	secret := func(name string) func(string) string {
		return func(v string) string { return secrets[v+":"+name] }
	}
	basicPw := func(user func(string) string) func(string) string {
		return func(v string) string { return basic(user(v), pw) }
	}
	tokenHdr := func(name string) func(string) string {
		return func(v string) string { return "token " + secrets[v+":"+name] }
	}
	rows := []matrixRow{
		{name: "anonymous", public: "200 401 401 + 401", priv: "401 401 401 - 401",
			apiHeader: named("")},
		{name: "owner", public: "200 202 202 + 200", priv: "200 202 202 + 200",
			basicUser: own, secret: pass, apiHeader: basicPw(own)},
		{name: "member-read", org: true, public: "200 403 403 + 403", priv: "200 403 403 + 403",
			basicUser: named("reader"), secret: pass, apiHeader: basicPw(named("reader"))},
		{name: "member-write", org: true, public: "200 202 202 + 403", priv: "200 202 202 + 403",
			basicUser: named("writer"), secret: pass, apiHeader: basicPw(named("writer"))},
		{name: "member-admin", org: true, public: "200 202 202 + 200", priv: "200 202 202 + 200",
			basicUser: named("orgadmin"), secret: pass, apiHeader: basicPw(named("orgadmin"))},
		{name: "outsider", public: "200 403 403 + 403", priv: "403 403 403 - 403",
			basicUser: named("outsider"), secret: pass, apiHeader: basicPw(named("outsider"))},
		{name: "site-admin", public: "200 202 202 + 200", priv: "200 202 202 + 200",
			basicUser: named("root"), secret: pass, apiHeader: basicPw(named("root"))},
		{name: "read-token", public: "200 403 403 + 403", priv: "200 403 403 + 403",
			basicUser: own, secret: secret("read"), apiHeader: tokenHdr("read")},
		{name: "write-token", public: "200 202 403 + 403", priv: "200 202 403 + 403",
			basicUser: own, secret: secret("write"), apiHeader: tokenHdr("write")},
		{name: "delete-token", public: "200 403 202 + 403", priv: "200 403 202 + 403",
			basicUser: own, secret: secret("delete"), apiHeader: tokenHdr("delete")},
		{name: "deploy-read", public: "200 403 403 + 403", priv: "200 403 403 + 403",
			basicUser: named("ci-bot"), secret: secret("deploy-read"), apiHeader: tokenHdr("deploy-read")},
		{name: "deploy-write", public: "200 202 403 + 403", priv: "200 202 403 + 403",
			basicUser: named("ci-bot"), secret: secret("deploy-write"), apiHeader: tokenHdr("deploy-write")},
		{name: "revoked-token", public: "401 401 401 401 401", priv: "401 401 401 401 401",
			basicUser: own, secret: secret("revoked"), apiHeader: tokenHdr("revoked")},
		{name: "expired-oci-token", public: "401 401 401 401 401", priv: "401 401 401 401 401",
			secret: func(v string) string { return expired[v] }, bearerOCIOnly: true,
			apiHeader: func(v string) string { return "Bearer " + expired[v] }},
	}

	// Images: <ns>/app:v1 and one tag per row to delete, pushed by root.
	rootAuth := basic("root", pw)
	for _, v := range []string{"pub", "priv"} {
		for _, ns := range []string{v + "user", v + "org"} {
			e.pushImage(ns+"/app", "v1", rootAuth)
			for _, row := range rows {
				e.pushImage(ns+"/app", "del-"+row.name, rootAuth)
			}
		}
	}

	for _, row := range rows {
		for _, v := range []string{"pub", "priv"} {
			want := row.public
			if v == "priv" {
				want = row.priv
			}
			t.Run(row.name+"/"+v, func(t *testing.T) {
				ns := v + "user"
				if row.org {
					ns = v + "org"
				}
				var c client
				switch {
				case row.bearerOCIOnly:
					c.bearer = row.secret(v)
				case row.basicUser != nil:
					c.user, c.pass = row.basicUser(v), row.secret(v)
				}
				repo := ns + "/app"
				got := make([]string, 5)
				got[0] = strconv.Itoa(e.oci(c, http.MethodGet, "/v2/"+repo+"/manifests/v1", nil,
					"Accept", "application/vnd.oci.image.manifest.v1+json").status)
				got[1] = strconv.Itoa(e.oci(c, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil).status)
				got[2] = strconv.Itoa(e.oci(c, http.MethodDelete, "/v2/"+repo+"/manifests/del-"+row.name, nil).status)
				if repos, resp := e.catalog(c); resp.status != http.StatusOK {
					got[3] = strconv.Itoa(resp.status)
				} else if slices.Contains(repos, repo) {
					got[3] = "+"
				} else {
					got[3] = "-"
				}
				path := "/api/v1/users/" + v + "user/tokens"
				if row.org {
					path = "/api/v1/owners/" + ns + "/deploy_tokens"
				}
				got[4] = strconv.Itoa(e.send(http.MethodGet, path, row.apiHeader(v), nil).status)
				if g := strings.Join(got, " "); g != want {
					t.Errorf("%s on %s owner: got %q, want %q (pull push delete list tokens)", row.name, v, g, want)
				}
			})
		}
	}
}
