package server_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regkit/regkit/server/auth"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
)

// TestBearerExpiresWhileCached: a bearer token that the server has
// verified and cached is still refused once it expires (beyond the clock
// skew), and before it is valid; the cache only saves parsing it again.
func TestBearerExpiresWhileCached(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	e := newAuthServer(t, memmeta.New(), "", nil, func(c *auth.Config) { c.Now = clock })
	e.user("alice", pw, metadata.VisibilityPrivate, false)
	e.pushImage("alice/app", "v1", basic("alice", pw))
	jwt, resp := e.tokenFor(client{user: "alice", pass: pw}, "repository:alice/app:pull")
	if jwt == "" {
		t.Fatalf("bearer token: %s", resp)
	}
	get := func() int {
		return e.send(http.MethodGet, "/v2/alice/app/manifests/v1", "Bearer "+jwt, nil, "Accept", "application/vnd.oci.image.manifest.v1+json").status
	}
	for i := range 3 { // verified once, then from the cache
		if got := get(); got != http.StatusOK {
			t.Fatalf("GET %d with a fresh bearer token: %d", i, got)
		}
	}
	start := now.Load()
	now.Store(start + int64((auth.DefaultTokenExpiry + 29*time.Second).Seconds()))
	if got := get(); got != http.StatusOK {
		t.Fatalf("within the clock skew after expiry: %d, want 200", got)
	}
	now.Store(start + int64((auth.DefaultTokenExpiry + 31*time.Second).Seconds()))
	if got := get(); got != http.StatusUnauthorized {
		t.Fatalf("a cached bearer token after its expiry: %d, want 401", got)
	}
	now.Store(start - int64(time.Hour.Seconds()))
	if got := get(); got != http.StatusUnauthorized {
		t.Fatalf("a cached bearer token before it is valid: %d, want 401", got)
	}
}
