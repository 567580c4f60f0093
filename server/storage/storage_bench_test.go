package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
)

func benchBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

func benchStore(b *testing.B, url string) *Store {
	b.Helper()
	meta := memmeta.New()
	s, err := Open(context.Background(), url, meta, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(); _ = meta.Close() })
	return s
}

// BenchmarkFinishUpload measures FinishUpload alone on file storage, for a
// 1 MiB and a 1 GiB upload; the commit must cost the same for both.
//
// Preparing a real 1 GiB upload per iteration would take seconds (and
// benchmark scaling runs many iterations), so the 1 GiB session starts as
// a sparse staging file of 1023 MiB of zeros with the matching sha256
// state (computed once, outside the timer); both sizes then receive their
// last 1 MiB through a real AppendUpload, so each iteration has the same
// dirty tail for FinishUpload's fsync. Only FinishUpload is timed: size
// check, fsync, rename, directory fsync, blob record, session removal. A
// commit that copied or re-read the bytes would cost ~1000x more at 1 GiB.
func BenchmarkFinishUpload(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int64
	}{{"1MiB", 1 << 20}, {"1GiB", 1 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := benchStore(b, "file://"+b.TempDir())
			const tailSize = 1 << 20
			prefix := bc.size - tailSize
			h := sha256.New()
			if _, err := io.CopyN(h, zeros{}, prefix); err != nil {
				b.Fatal(err)
			}
			prefixState, err := h.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			tail := benchBytes(tailSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				binary.LittleEndian.PutUint64(tail, uint64(i)) // new content each time: no dedup
				u, err := s.StartUpload(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				if prefix > 0 {
					u = sparseSession(b, s, u.ID, prefix, prefixState)
				}
				if _, err := s.AppendUpload(ctx, "", u.ID, prefix, bytes.NewReader(tail)); err != nil {
					b.Fatal(err)
				}
				th := sha256.New()
				if err := th.(encoding.BinaryUnmarshaler).UnmarshalBinary(prefixState); err != nil {
					b.Fatal(err)
				}
				th.Write(tail)
				want := digest.NewDigest(digest.SHA256, th)
				b.StartTimer()

				blob, err := s.FinishUpload(ctx, "", u.ID, nil, want)

				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if blob.Size != bc.size {
					b.Fatalf("size %d, want %d", blob.Size, bc.size)
				}
				if err := s.DeleteBlobBytes(ctx, blob); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// sparseSession moves session id to offset prefix: a sparse staging file
// of prefix zero bytes and the given sha256 state after them.
func sparseSession(b *testing.B, s *Store, id string, prefix int64, hashState []byte) metadata.Upload {
	b.Helper()
	ctx := context.Background()
	f, err := os.Create(s.stagingPath(id, 0))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(prefix); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()
	u, l, err := s.acquire(ctx, "", id, 0)
	if err != nil {
		b.Fatal(err)
	}
	u.Offset = prefix
	u.State = (&state{Algs: []digest.Algorithm{digest.SHA256}, Hashes: [][]byte{hashState}}).encode()
	if err := l.release(ctx, u); err != nil {
		b.Fatal(err)
	}
	return u
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// BenchmarkAppend8MiB measures one 8 MiB PATCH (write + sha256 + session
// update) per iteration, on file and mem storage.
func BenchmarkAppend8MiB(b *testing.B) {
	for _, bc := range []struct{ name, url string }{{"file", "file://"}, {"mem", "mem://"}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			url := bc.url
			if bc.name == "file" {
				url += b.TempDir()
			}
			s := benchStore(b, url)
			chunk := benchBytes(8 << 20)
			const perSession = 16 // bound the disk/memory a run uses
			var id string
			var off int64
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%perSession == 0 {
					b.StopTimer()
					if id != "" {
						if err := s.CancelUpload(ctx, "", id); err != nil {
							b.Fatal(err)
						}
					}
					u, err := s.StartUpload(ctx, "bench")
					if err != nil {
						b.Fatal(err)
					}
					id, off = u.ID, 0
					b.StartTimer()
				}
				u, err := s.AppendUpload(ctx, "", id, off, bytes.NewReader(chunk))
				if err != nil {
					b.Fatal(err)
				}
				off = u.Offset
			}
		})
	}
}
