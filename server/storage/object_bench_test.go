package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/storage/emulators"
)

// BenchmarkFinishUploadObject measures FinishUpload alone (the final PUT
// without a body) on each object-storage emulator for a 1 MiB and a
// 256 MiB upload appended in 8 MiB chunks beforehand (untimed). The
// commit composes, commits a block list or completes a multipart upload:
// it must cost about the same for both sizes. Run with -benchtime 3x.
func BenchmarkFinishUploadObject(b *testing.B) {
	defer emulators.StopShared()
	for _, k := range emulators.Kinds {
		for _, size := range []int{1 << 20, 256 << 20} {
			b.Run(fmt.Sprintf("%s/%dMiB", k, size>>20), func(b *testing.B) {
				e, err := emulators.Shared(k)
				if err != nil {
					b.Fatal(err)
				}
				s := benchStore(b, e.NewBucket(b))
				ctx := context.Background()
				data := benchBytes(size)
				const chunk = 8 << 20
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					binary.LittleEndian.PutUint64(data, uint64(i)) // new content each time: no dedup
					u, err := s.StartUpload(ctx, "bench")
					if err != nil {
						b.Fatal(err)
					}
					for off := 0; off < size; off += chunk {
						if _, err := s.AppendUpload(ctx, "", u.ID, int64(off), bytes.NewReader(data[off:min(off+chunk, size)])); err != nil {
							b.Fatal(err)
						}
					}
					d := digest.FromBytes(data)
					b.StartTimer()
					if _, err := s.FinishUpload(ctx, "", u.ID, nil, d); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
