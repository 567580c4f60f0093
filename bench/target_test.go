package bench

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/regkit/regkit/server/storage/emulators"
)

// TestStartWithRedirect: over a bucket that signs (S3), StartWith serves a
// second endpoint whose blob GETs answer 307 to the bucket, and BlobGet
// through it reads the blob; over one that cannot (mem://) there is none.
func TestStartWithRedirect(t *testing.T) {
	ctx := context.Background()
	mem, err := StartWith(ctx, t.TempDir(), Options{Storage: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if mem.Redirect != nil || mem.Name != "regkit mem+bolt" {
		t.Fatalf("mem://: Redirect %v, Name %q; want none, regkit mem+bolt", mem.Redirect, mem.Name)
	}

	e := emulators.Start(t, emulators.S3)
	tg, err := StartWith(ctx, t.TempDir(), Options{Storage: e.NewBucket(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.Redirect == nil || tg.Name != "regkit s3+bolt" {
		t.Fatalf("s3://: Redirect %v, Name %q", tg.Redirect, tg.Name)
	}
	const size = 100 << 10
	d, err := tg.Client.BlobPutChunked(ctx, "t/r", Data(1, size), DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		base   string
		status int
	}{{tg.URL, http.StatusOK}, {tg.Redirect.Base(), http.StatusTemporaryRedirect}} {
		resp, err := noFollow.Get(c.base + "/v2/t/r/blobs/" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != c.status || (c.status == http.StatusTemporaryRedirect) != strings.Contains(loc, e.Addr) {
			t.Errorf("GET on %s: %d, Location %q; want %d", c.base, resp.StatusCode, loc, c.status)
		}
	}
	r, err := BlobGet(ctx, tg.Redirect, "t/r", d, size, Load{Concurrency: 2, Requests: 6})
	if err != nil || r.Ops != 6 || r.Bytes != 6*size {
		t.Fatalf("BlobGet through the redirect: %+v, %v", r, err)
	}
}
