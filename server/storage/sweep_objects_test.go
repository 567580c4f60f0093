package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/storage"
)

// crashingMeta is the metadata store of a process that dies when it is
// about to record blob crash: from then on its calls (the record, its
// lease renewals) never reach the store, until the test ends.
type crashingMeta struct {
	metadata.Store
	crash   digest.Digest
	once    sync.Once
	crashed chan struct{} // closed at the crash
	end     chan struct{} // closed when the test ends
}

var errCrash = errors.New("the process died")

func (m *crashingMeta) dead(ctx context.Context) error {
	select {
	case <-m.crashed:
	default:
		return nil
	}
	select {
	case <-m.end:
	case <-ctx.Done():
	}
	return errCrash
}

func (m *crashingMeta) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	if b.Digest == m.crash {
		m.once.Do(func() { close(m.crashed) })
	}
	if err := m.dead(ctx); err != nil {
		return metadata.Blob{}, err
	}
	return m.Store.PutBlob(ctx, b)
}

func (m *crashingMeta) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	if err := m.dead(ctx); err != nil {
		return metadata.Upload{}, err
	}
	return m.Store.AcquireUpload(ctx, id, offset, token, ttl)
}

// crashBeforeRecord runs a chunked upload of data on e whose process dies
// between committing the object and recording the blob: the object
// stays, the claim stays pending, the session stays leased until the
// lease's ttl is up. It returns the session ID.
func crashBeforeRecord(t *testing.T, e *env, data []byte, ttl time.Duration) string {
	t.Helper()
	d := digest.FromBytes(data)
	m := &crashingMeta{Store: e.meta, crash: d, crashed: make(chan struct{}), end: make(chan struct{})}
	s := e.over(t, m, storage.WithLeaseTTL(ttl))
	ctx := context.Background()
	u, err := s.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:half])); err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	go func() {
		_, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(data[half:]), d)
		finished <- err
	}()
	t.Cleanup(func() { close(m.end); <-finished }) // before s closes
	select {
	case <-m.crashed:
	case err := <-finished:
		t.Fatalf("FinishUpload returned (%v); want it to die recording the blob", err)
	}
	return u.ID
}

// forgetRecord removes the record of d as garbage collection does
// (DeleteBlobIfUnused, then PurgeBlob), leaving the bytes; it must be
// pending.
func forgetRecord(t *testing.T, meta metadata.Store, d digest.Digest) {
	t.Helper()
	ctx := context.Background()
	all, _, err := meta.ListBlobs(ctx, "", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		if b.Digest != d {
			continue
		}
		if !b.Pending {
			t.Fatalf("record of %s is not pending: %+v", d, b)
		}
		if _, err := meta.DeleteBlobIfUnused(ctx, d, time.Now().Add(time.Hour), b.Gen); err != nil {
			t.Fatal(err)
		}
		if err := meta.PurgeBlob(ctx, d); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no record of %s", d)
}

// TestSweepCommittedObjects: on S3 (versitygw) and Azure (Azurite), the
// object an upload committed but never recorded (its process died in
// between) is deleted by SweepUploads once it is older than the cutoff,
// its session is gone and no record names it — and kept while any of
// the three does not hold. A recorded upload's object is never touched.
func TestSweepCommittedObjects(t *testing.T) {
	for _, backend := range []string{"s3", "azure"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			s := e.replica(t)

			// B: finished and recorded.
			dataB := randBytes(6<<20 + 1)
			u, err := s.StartUpload(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(dataB[:3<<20])); err != nil {
				t.Fatal(err)
			}
			recB, err := s.FinishUpload(ctx, "", u.ID, bytes.NewReader(dataB[3<<20:]), digest.FromBytes(dataB))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(recB.Key, "objects/") {
				t.Fatalf("recorded key %q: want a session object (objects/<id>)", recB.Key)
			}
			// X and Y: committed, not recorded. X's session is gone
			// (cancelled, as the sweeper does once the dead lease expires),
			// its claim is left; Y's claim is gone (collected), its
			// session is left.
			dataX, dataY := randBytes(6<<20+2), randBytes(6<<20+3)
			x, y := crashBeforeRecord(t, e, dataX, time.Minute), crashBeforeRecord(t, e, dataY, time.Minute)
			if err := s.CancelUpload(ctx, "", x); err != nil {
				t.Fatal(err)
			}
			forgetRecord(t, e.meta, digest.FromBytes(dataY))

			exists := func(id string) bool {
				t.Helper()
				ok, err := s.Bucket().Exists(ctx, "objects/"+id)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			sweep := func(before time.Time) {
				t.Helper()
				if _, err := e.replica(t).SweepUploads(ctx, before); err != nil {
					t.Fatalf("SweepUploads: %v", err)
				}
			}
			for _, id := range []string{x, y} {
				if !exists(id) {
					t.Fatalf("the crashed upload %s left no object: the test does not make the orphan", id)
				}
			}
			future := time.Now().Add(time.Hour)
			sweep(future)
			if !exists(x) {
				t.Error("an object whose pending record names it was deleted (its writer may still record it)")
			}
			if !exists(y) {
				t.Error("an object whose session exists was deleted")
			}

			forgetRecord(t, e.meta, digest.FromBytes(dataX))
			if err := s.CancelUpload(ctx, "", y); err != nil {
				t.Fatal(err)
			}
			sweep(time.Now().Add(-time.Hour))
			if !exists(x) || !exists(y) {
				t.Error("objects younger than the cutoff were deleted")
			}
			sweep(future)
			if exists(x) || exists(y) {
				t.Errorf("orphaned objects left: %s %v, %s %v", x, exists(x), y, exists(y))
			}
			r, err := s.ReadBlob(ctx, recB, 0, -1)
			if err != nil {
				t.Fatalf("the recorded blob after the sweep: %v", err)
			}
			defer r.Close()
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, dataB) {
				t.Fatalf("the recorded blob after the sweep: %d bytes, %v; want %d byte-exact", len(got), err, len(dataB))
			}
		})
	}
}

// finishingMeta is the sweeper's metadata store in a race with a client:
// session id looks recently updated (ExpiredUploads does not list it),
// and when the sweeper checks that it exists, the client's retried
// final PUT finishes it first (finish runs, then GetUpload answers).
type finishingMeta struct {
	metadata.Store
	id     string
	finish func()
	once   sync.Once
}

func (m *finishingMeta) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]metadata.Upload, error) {
	us, err := m.Store.ExpiredUploads(ctx, before, n)
	out := us[:0]
	for _, u := range us {
		if u.ID != m.id {
			out = append(out, u)
		}
	}
	return out, err
}

func (m *finishingMeta) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	if id == m.id {
		m.once.Do(m.finish)
	}
	return m.Store.GetUpload(ctx, id)
}

// TestSweepCommittedObjectsRace: an upload whose process died after
// committing its object, and whose pending claim garbage collection then
// collected, is finished by the client's retried PUT while the sweeper
// looks at it — after the sweeper's first listing of the records (which
// named no record of it) and before it sees the session gone. The object
// must stay: the sweeper lists the records again after the session check.
func TestSweepCommittedObjectsRace(t *testing.T) {
	for _, backend := range []string{"s3", "azure"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			s := e.replica(t)
			data := randBytes(6<<20 + 5)
			d := digest.FromBytes(data)
			const ttl = 300 * time.Millisecond
			id := crashBeforeRecord(t, e, data, ttl)
			time.Sleep(ttl + 200*time.Millisecond) // the dead process's lease expires
			forgetRecord(t, e.meta, d)
			var (
				rec       metadata.Blob
				finishErr error
			)
			m := &finishingMeta{Store: e.meta, id: id, finish: func() {
				rec, finishErr = s.FinishUpload(ctx, "", id, bytes.NewReader(data[len(data)/2:]), d)
			}}
			if _, err := e.over(t, m).SweepUploads(ctx, time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("SweepUploads: %v", err)
			}
			if rec.Key == "" {
				t.Fatalf("the retried final PUT did not run or failed: %v (the sweeper never checked the session)", finishErr)
			}
			r, err := s.ReadBlob(ctx, rec, 0, -1)
			if err != nil {
				t.Fatalf("the blob finished during the sweep: %v", err)
			}
			defer r.Close()
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("the blob finished during the sweep: %d bytes, %v; want %d byte-exact", len(got), err, len(data))
			}
		})
	}
}
