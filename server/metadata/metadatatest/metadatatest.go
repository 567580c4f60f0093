// Package metadatatest is the contract suite that every metadata.Store
// implementation passes, so that the embedded stores and Redis cannot drift
// apart. An implementation's test calls Run:
//
//	func TestContract(t *testing.T) {
//		metadatatest.Run(t, func(t *testing.T) metadata.Store { return memmeta.New() })
//	}
package metadatatest

import (
	"bytes"
	"context"
	_ "crypto/sha512" // sha512 digests in the suite
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata"
)

// Run runs the whole contract suite against the stores newStore returns,
// in subtests by resource (Blobs, Manifests, Tags, Referrers, Repositories,
// DeleteRepository, Uploads, Concurrency, GC, Leases, Usage).
//
// newStore is called once per leaf subtest, possibly from several
// goroutines at once (the subtests run in parallel). Every call must return
// an empty store that shares no data with the others; newStore should
// register its own cleanup with t.Cleanup. Run closes each store when its
// subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) metadata.Store) {
	open := func(t *testing.T) metadata.Store {
		t.Helper()
		t.Parallel()
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Blobs", func(t *testing.T) { testBlobs(t, open) })
	t.Run("Manifests", func(t *testing.T) { testManifests(t, open) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open) })
	t.Run("Referrers", func(t *testing.T) { testReferrers(t, open) })
	t.Run("Repositories", func(t *testing.T) { testRepositories(t, open) })
	t.Run("DeleteRepository", func(t *testing.T) { testDeleteRepository(t, open) })
	t.Run("Uploads", func(t *testing.T) { testUploads(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("GC", func(t *testing.T) { testGC(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, open) })
	t.Run("Reservations", func(t *testing.T) { testReservations(t, open) })
}

type opener func(t *testing.T) metadata.Store

// base is a fixed instant with a nanosecond part, so that stores prove
// they keep timestamps to the nanosecond.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// noErr fails on a non-nil err.
func noErr(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameAnnotations(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || maps.Equal(a, b))
}

func sameDigests(a, b []digest.Digest) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}

func checkBlob(t *testing.T, what string, got, want metadata.Blob) {
	t.Helper()
	if got.Digest != want.Digest || got.Size != want.Size || got.Key != want.Key || !got.Created.Equal(want.Created) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func checkManifest(t *testing.T, what string, got, want metadata.Manifest) {
	t.Helper()
	if got.Digest != want.Digest || got.MediaType != want.MediaType || got.Subject != want.Subject ||
		got.ArtifactType != want.ArtifactType || !got.Created.Equal(want.Created) ||
		!sameAnnotations(got.Annotations, want.Annotations) || !sameDigests(got.References, want.References) {
		t.Fatalf("%s: got\n%+v\nwant\n%+v", what, got, want)
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%s: body %q, want %q", what, got.Body, want.Body)
	}
}

func checkUpload(t *testing.T, what string, got, want metadata.Upload) {
	t.Helper()
	if got.ID != want.ID || got.Repo != want.Repo || got.Offset != want.Offset ||
		!bytes.Equal(got.State, want.State) || !got.Started.Equal(want.Started) || !got.Updated.Equal(want.Updated) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func checkStrings(t *testing.T, what string, got []string, gotMore bool, want []string, wantMore bool) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil slice, want non-nil %q", what, want)
	}
	if !slices.Equal(got, want) || gotMore != wantMore {
		t.Fatalf("%s: got %q more=%v, want %q more=%v", what, got, gotMore, want, wantMore)
	}
}

func newBlob(content string, key string, created time.Time) metadata.Blob {
	return metadata.Blob{
		Digest:  digest.FromString(content),
		Size:    int64(len(content)),
		Key:     key,
		Created: created,
	}
}

// newManifest returns a manifest whose body is derived from name, so
// different names give different digests.
func newManifest(name string) metadata.Manifest {
	body := fmt.Appendf(nil, "{\"schemaVersion\":2,\"name\":%q}\n\x00\xff \t", name)
	return metadata.Manifest{
		Digest:       digest.FromBytes(body),
		MediaType:    v1.MediaTypeImageManifest,
		Body:         body,
		ArtifactType: "application/vnd.example." + name,
		Annotations:  map[string]string{"org.example.name": name, "empty": ""},
		References:   []digest.Digest{digest.FromString(name + "-config"), digest.FromString(name + "-layer")},
		Created:      at(len(name)),
	}
}

func ctxT(t *testing.T) context.Context { return t.Context() }

// link stores b's global record (unless one exists) and links b into repo.
func link(t *testing.T, s metadata.Store, repo string, b metadata.Blob) {
	t.Helper()
	_, err := s.PutBlob(ctxT(t), b)
	noErr(t, err, "PutBlob before LinkBlob")
	noErr(t, s.LinkBlob(ctxT(t), repo, b), "LinkBlob into "+repo)
}
