package oci

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// TestEveryRouteHasAMethod checks the routeMethods table against the route
// table and the method set of *Client.
func TestEveryRouteHasAMethod(t *testing.T) {
	ct := reflect.TypeOf(&Client{})
	for _, r := range ocispec.Routes() {
		name, ok := routeMethods[r.ID]
		if !ok {
			t.Errorf("route %s (%v %s) has no client method in routeMethods", r.ID, r.Methods, r.Path)
			continue
		}
		if _, ok := ct.MethodByName(name); !ok {
			t.Errorf("route %s maps to %s, which is not a method of *Client", r.ID, name)
		}
	}
	for id := range routeMethods {
		if _, ok := ocispec.Lookup(id); !ok {
			t.Errorf("routeMethods has %s, which is not a route of spec/oci", id)
		}
	}
}

// TestEveryRouteIsSent calls every method of routeMethods against the
// in-process server and checks that each route of the table reached it.
func TestEveryRouteIsSent(t *testing.T) {
	c, rec := newTestClient(t)
	ctx := context.Background()
	img := fixtures.Image(fixtures.ImageOptions{Seed: 9})
	data := []byte("route coverage")
	d := digest.FromBytes(data)
	calls := map[string]func(){
		"Ping":         func() { _ = c.Ping(ctx) },
		"BlobPut":      func() { _ = c.BlobPut(ctx, "cov", d, bytes.NewReader(data), int64(len(data))) },
		"BlobGet":      func() { rc, _, err := c.BlobGet(ctx, "cov", d); closeIf(rc, err) },
		"UploadStart":  func() {},
		"UploadChunk":  func() {},
		"UploadStatus": func() {},
		"UploadFinish": func() {},
		"UploadCancel": func() {},
		"ManifestPut": func() {
			pushImage(t, c, "cov", img, "v1")
			_, _ = c.ManifestPut(ctx, "cov", img.Digest().String(), img.MediaType(), img.Data, "v2")
		},
		"ManifestGet": func() { _, _, _, _ = c.ManifestGet(ctx, "cov", "v1") },
		"TagList": func() {
			_, _ = c.TagList(ctx, "cov", nil)
			_, _ = c.TagList(ctx, "cov", &ListOptions{N: 1})
		},
		"Referrers": func() {
			_, _ = c.Referrers(ctx, "cov", img.Digest(), "")
			_, _ = c.Referrers(ctx, "cov", img.Digest(), "application/x")
		},
		"Catalog":        func() { _, _ = c.Catalog(ctx, nil) },
		"BlobMount":      func() { _, _, _ = c.BlobMount(ctx, "cov2", d, "cov") },
		"BlobDelete":     func() { _ = c.BlobDelete(ctx, "cov2", d) },
		"ManifestDelete": func() { _ = c.ManifestDelete(ctx, "cov", "v1") },
		"Token":          func() { _, _ = c.Token(ctx, "repository:cov:pull") },
	}
	// The upload session methods run as one flow.
	calls["UploadStart"] = func() {
		u, err := c.UploadStart(ctx, "cov", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.UploadChunk(ctx, u, bytes.NewReader(data), int64(len(data)))
		_, _ = c.UploadStatus(ctx, u)
		_ = c.UploadFinish(ctx, u, d)
		u, err = c.UploadStart(ctx, "cov", &UploadOptions{Algorithm: digest.SHA512})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.UploadCancel(ctx, u)
	}
	// Run in an order where each call finds what it needs.
	order := []string{"Ping", "BlobPut", "BlobGet", "UploadStart", "UploadChunk", "UploadStatus", "UploadFinish",
		"UploadCancel", "ManifestPut", "ManifestGet", "TagList", "Referrers", "Catalog", "BlobMount", "BlobDelete",
		"ManifestDelete", "Token"}
	for _, name := range routeMethods {
		if _, ok := calls[name]; !ok {
			t.Fatalf("no call for method %s", name)
		}
	}
	for _, name := range order {
		calls[name]()
	}
	seen := rec.seen()
	for _, r := range ocispec.Routes() {
		if seen[r.ID] == 0 {
			t.Errorf("route %s (%v %s) was never sent by %s", r.ID, r.Methods, r.Path, routeMethods[r.ID])
		}
	}
}

func closeIf(rc interface{ Close() error }, err error) {
	if err == nil {
		_ = rc.Close()
	}
}
