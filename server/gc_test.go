package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// TestConcurrentPushWithGC: 50 goroutines push images sharing layers into
// 5 repositories while garbage collection runs back to back with a zero
// grace period for blobs older than the test's start. Garbage from before
// the start is collected; every image pulls back intact.
func TestConcurrentPushWithGC(t *testing.T) {
	for _, kind := range []string{"bolt", "redis"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			meta := newMeta(t, kind)
			bucket, _ := fileBucket(t)
			base := newServer(t, meta, bucket)
			host := strings.TrimPrefix(base, "http://")

			// Garbage from before the test: blobs pushed but referenced by
			// no manifest.
			var garbage []digest.Digest
			for i := range 3 {
				data := randomBytes(uint64(900+i), 10_000)
				d := digest.FromBytes(data)
				resp, _ := do(t, http.MethodPost, base+"/v2/old/junk/blobs/uploads/?digest="+d.String(), bytes.NewReader(data))
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("push garbage: %d", resp.StatusCode)
				}
				garbage = append(garbage, d)
			}
			time.Sleep(20 * time.Millisecond)
			start := time.Now()

			store, err := storage.Open(ctx, bucket, meta)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			sweeper := gc.New(meta, store, gc.WithGrace(0), gc.WithUsedBefore(start), gc.WithInterval(5*time.Millisecond), gc.WithLogger(quiet()))
			gctx, stop := context.WithCancel(ctx)
			gcDone := make(chan error, 1)
			go func() { gcDone <- sweeper.Run(gctx) }()

			shared := make([]v1.Layer, 4)
			for i := range shared {
				if shared[i], err = random.Layer(50_000, types.OCILayer); err != nil {
					t.Fatal(err)
				}
			}
			type pushed struct {
				ref name.Reference
				img v1.Image
			}
			results := make([]pushed, 50)
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					own, err := random.Layer(20_000, types.OCILayer)
					if err != nil {
						errs <- err
						return
					}
					img, err := mutate.AppendLayers(empty.Image, shared[i%4], shared[(i+1)%4], own)
					if err != nil {
						errs <- err
						return
					}
					ref, err := name.ParseReference(fmt.Sprintf("%s/gc/repo%d:img%d", host, i%5, i), name.Insecure)
					if err != nil {
						errs <- err
						return
					}
					if err := remote.Write(ref, img); err != nil {
						errs <- fmt.Errorf("push %s: %w", ref, err)
						return
					}
					results[i] = pushed{ref, img}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Let the collector run at least once more after the pushes.
			rep, err := runOnceRetry(ctx, meta, store, start)
			if err != nil {
				t.Fatal(err)
			}
			stop()
			if err := <-gcDone; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("gc run: %v", err)
			}
			t.Logf("last sweep: %+v", rep)

			for _, d := range garbage {
				resp, _ := do(t, http.MethodHead, base+"/v2/old/junk/blobs/"+d.String(), nil)
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("garbage blob %s survived collection: %d", d, resp.StatusCode)
				}
			}
			for _, p := range results {
				got, err := remote.Image(p.ref)
				if err != nil {
					t.Fatalf("pull %s: %v", p.ref, err)
				}
				compareImages(t, p.img, got)
			}
		})
	}
}

// runOnceRetry runs one collection, waiting while another sweeper holds
// the lease.
func runOnceRetry(ctx context.Context, meta metadata.Store, store *storage.Store, start time.Time) (gc.Report, error) {
	for range 200 {
		rep, err := gc.New(meta, store, gc.WithGrace(0), gc.WithUsedBefore(start), gc.WithLogger(quiet())).RunOnce(ctx)
		if !errors.Is(err, gc.ErrLeaseHeld) {
			return rep, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return gc.Report{}, gc.ErrLeaseHeld
}

// TestGCKeepsPackageFiles: with the package referencer, garbage collection
// keeps the bytes of generic package files (which no manifest references)
// and still collects unreferenced OCI blobs.
func TestGCKeepsPackageFiles(t *testing.T) {
	for _, kind := range metaKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			meta := newMeta(t, kind)
			bucket, _ := fileBucket(t)
			base := newServer(t, meta, bucket)
			file := randomBytes(20, 30_000)
			resp, body := do(t, http.MethodPut, base+"/api/packages/acme/generic/tool/1.0.0/tool.bin", bytes.NewReader(file))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("generic upload: %d %s", resp.StatusCode, body)
			}
			junk := randomBytes(21, 30_000)
			resp, _ = do(t, http.MethodPost, base+"/v2/acme/junk/blobs/uploads/?digest="+digest.FromBytes(junk).String(), bytes.NewReader(junk))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("blob upload: %d", resp.StatusCode)
			}
			store, err := storage.Open(ctx, bucket, meta)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			p, ok := meta.(metadata.Packages)
			if !ok {
				t.Fatalf("%T does not store packages", meta)
			}
			rep, err := gc.New(meta, store, gc.WithGrace(0), gc.WithUsedBefore(time.Now().Add(time.Hour)),
				gc.WithReferencers(metadata.PackageReferencer(p)), gc.WithLogger(quiet())).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Deleted) != 1 || rep.Deleted[0].Digest != digest.FromBytes(junk) {
				t.Fatalf("deleted %+v, want only the unreferenced OCI blob", rep.Deleted)
			}
			resp, got := do(t, http.MethodGet, base+"/api/packages/acme/generic/tool/1.0.0/tool.bin", nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, file) {
				t.Fatalf("package file after gc: %d, %d bytes", resp.StatusCode, len(got))
			}
		})
	}
}
