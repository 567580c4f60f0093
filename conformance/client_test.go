package conformance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/regkit/regkit/conformance"
)

func TestParseChallenge(t *testing.T) {
	ch, ok := conformance.ParseChallenge([]string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`})
	if !ok || ch.Scheme != "Bearer" || ch.Params["realm"] != "https://auth.example/token" || ch.Params["service"] != "registry.example" || ch.Params["scope"] != "repository:a/b:pull,push" {
		t.Fatalf("got %+v %v", ch, ok)
	}
	if _, ok := conformance.ParseChallenge(nil); ok {
		t.Error("empty challenge parsed")
	}
}

// tokenRegistry challenges with Bearer and issues a token for user:pass.
func tokenRegistry(t *testing.T, tokenCalls *atomic.Int32) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			tokenCalls.Add(1)
			u, p, ok := r.BasicAuth()
			if !ok || u != "user" || p != "pass" || r.URL.Query().Get("scope") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "T:" + r.URL.Query().Get("scope")})
		case r.Header.Get("Authorization") == "Bearer T:repository:a:pull,push":
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="test",scope="repository:a:pull,push"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBearerFlowCachesTokenPerScope(t *testing.T) {
	var calls atomic.Int32
	srv := tokenRegistry(t, &calls)
	cfg := conformance.Default()
	cfg.URL, cfg.Username, cfg.Password = srv.URL, "user", "pass"
	rec := conformance.NewRecorder(0)
	c, err := conformance.NewClient(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, err := c.Do(context.Background(), conformance.Request{Method: http.MethodGet, URL: "/v2/a/tags/list", Scopes: []string{"repository:a:pull,push"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("status %d", resp.Status)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
	for _, ex := range rec.Exchanges() {
		for _, v := range ex.RequestHeader.Values("Authorization") {
			if strings.Contains(v, "T:") || strings.Contains(v, "pass") {
				t.Errorf("credential recorded: %q", v)
			}
		}
	}
}

func TestBearerFlowWrongPassword(t *testing.T) {
	var calls atomic.Int32
	srv := tokenRegistry(t, &calls)
	cfg := conformance.Default()
	cfg.URL, cfg.Username, cfg.Password = srv.URL, "user", "wrong"
	c, err := conformance.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), conformance.Request{Method: http.MethodGet, URL: "/v2/"})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("err = %v, want a token error", err)
	}
}

func TestBasicAuthAfterChallenge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "pass" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	cfg := conformance.Default()
	cfg.URL, cfg.Username, cfg.Password = srv.URL, "user", "pass"
	c, err := conformance.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), conformance.Request{Method: http.MethodGet, URL: "/v2/"})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("resp %v err %v", resp, err)
	}
}
