package redismeta_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// The benchmarks of the store's hot operations, on a real standalone
// redis-server. Besides ns/op they report round trips per operation
// (rt/op: commands plus pipelines, counted by a go-redis hook).
//
//	go test -run '^$' -bench . -benchtime 2000x ./server/metadata/redismeta/

// benchStore returns a store on a fresh standalone Redis
// and a function that starts counting round trips and reports them.
func benchStore(b *testing.B) (metadata.Store, func()) {
	b.Helper()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
	b.Cleanup(func() { c.Close() })
	s := redismeta.New(c, redismeta.WithPrefix("bench:"))
	b.Cleanup(func() { s.Close() })
	n := redistest.CountRoundTrips(c)
	start := func() {
		b.ResetTimer()
		n.Store(0)
		b.Cleanup(func() { b.ReportMetric(float64(n.Load())/float64(b.N), "rt/op") })
	}
	return s, start
}

func benchManifest(i int) metadata.Manifest {
	body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"n":"%d"}}`, i)
	return metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
}

func BenchmarkManifestGetByTag(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	if err := s.PutManifest(ctx, "bench/repo", benchManifest(0), "latest"); err != nil {
		b.Fatal(err)
	}
	if _, err := s.GetManifest(ctx, "bench/repo", "latest"); err != nil { // load the script
		b.Fatal(err)
	}
	start()
	for range b.N {
		if _, err := s.GetManifest(ctx, "bench/repo", "latest"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkManifestPut(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	ms := make([]metadata.Manifest, b.N+1)
	for i := range ms {
		ms[i] = benchManifest(i)
	}
	if err := s.PutManifest(ctx, "bench/repo", ms[b.N], "latest"); err != nil {
		b.Fatal(err)
	}
	start()
	for i := range b.N {
		if err := s.PutManifest(ctx, "bench/repo", ms[i], "latest"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlobLink(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	blobs := make([]metadata.Blob, b.N)
	for i := range blobs {
		d := digest.FromString(fmt.Sprint("blob", i))
		rec, err := s.PutBlob(ctx, metadata.Blob{Digest: d, Size: 1000, Key: "blobs/" + d.Encoded()})
		if err != nil {
			b.Fatal(err)
		}
		blobs[i] = rec
	}
	start()
	for i := range b.N {
		if err := s.LinkBlob(ctx, "bench/repo", blobs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUploadAcquire(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	if err := s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "bench/repo"}); err != nil {
		b.Fatal(err)
	}
	start()
	for range b.N {
		if _, err := s.AcquireUpload(ctx, "u1", -1, "token", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUploadAcquireRelease is what one PATCH of an upload costs the
// store: take the lease, then store the new offset and release it.
func BenchmarkUploadAcquireRelease(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	if err := s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "bench/repo"}); err != nil {
		b.Fatal(err)
	}
	start()
	for i := range b.N {
		u, err := s.AcquireUpload(ctx, "u1", int64(i), "token", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		u.Offset++
		if err := s.ReleaseUpload(ctx, u, "token"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTagRePush pushes the tag that already names the manifest
// (a CI job pushing the same image again): reads only (db_repush.go).
func BenchmarkTagRePush(b *testing.B) {
	s, start := benchStore(b)
	ctx := b.Context()
	m := benchManifest(0)
	if err := s.PutManifest(ctx, "bench/repo", m, "latest"); err != nil {
		b.Fatal(err)
	}
	start()
	for range b.N {
		if err := s.PutManifest(ctx, "bench/repo", m, "latest"); err != nil {
			b.Fatal(err)
		}
	}
}
