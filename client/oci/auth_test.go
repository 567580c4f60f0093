package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// authServer puts a Distribution-style token service in front of the
// in-process registry: every request needs "Bearer tok:<scope>" for the
// scope scopeOf computes, granted by /token to user "alice" (password
// "secret"). With basic set, it wants HTTP Basic instead.
type authServer struct {
	url         string
	tokenCalls  atomic.Int32
	challenges  atomic.Int32
	basic       bool
	staticToken string
}

func newAuthServer(t *testing.T, basic bool) *authServer {
	t.Helper()
	as := &authServer{basic: basic, staticToken: "static-token"}
	reg := newRegistry(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		as.tokenCalls.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`))
			return
		}
		if r.URL.Query().Get("service") != "test-registry" {
			http.Error(w, "wrong service", http.StatusBadRequest)
			return
		}
		scope := strings.Join(r.URL.Query()["scope"], " ")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "tok:" + scope, "expires_in": 300})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		req, err := ocispec.Parse(r.Method, r.URL)
		scope := ""
		if err == nil {
			scope = scopeOf(req)
		}
		auth := r.Header.Get("Authorization")
		switch {
		case auth == "Bearer "+as.staticToken:
		case as.basic:
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
				as.challenges.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		case !strings.HasPrefix(auth, "Bearer tok:") || !covers(strings.TrimPrefix(auth, "Bearer tok:"), scope):
			as.challenges.Add(1)
			ch := `Bearer realm="` + as.url + `/token",service="test-registry"`
			if scope != "" {
				ch += `,scope="` + scope + `"`
			}
			w.Header().Set("WWW-Authenticate", ch)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	as.url = ts.URL
	return as
}

// covers reports whether a token granted for scope granted allows need:
// every "type:name:actions" of need is granted with all its actions.
func covers(granted, need string) bool {
	have := map[string]bool{}
	for _, g := range strings.Fields(granted) {
		i := strings.LastIndexByte(g, ':')
		for _, a := range strings.Split(g[i+1:], ",") {
			have[g[:i]+":"+a] = true
		}
	}
	for _, n := range strings.Fields(need) {
		i := strings.LastIndexByte(n, ':')
		for _, a := range strings.Split(n[i+1:], ",") {
			if !have[n[:i]+":"+a] {
				return false
			}
		}
	}
	return need != "" || granted == ""
}

func TestBearerTokenFlow(t *testing.T) {
	as := newAuthServer(t, false)
	c := NewClient(as.url, WithBasicAuth("alice", "secret"))
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	img := fixtures.Image(fixtures.ImageOptions{Seed: 5})
	pushImage(t, c, "secure/app", img, "v1")
	calls := as.tokenCalls.Load()

	// Cached per scope: more pulls and pushes of the same repository ask
	// for no new token.
	for range 3 {
		if _, _, _, err := c.ManifestGet(ctx, "secure/app", "v1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.BlobPutChunked(ctx, "secure/app", bytes.NewReader(fixtures.Blob(1, 5000)), 1024); err != nil {
		t.Fatal(err)
	}
	if got := as.tokenCalls.Load(); got != calls {
		t.Fatalf("token requests grew from %d to %d; tokens are not cached", calls, got)
	}

	// A body that cannot be sent twice goes out with a token fetched in
	// advance, in a repository the client has no token for yet.
	data := []byte("streamed")
	err := c.BlobPut(ctx, "secure/other", digest.FromBytes(data), iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)))
	if err != nil {
		t.Fatalf("non-seekable BlobPut: %v", err)
	}
	tok, err := c.Token(ctx, "repository:secure/app:pull")
	if err != nil || tok != "tok:repository:secure/app:pull" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
}

func TestBearerNonReplayableFirst(t *testing.T) {
	// The very first request has a body that cannot be sent twice: the
	// client learns the realm with a ping first.
	as := newAuthServer(t, false)
	c := NewClient(as.url, WithBasicAuth("alice", "secret"))
	data := []byte("first")
	err := c.BlobPut(context.Background(), "secure/first", digest.FromBytes(data), iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthFailures(t *testing.T) {
	as := newAuthServer(t, false)
	ctx := context.Background()
	tests := []struct {
		name string
		opts []Option
	}{
		{"no credentials", nil},
		{"wrong password", []Option{WithBasicAuth("alice", "wrong")}},
		{"wrong static token", []Option{WithBearerToken("nope")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(as.url, tt.opts...)
			if _, err := c.TagList(ctx, "secure/app", nil); !errors.Is(err, ocispec.ErrUnauthorized) {
				t.Fatalf("err = %v, want UNAUTHORIZED", err)
			}
		})
	}
}

func TestStaticBearerToken(t *testing.T) {
	as := newAuthServer(t, false)
	c := NewClient(as.url, WithBearerToken(as.staticToken))
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := as.challenges.Load(); n != 0 {
		t.Fatalf("%d challenges; a static token needs none", n)
	}
}

func TestBasicAuth(t *testing.T) {
	as := newAuthServer(t, true)
	c := NewClient(as.url, WithBasicAuth("alice", "secret"))
	ctx := context.Background()
	data := []byte("basic")
	if err := c.BlobPut(ctx, "basic/app", digest.FromBytes(data), iotest.OneByteReader(bytes.NewReader(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := as.challenges.Load(); n != 1 {
		t.Fatalf("%d challenges, want 1 (then Basic up front)", n)
	}
}
