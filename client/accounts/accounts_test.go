package accounts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	spec "github.com/regkit/regkit/spec/accounts"
)

// TestEveryRouteHasAMethod checks routeMethods against the route table and
// the method set of *Client.
func TestEveryRouteHasAMethod(t *testing.T) {
	ct := reflect.TypeOf(&Client{})
	for _, r := range spec.Routes() {
		name, ok := routeMethods[r.ID]
		if !ok {
			t.Errorf("route %s (%s %s) has no client method in routeMethods", r.ID, r.Method, r.Path)
			continue
		}
		if _, ok := ct.MethodByName(name); !ok {
			t.Errorf("route %s maps to %s, which is not a method of *Client", r.ID, name)
		}
	}
	for id := range routeMethods {
		if _, ok := spec.Lookup(id); !ok {
			t.Errorf("routeMethods has %s, which is not a route of spec/accounts", id)
		}
	}
}

// recorder counts the requests of each route the server answered with a
// 2xx, matching method and path shape against the table.
type recorder struct {
	mu   sync.Mutex
	seen map[spec.RouteID]int
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		if sw.status/100 != 2 {
			return
		}
		for _, rt := range spec.Routes() {
			if rt.Method == r.Method && matches(rt.Path, r.URL.EscapedPath()) {
				rec.mu.Lock()
				rec.seen[rt.ID]++
				rec.mu.Unlock()
			}
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// matches reports whether path has the shape of the table's pattern
// (each <placeholder> one segment).
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], "<") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

var cheapKDF = auth.KDF{Time: 1, Memory: 64, Threads: 1}

// newServer starts an in-process registry with auth mode tokens and a
// site admin "root" (password "rootpw").
func newServer(t *testing.T) (string, *recorder) {
	t.Helper()
	meta := memmeta.New()
	t.Cleanup(func() { _ = meta.Close() })
	svc, err := auth.New(auth.Config{Identity: meta, Counter: meta, SigningKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Service: "regkit-test", KDF: cheapKDF})
	if err != nil {
		t.Fatal(err)
	}
	h, err := auth.HashPassword("rootpw", cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := meta.CreateAccount(t.Context(), metadata.Account{Name: "root", Type: metadata.AccountUser, PasswordHash: h, SiteAdmin: true}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{seen: map[spec.RouteID]int{}}
	ts := httptest.NewServer(rec.wrap(server.New(meta, st, server.WithAuth(svc),
		server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))))
	t.Cleanup(ts.Close)
	return ts.URL, rec
}

func ptr[T any](v T) *T { return &v }

// TestEveryRouteIsSent runs every method against a real server, checks
// what each answers, and that every route of the table was answered with
// a 2xx.
func TestEveryRouteIsSent(t *testing.T) {
	base, rec := newServer(t)
	ctx := t.Context()
	root := NewClient(base, WithBasicAuth("root", "rootpw"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	me, err := root.CurrentUser(ctx)
	must(err)
	if me.Login != "root" || !me.IsAdmin {
		t.Fatalf("CurrentUser = %+v", me)
	}
	u, err := root.CreateUser(ctx, AccountOptions{Username: "alice", Password: ptr("alice-password"), Email: ptr("a@example.com")})
	must(err)
	if u.Login != "alice" || u.Email != "a@example.com" {
		t.Fatalf("CreateUser = %+v", u)
	}
	if _, err := root.CreateUser(ctx, AccountOptions{Username: "alice", Password: ptr("another-password")}); !errors.Is(err, ErrConflict) && !errors.Is(err, &Error{Status: http.StatusUnprocessableEntity}) {
		t.Fatalf("second CreateUser alice: %v, want 409 or 422", err)
	}
	u, err = root.EditUser(ctx, "alice", AccountOptions{FullName: ptr("Alice A")})
	must(err)
	if u.FullName != "Alice A" {
		t.Fatalf("EditUser = %+v", u)
	}
	users, err := root.Users(ctx)
	must(err)
	if len(users) != 2 {
		t.Fatalf("Users = %+v, want root and alice", users)
	}
	if u, err := root.User(ctx, "alice"); err != nil || u.FullName != "Alice A" {
		t.Fatalf("User(alice) = %+v, %v", u, err)
	}

	alice := NewClient(base, WithBasicAuth("alice", "alice-password"))
	tok, err := alice.CreateToken(ctx, "alice", TokenOptions{Name: "ci", Scopes: []string{"write:package"}})
	must(err)
	if tok.SHA1 == "" || tok.Name != "ci" {
		t.Fatalf("CreateToken = %+v", tok)
	}
	withToken := NewClient(base, WithToken(tok.SHA1))
	if me, err := withToken.CurrentUser(ctx); err != nil || me.Login != "alice" {
		t.Fatalf("CurrentUser with the token = %+v, %v", me, err)
	}
	ts, err := alice.Tokens(ctx, "alice")
	must(err)
	if len(ts) != 1 || ts[0].SHA1 != "" || ts[0].Name != "ci" {
		t.Fatalf("Tokens = %+v (the list must not show secrets)", ts)
	}
	must(alice.DeleteToken(ctx, "alice", ID(ts[0].ID)))
	if _, err := withToken.CurrentUser(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("CurrentUser with a deleted token: %v, want 401", err)
	}

	org, err := alice.CreateOrg(ctx, AccountOptions{Username: "team", Visibility: ptr("private")})
	must(err)
	if org.Name != "team" || org.Visibility != "private" {
		t.Fatalf("CreateOrg = %+v", org)
	}
	if org, err = alice.EditOrg(ctx, "team", AccountOptions{FullName: ptr("The Team")}); err != nil || org.FullName != "The Team" {
		t.Fatalf("EditOrg = %+v, %v", org, err)
	}
	if org, err = root.Org(ctx, "team"); err != nil || org.FullName != "The Team" {
		t.Fatalf("Org = %+v, %v", org, err)
	}
	orgs, err := root.Orgs(ctx)
	must(err)
	if len(orgs) != 1 || orgs[0].Name != "team" {
		t.Fatalf("Orgs = %+v", orgs)
	}
	if _, err := root.CreateUser(ctx, AccountOptions{Username: "bob", Password: ptr("bob-password")}); err != nil {
		t.Fatal(err)
	}
	must(alice.SetMember(ctx, "team", "bob", "write"))
	if ok, err := alice.IsMember(ctx, "team", "bob"); err != nil || !ok {
		t.Fatalf("IsMember(bob) = %v, %v", ok, err)
	}
	ms, err := alice.Members(ctx, "team")
	must(err)
	roles := map[string]string{}
	for _, m := range ms {
		roles[m.Login] = m.Role
	}
	if roles["bob"] != "write" || roles["alice"] != "admin" {
		t.Fatalf("Members = %+v", ms)
	}
	must(alice.RemoveMember(ctx, "team", "bob"))
	if ok, err := alice.IsMember(ctx, "team", "bob"); err != nil || ok {
		t.Fatalf("IsMember(bob) after removal = %v, %v", ok, err)
	}

	dt, err := alice.CreateDeployToken(ctx, "team", TokenOptions{Name: "deploy", Scopes: []string{"read:package"}, PackageTypes: []string{"generic"}})
	must(err)
	if dt.SHA1 == "" || len(dt.PackageTypes) != 1 {
		t.Fatalf("CreateDeployToken = %+v", dt)
	}
	dts, err := alice.DeployTokens(ctx, "team")
	must(err)
	if len(dts) != 1 || dts[0].SHA1 != "" {
		t.Fatalf("DeployTokens = %+v", dts)
	}
	must(alice.DeleteDeployToken(ctx, "team", "deploy"))
	must(alice.DeleteOrg(ctx, "team", false))
	if _, err := root.Org(ctx, "team"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Org after delete: %v, want 404", err)
	}
	must(root.DeleteUser(ctx, "bob", true))
	if _, err := alice.Users(ctx); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Users as a non-admin: %v, want 403", err)
	}
	var apiErr *Error
	if _, err := root.User(ctx, "nobody"); !errors.As(err, &apiErr) || apiErr.Message == "" {
		t.Fatalf("User(nobody): %v, want an API error with a message", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range spec.Routes() {
		if rec.seen[r.ID] == 0 {
			t.Errorf("route %s (%s %s) was never answered with a 2xx", r.ID, r.Method, r.Path)
		}
	}
}
