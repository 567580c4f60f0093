package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// stallingMeta is the metadata store as a stalled process sees it: while
// stalled, its lease renewals (AcquireUpload) hang until it resumes.
type stallingMeta struct {
	metadata.Store
	mu      sync.Mutex
	stalled chan struct{} // nil: running; closed when the stall ends
}

func (m *stallingMeta) stall() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stalled = make(chan struct{})
}

func (m *stallingMeta) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stalled != nil {
		close(m.stalled)
		m.stalled = nil
	}
}

func (m *stallingMeta) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	m.mu.Lock()
	ch := m.stalled
	m.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return metadata.Upload{}, ctx.Err()
		}
	}
	return m.Store.AcquireUpload(ctx, id, offset, token, ttl)
}

// gatedReader yields head, then blocks until gate is closed, then yields
// tail.
type gatedReader struct {
	head, tail []byte
	gate       chan struct{}
	sent       chan struct{} // closed once head is read
	once       sync.Once
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	r.once.Do(func() { close(r.sent) })
	<-r.gate
	if len(r.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.tail)
	r.tail = r.tail[n:]
	return n, nil
}

// TestStaleWriterCannotCorrupt: writer A stalls in the middle of a PATCH
// (its process cannot renew the lease) for longer than the lease's ttl;
// writer B takes the session over at the same offset, sends other bytes
// and the upload's end; then A wakes up and writes the rest of its chunk.
// The blob must commit with exactly B's bytes — which hash to the digest
// — and A's late bytes must go nowhere.
func TestStaleWriterCannotCorrupt(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const ttl = 300 * time.Millisecond
		first := randBytes(256 << 10)
		mine := bytes.Repeat([]byte{0xAA}, 512<<10) // B's second chunk
		stale := bytes.Repeat([]byte{0x55}, 512<<10)

		sm := &stallingMeta{Store: e.meta}
		a := e.over(t, sm, storage.WithLeaseTTL(ttl))
		b := e.replica(t, storage.WithLeaseTTL(ttl))
		u, err := a.StartUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(first)); err != nil {
			t.Fatal(err)
		}

		r := &gatedReader{head: stale[:64<<10], tail: stale[64<<10:], gate: make(chan struct{}), sent: make(chan struct{})}
		aDone := make(chan error, 1)
		go func() {
			_, err := a.AppendUpload(ctx, "", u.ID, int64(len(first)), r)
			aDone <- err
		}()
		<-r.sent // A holds the lease and is writing
		sm.stall()
		time.Sleep(ttl + 200*time.Millisecond) // A's lease lapses: it cannot renew

		if _, err := b.AppendUpload(ctx, "", u.ID, int64(len(first)), bytes.NewReader(mine)); err != nil {
			t.Fatalf("takeover by B: %v", err)
		}
		// A wakes up and writes the rest of its chunk.
		close(r.gate)
		sm.resume()
		var re *storage.RangeError
		if err := <-aDone; err == nil || !errors.As(err, &re) {
			t.Fatalf("stale writer A: %v, want its append refused with a *RangeError", err)
		}

		want := append(append([]byte(nil), first...), mine...)
		blob, err := b.FinishUpload(ctx, "", u.ID, nil, digest.FromBytes(want))
		if err != nil {
			t.Fatalf("FinishUpload: %v", err)
		}
		checkStored(t, e, b, blob, want)
		checkNoStaged(t, e, b)
	})
}
