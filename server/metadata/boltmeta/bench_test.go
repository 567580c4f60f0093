package boltmeta_test

// Benchmarks of the operations on the hot paths of a registry, written
// against boltmeta.Open so that the same command measures the store
// before and after it moved onto the driver (NOTES-i10-bolt.md):
//
//	go test -run '^$' -bench . -benchtime 5000x -count 6 -benchmem ./server/metadata/boltmeta/
//
// Writes run twice: "sync" is the default (fsync on every commit, what
// regkit serve does), "nosync" measures the work without the disk.

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
)

const benchRepo = "library/app"

func openBench(b *testing.B, opts ...boltmeta.Option) interface {
	metadata.Blobs
	metadata.Manifests
	metadata.Uploads
	Close() error
} {
	b.Helper()
	s, err := boltmeta.Open(filepath.Join(b.TempDir(), "meta.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchManifest(i int) metadata.Manifest {
	body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:%064d"},"n":%d}`, i, i)
	return metadata.Manifest{
		Digest:     digest.FromBytes(body),
		MediaType:  "application/vnd.oci.image.manifest.v1+json",
		Body:       body,
		References: []digest.Digest{digest.FromString(fmt.Sprint("config", i)), digest.FromString(fmt.Sprint("layer", i))},
	}
}

func syncModes(b *testing.B, run func(b *testing.B, opts ...boltmeta.Option)) {
	b.Run("sync", func(b *testing.B) { run(b) })
	b.Run("nosync", func(b *testing.B) { run(b, boltmeta.WithNoSync()) })
}

// BenchmarkManifestGetByTag resolves one of 100 tags to its manifest.
func BenchmarkManifestGetByTag(b *testing.B) {
	s := openBench(b, boltmeta.WithNoSync())
	ctx := b.Context()
	const tags = 100
	for i := range tags {
		if err := s.PutManifest(ctx, benchRepo, benchManifest(i), fmt.Sprint("v", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.GetManifest(ctx, benchRepo, fmt.Sprint("v", i%tags)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.GetManifest(ctx, benchRepo, fmt.Sprint("v", i%tags)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkManifestPut stores a new manifest and moves the tag latest
// onto it.
func BenchmarkManifestPut(b *testing.B) {
	syncModes(b, func(b *testing.B, opts ...boltmeta.Option) {
		s := openBench(b, opts...)
		ctx := b.Context()
		b.ResetTimer()
		for i := range b.N {
			if err := s.PutManifest(ctx, benchRepo, benchManifest(i), "latest"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBlobLink links a live blob into a new repository each time (a
// cross-repository mount).
func BenchmarkBlobLink(b *testing.B) {
	syncModes(b, func(b *testing.B, opts ...boltmeta.Option) {
		s := openBench(b, opts...)
		ctx := b.Context()
		blob, err := s.PutBlob(ctx, metadata.Blob{Digest: digest.FromString("layer"), Size: 1 << 20, Key: "blobs/layer"})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			if err := s.LinkBlob(ctx, fmt.Sprint("repo/", i), blob); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUploadAcquire renews the write lease of an upload session (what
// every chunk of a chunked upload starts with); AcquireRelease adds the
// release that stores the new offset.
func BenchmarkUploadAcquire(b *testing.B) {
	syncModes(b, func(b *testing.B, opts ...boltmeta.Option) {
		s := openBench(b, opts...)
		ctx := b.Context()
		if err := s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: benchRepo, State: make([]byte, 256)}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := s.AcquireUpload(ctx, "u1", -1, "tok", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUploadAcquireRelease(b *testing.B) {
	syncModes(b, func(b *testing.B, opts ...boltmeta.Option) {
		s := openBench(b, opts...)
		ctx := b.Context()
		if err := s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: benchRepo, State: make([]byte, 256)}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			u, err := s.AcquireUpload(ctx, "u1", int64(i), "tok", time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			u.Offset++
			if err := s.ReleaseUpload(ctx, u, "tok"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBlobLinkParallel links a live blob into new repositories from
// many goroutines at once (concurrent pushes of images sharing a layer):
// the fsync'd commits of concurrent writers are what group commit
// (group.go) shares.
func BenchmarkBlobLinkParallel(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	blob, err := s.PutBlob(ctx, metadata.Blob{Digest: digest.FromString("layer"), Size: 1 << 20, Key: "blobs/layer"})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.LinkBlob(ctx, fmt.Sprint("repo/", n.Add(1)), blob); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTagRePush pushes the tag that already names the manifest
// (a CI job pushing the same image again): reads only (db_repush.go).
func BenchmarkTagRePush(b *testing.B) {
	syncModes(b, func(b *testing.B, opts ...boltmeta.Option) {
		s := openBench(b, opts...)
		ctx := b.Context()
		m := benchManifest(0)
		if err := s.PutManifest(ctx, benchRepo, m, "latest"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if err := s.PutManifest(ctx, benchRepo, m, "latest"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
