package main

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestServeUpstreamProxy: regkit serve --upstream in front of a second
// regkit serve. An image pushed through the proxy by a real client
// (go-containerregistry, chunked uploads) is in the upstream registry
// byte for byte and pulls back through the proxy; an upload ID that
// points anywhere but the upstream's own upload URLs is refused (the
// proxy never sends its requests elsewhere); an unreachable upstream is
// a 503 with Retry-After.
func TestServeUpstreamProxy(t *testing.T) {
	up := defaultServeConfig()
	up.Addr, up.Data = "127.0.0.1:0", t.TempDir()
	upAddr, stopUp := startServe(t, up)
	defer stopUp()

	px := defaultServeConfig()
	px.Addr, px.Data = "127.0.0.1:0", t.TempDir()
	px.Upstream = "http://" + upAddr
	pxAddr, stopPx := startServe(t, px)
	defer stopPx()

	img, err := random.Image(300_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, _ := name.ParseReference(pxAddr+"/team/app:v1", name.Insecure)
	if err := remote.Write(viaProxy, img); err != nil {
		t.Fatalf("push through the proxy: %v", err)
	}
	direct, _ := name.ParseReference(upAddr+"/team/app:v1", name.Insecure)
	for what, ref := range map[string]name.Reference{"upstream": direct, "proxy": viaProxy} {
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pull from the %s: %v", what, err)
		}
		sameImage(t, "pull from the "+what, img, got)
	}

	// An upload ID is the upstream Location, encoded: one naming another
	// host, or another repository's session, is unknown.
	for _, loc := range []string{
		"http://169.254.169.254/v2/team/app/blobs/uploads/x",
		"http://" + upAddr + "/v2/other/app/blobs/uploads/x",
		"http://" + upAddr + "/v2/team/app/manifests/v1",
	} {
		id := base64.RawURLEncoding.EncodeToString([]byte(loc))
		resp, err := http.Get("http://" + pxAddr + "/v2/team/app/blobs/uploads/" + id)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "BLOB_UPLOAD_UNKNOWN") {
			t.Fatalf("upload ID for %s: %d %s, want 404 BLOB_UPLOAD_UNKNOWN", loc, resp.StatusCode, body)
		}
	}

	// An upstream nobody listens on: 503 with Retry-After, never a 500.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	px2 := defaultServeConfig()
	px2.Addr, px2.Data, px2.Upstream = "127.0.0.1:0", t.TempDir(), "http://"+dead
	px2Addr, stopPx2 := startServe(t, px2)
	defer stopPx2()
	for _, path := range []string{"/v2/team/app/manifests/v1", "/v2/team/app/tags/list", "/v2/_catalog"} {
		resp, err := http.Get("http://" + px2Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "UNAVAILABLE") {
			t.Fatalf("GET %s with the upstream down: %d (Retry-After %q) %s, want 503 UNAVAILABLE with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}
