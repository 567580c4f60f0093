package storage_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
	"github.com/regkit/regkit/server/storage/emulators"
)

// TestCommitCostIsConstant counts, at a proxy in front of versitygw and
// Azurite, what the final PUT of an upload sends to the bucket: the same
// number of requests for 8 MiB and for 64 MiB, and no blob bytes (only
// the part or block list, well under a kilobyte per part). The commit is
// O(1) on regkit's side whatever the emulator then does with the parts.
func TestCommitCostIsConstant(t *testing.T) {
	for _, k := range []emulators.Kind{emulators.S3, emulators.Azure} {
		t.Run(string(k), func(t *testing.T) {
			e, err := emulators.Shared(k)
			if err != nil {
				t.Fatal(err)
			}
			p := e.Proxy(t)
			ctx := context.Background()
			meta := memmeta.New()
			st, err := storage.Open(ctx, p.NewBucket(t), meta)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			const chunk = 8 << 20
			calls := map[int]int{}
			for _, size := range []int{chunk, 8 * chunk} {
				data := randBytes(size)
				u, err := st.StartUpload(ctx, "r")
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off < size; off += chunk {
					if _, err := st.AppendUpload(ctx, "r", u.ID, int64(off), bytes.NewReader(data[off:off+chunk])); err != nil {
						t.Fatalf("append at %d: %v", off, err)
					}
				}
				p.Take()
				p.Sent()
				d := digest.FromBytes(data)
				if _, err := st.FinishUpload(ctx, "r", u.ID, nil, d); err != nil {
					t.Fatalf("finish %d bytes: %v", size, err)
				}
				reqs, sent := p.Take(), p.Sent()
				t.Logf("%s, final PUT of %d MiB: %d bucket requests, %d request bytes: %v", k, size>>20, len(reqs), sent, reqs)
				if max := int64(size/chunk) * 1024; sent > max {
					t.Errorf("the final PUT of %d bytes sent %d bytes to the bucket, want at most %d (a list of parts, no blob bytes)", size, sent, max)
				}
				calls[size] = len(reqs)
			}
			if calls[chunk] != calls[8*chunk] {
				t.Errorf("the final PUT made %d bucket requests for 8 MiB and %d for 64 MiB, want the same", calls[chunk], calls[8*chunk])
			}
		})
	}
}
