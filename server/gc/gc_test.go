package gc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/redis/go-redis/v9"
	"gocloud.dev/blob"

	"github.com/regkit/regkit/server/gc"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/storage"
)

// env is a metadata store and a mem:// bucket for one test.
type env struct {
	t    *testing.T
	ctx  context.Context
	meta metadata.Store
	st   *storage.Store
}

var kinds = []string{"mem", "bolt", "redis"}

func newEnv(t *testing.T, kind string) *env {
	t.Helper()
	var meta metadata.Store
	switch kind {
	case "mem":
		meta = memmeta.New()
	case "bolt":
		b, err := boltmeta.Open(t.TempDir()+"/meta.db", boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		meta = b
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { _ = c.Close() })
		meta = redismeta.New(c)
	}
	t.Cleanup(func() { _ = meta.Close() })
	st, err := storage.Open(t.Context(), "mem://", meta, storage.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &env{t: t, ctx: t.Context(), meta: meta, st: st}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// each runs f on every store kind.
func each(t *testing.T, f func(t *testing.T, e *env)) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, kind))
		})
	}
}

func (e *env) sweeper(opts ...gc.Option) *gc.Sweeper {
	return gc.New(e.meta, e.st, append([]gc.Option{gc.WithLogger(quiet()), gc.WithGrace(0)}, opts...)...)
}

// blob stores content as a blob and links it into repo.
func (e *env) blob(repo, content string) metadata.Blob {
	e.t.Helper()
	b, err := e.st.PutBlob(e.ctx, digest.FromString(content), strings.NewReader(content), int64(len(content)))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.meta.LinkBlob(e.ctx, repo, b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// manifest stores a manifest in repo that references refs.
func (e *env) manifest(repo, tag string, refs ...digest.Digest) metadata.Manifest {
	e.t.Helper()
	body := fmt.Appendf(nil, `{"schemaVersion":2,"refs":%q}`, refs)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: v1.MediaTypeImageManifest, Body: body, References: refs}
	if err := e.meta.PutManifest(e.ctx, repo, m, tag); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// settle lets the store's clock move past everything written so far.
func settle() { time.Sleep(3 * time.Millisecond) }

func (e *env) run(s *gc.Sweeper) gc.Report {
	e.t.Helper()
	rep, err := s.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	return rep
}

// gone checks that b's record, link in repo and bytes are gone.
func (e *env) gone(b metadata.Blob, repo string) {
	e.t.Helper()
	if _, err := e.meta.GetBlob(e.ctx, b.Digest); !errors.Is(err, metadata.ErrNotFound) {
		e.t.Errorf("GetBlob %s: %v, want ErrNotFound", b.Digest, err)
	}
	if _, err := e.meta.RepoBlob(e.ctx, repo, b.Digest); !errors.Is(err, metadata.ErrNotFound) {
		e.t.Errorf("RepoBlob %s in %s: %v, want ErrNotFound", b.Digest, repo, err)
	}
	if ok, err := e.st.Bucket().Exists(e.ctx, b.Key); err != nil || ok {
		e.t.Errorf("bytes of %s at %s: exist=%v, err=%v; want gone", b.Digest, b.Key, ok, err)
	}
}

// kept checks that b's record, link in repo and bytes are all there.
func (e *env) kept(b metadata.Blob, repo string) {
	e.t.Helper()
	if _, err := e.meta.GetBlob(e.ctx, b.Digest); err != nil {
		e.t.Errorf("GetBlob %s: %v", b.Digest, err)
	}
	if _, err := e.meta.RepoBlob(e.ctx, repo, b.Digest); err != nil {
		e.t.Errorf("RepoBlob %s in %s: %v", b.Digest, repo, err)
	}
	if ok, err := e.st.Bucket().Exists(e.ctx, b.Key); err != nil || !ok {
		e.t.Errorf("bytes of %s at %s: exist=%v, err=%v; want present", b.Digest, b.Key, ok, err)
	}
}

func deleted(rep gc.Report) []digest.Digest {
	var ds []digest.Digest
	for _, b := range rep.Deleted {
		ds = append(ds, b.Digest)
	}
	return ds
}

func TestCollect(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		layer := e.blob("team/app", "layer")
		config := e.blob("team/app", "config")
		orphan := e.blob("team/app", "orphan")
		shared := e.blob("team/other", "shared") // referenced from another repository's manifest only
		e.blob("team/app", "shared")
		subject := e.blob("team/app", "subject-blob")
		e.manifest("team/app", "v1", config.Digest, layer.Digest)
		e.manifest("team/app", "v2", shared.Digest)
		referrer := metadata.Manifest{Digest: digest.FromString("referrer"), Body: []byte("r"), Subject: subject.Digest}
		if err := e.meta.PutManifest(e.ctx, "team/app", referrer); err != nil {
			t.Fatal(err)
		}
		usage, err := e.meta.NamespaceUsage(e.ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		settle()

		rep := e.run(e.sweeper())
		if got := deleted(rep); len(got) != 1 || got[0] != orphan.Digest {
			t.Fatalf("deleted %v, want only the orphan %s", got, orphan.Digest)
		}
		if rep.DeletedBytes != orphan.Size || rep.Scanned != 5 || rep.Referenced != 4 || rep.DryRun {
			t.Fatalf("report %+v", rep)
		}
		e.gone(orphan, "team/app")
		e.kept(layer, "team/app")
		e.kept(config, "team/app")
		e.kept(subject, "team/app")
		e.kept(shared, "team/other")
		e.kept(shared, "team/app")
		after, err := e.meta.NamespaceUsage(e.ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		if after != usage-orphan.Size {
			t.Fatalf("namespace usage %d after GC, want %d", after, usage-orphan.Size)
		}

		// Deleting the manifest makes its blobs garbage on the next run.
		m, err := e.meta.GetManifest(e.ctx, "team/app", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.meta.DeleteManifest(e.ctx, "team/app", m.Digest); err != nil {
			t.Fatal(err)
		}
		settle()
		rep = e.run(e.sweeper())
		if len(rep.Deleted) != 2 {
			t.Fatalf("second run deleted %v, want config and layer", deleted(rep))
		}
		e.gone(config, "team/app")
		e.gone(layer, "team/app")
		e.kept(shared, "team/app")
	})
}

func TestGraceKeepsRecentBlobs(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.blob("r", "recent")
		settle()
		rep := e.run(e.sweeper(gc.WithGrace(time.Hour)))
		if len(rep.Deleted) != 0 {
			t.Fatalf("deleted %v within the grace period", deleted(rep))
		}
		e.kept(b, "r")

		// WithUsedBefore bounds the cutoff further.
		rep = e.run(e.sweeper(gc.WithUsedBefore(time.Now().Add(-time.Hour))))
		if len(rep.Deleted) != 0 {
			t.Fatalf("deleted %v used after WithUsedBefore", deleted(rep))
		}
		e.kept(b, "r")
		rep = e.run(e.sweeper())
		if len(rep.Deleted) != 1 {
			t.Fatalf("deleted %v, want the blob once the grace is over", deleted(rep))
		}
		e.gone(b, "r")
	})
}

func TestDryRun(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.blob("r", "dry")
		u, err := e.st.StartUpload(e.ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		settle()
		rep := e.run(e.sweeper(gc.WithDryRun(true), gc.WithUploadExpiry(time.Nanosecond)))
		if !rep.DryRun || len(rep.Deleted) != 1 || rep.Deleted[0].Digest != b.Digest || rep.Deleted[0].Size != b.Size ||
			rep.DeletedBytes != b.Size || rep.UploadsSwept != 1 {
			t.Fatalf("dry-run report %+v", rep)
		}
		e.kept(b, "r")
		if _, err := e.meta.GetUpload(e.ctx, u.ID); err != nil {
			t.Fatalf("dry run removed the upload: %v", err)
		}
	})
}

func TestOneSweeperAtATime(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.blob("r", "contended")
		settle()

		// Another replica holds the lease.
		ok, err := e.meta.AcquireLease(e.ctx, gc.LeaseName, "other-replica", time.Minute)
		if err != nil || !ok {
			t.Fatalf("AcquireLease: %v, %v", ok, err)
		}
		if _, err := e.sweeper().RunOnce(e.ctx); !errors.Is(err, gc.ErrLeaseHeld) {
			t.Fatalf("RunOnce while another holds the lease: %v, want ErrLeaseHeld", err)
		}
		e.kept(b, "r")
		if err := e.meta.ReleaseLease(e.ctx, gc.LeaseName, "other-replica"); err != nil {
			t.Fatal(err)
		}

		// Two sweepers at once: the first blocks inside its run while the
		// second tries.
		first := e.sweeper()
		inside, resume := make(chan struct{}), make(chan struct{})
		first.SetBeforeDelete(func(context.Context, metadata.Blob) {
			close(inside)
			<-resume
		})
		var (
			wg   sync.WaitGroup
			rep  gc.Report
			err1 error
		)
		wg.Go(func() { rep, err1 = first.RunOnce(e.ctx) })
		<-inside
		_, err2 := e.sweeper().RunOnce(e.ctx)
		close(resume)
		wg.Wait()
		if err1 != nil || !errors.Is(err2, gc.ErrLeaseHeld) {
			t.Fatalf("concurrent runs: first %v, second %v; want nil and ErrLeaseHeld", err1, err2)
		}
		if len(rep.Deleted) != 1 {
			t.Fatalf("first run deleted %v", deleted(rep))
		}
		// The lease is free again.
		if _, err := e.sweeper().RunOnce(e.ctx); err != nil {
			t.Fatalf("RunOnce after the others: %v", err)
		}
	})
}

func TestUsedAgainAfterMarkIsKept(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		relinked := e.blob("r", "relinked")
		mounted := e.blob("r", "mounted")
		touched := e.blob("r", "touched")
		settle()
		s := e.sweeper()
		s.SetBeforeDelete(func(ctx context.Context, b metadata.Blob) {
			// Between the mark and the delete, the blob is used again: a
			// re-upload links it, a mount links it elsewhere, a manifest
			// PUT touches it.
			var err error
			switch b.Digest {
			case relinked.Digest:
				err = e.meta.LinkBlob(ctx, "r", relinked)
			case mounted.Digest:
				err = e.meta.LinkBlob(ctx, "other", mounted)
			case touched.Digest:
				_, err = e.meta.TouchBlob(ctx, touched.Digest)
			}
			if err != nil {
				t.Errorf("use %s: %v", b.Digest, err)
			}
		})
		rep := e.run(s)
		if len(rep.Deleted) != 0 || rep.Reused != 3 {
			t.Fatalf("deleted %v, reused %d; want none deleted, 3 reused", deleted(rep), rep.Reused)
		}
		e.kept(relinked, "r")
		e.kept(mounted, "other")
		e.kept(touched, "r")
	})
}

func TestDeletingBlobCannotBeUsed(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.blob("r", "doomed")
		settle()
		// Hook the bytes deletion: while the record is a tombstone, every
		// way of using the blob fails.
		var checked bool
		st := &hookBytes{Bytes: e.st, before: func() {
			checked = true
			if _, err := e.meta.TouchBlob(e.ctx, b.Digest); !errors.Is(err, metadata.ErrConflict) {
				t.Errorf("TouchBlob during deletion: %v, want ErrConflict", err)
			}
			if err := e.meta.LinkBlob(e.ctx, "x", b); !errors.Is(err, metadata.ErrConflict) {
				t.Errorf("LinkBlob during deletion: %v, want ErrConflict", err)
			}
			if _, err := e.meta.PutBlob(e.ctx, b); !errors.Is(err, metadata.ErrConflict) {
				t.Errorf("PutBlob during deletion: %v, want ErrConflict", err)
			}
			if _, err := e.meta.RepoBlob(e.ctx, "r", b.Digest); !errors.Is(err, metadata.ErrNotFound) {
				t.Errorf("RepoBlob during deletion: %v, want ErrNotFound", err)
			}
		}}
		s := gc.New(e.meta, st, gc.WithLogger(quiet()), gc.WithGrace(0))
		rep := e.run(s)
		if !checked || len(rep.Deleted) != 1 {
			t.Fatalf("deleted %v (bytes hook ran: %v)", deleted(rep), checked)
		}
		e.gone(b, "r")
		// Afterwards the same content can be pushed again.
		again := e.blob("r", "doomed")
		e.kept(again, "r")
	})
}

// hookBytes runs before ahead of each DeleteBlobBytes.
type hookBytes struct {
	gc.Bytes
	before func()
}

func (h *hookBytes) DeleteBlobBytes(ctx context.Context, b metadata.Blob) error {
	h.before()
	return h.Bytes.DeleteBlobBytes(ctx, b)
}

func TestFinishesInterruptedDeletion(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.blob("r", "interrupted")
		settle()
		now, err := e.meta.Now(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A sweeper crashed after the conditional delete.
		cur, err := e.meta.GetBlob(e.ctx, b.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.meta.DeleteBlobIfUnused(e.ctx, b.Digest, now, cur.Gen); err != nil {
			t.Fatal(err)
		}
		rep := e.run(e.sweeper(gc.WithGrace(time.Hour)))
		if rep.Finished != 1 || len(rep.Deleted) != 1 {
			t.Fatalf("report %+v, want the interrupted deletion finished", rep)
		}
		e.gone(b, "r")
		infos, _, err := e.meta.ListBlobs(e.ctx, "", -1)
		if err != nil || len(infos) != 0 {
			t.Fatalf("ListBlobs after finishing = %+v, %v", infos, err)
		}
	})
}

func TestForeignKeyKeepsBytes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		d := digest.FromString("foreign")
		if err := e.st.Bucket().WriteAll(e.ctx, "elsewhere/object", []byte("foreign"), nil); err != nil {
			t.Fatal(err)
		}
		b, err := e.meta.PutBlob(e.ctx, metadata.Blob{Digest: d, Size: 7, Key: "elsewhere/object"})
		if err != nil {
			t.Fatal(err)
		}
		settle()
		rep := e.run(e.sweeper())
		if len(rep.Deleted) != 1 || rep.KeptBytes != 1 {
			t.Fatalf("report %+v", rep)
		}
		if _, err := e.meta.GetBlob(e.ctx, b.Digest); !errors.Is(err, metadata.ErrNotFound) {
			t.Fatalf("record kept: %v", err)
		}
		if ok, _ := e.st.Bucket().Exists(e.ctx, "elsewhere/object"); !ok {
			t.Fatal("bytes under a foreign key were deleted")
		}
	})
}

// TestSessionObjectBytesDeleted: a blob committed as its upload
// session's object (objects/<id>, as on S3 and Azure) has its bytes
// deleted with its record.
func TestSessionObjectBytesDeleted(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		d := digest.FromString("session object")
		key := "objects/abcdefghijklmnopqrstuvwxyz"
		if err := e.st.Bucket().WriteAll(e.ctx, key, []byte("session object"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.meta.PutBlob(e.ctx, metadata.Blob{Digest: d, Size: 14, Key: key}); err != nil {
			t.Fatal(err)
		}
		settle()
		rep := e.run(e.sweeper())
		if len(rep.Deleted) != 1 || rep.KeptBytes != 0 {
			t.Fatalf("report %+v, want the blob deleted with its bytes", rep)
		}
		if ok, _ := e.st.Bucket().Exists(e.ctx, key); ok {
			t.Fatal("the session object of a collected blob is still there")
		}
	})
}

func TestSweepsExpiredUploads(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		expired, err := e.st.StartUpload(e.ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.AppendUpload(e.ctx, "r", expired.ID, 0, strings.NewReader("staged bytes")); err != nil {
			t.Fatal(err)
		}
		leased, err := e.st.StartUpload(e.ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.AppendUpload(e.ctx, "r", leased.ID, 0, strings.NewReader("more bytes")); err != nil {
			t.Fatal(err)
		}
		if n := staged(t, e, expired.ID); n == 0 {
			t.Fatal("no staged objects before the sweep")
		}
		// The expiry below is far shorter than this pause and far longer
		// than the time from creating the fresh upload to the sweep, even
		// on a loaded machine.
		time.Sleep(2 * time.Second)
		// A writer is streaming into this one: it holds the lease.
		if _, err := e.meta.AcquireUpload(e.ctx, leased.ID, -1, "writer", time.Minute); err != nil {
			t.Fatal(err)
		}
		fresh, err := e.st.StartUpload(e.ctx, "r")
		if err != nil {
			t.Fatal(err)
		}

		rep := e.run(e.sweeper(gc.WithUploadExpiry(time.Second)))
		if rep.UploadsSwept != 1 {
			t.Fatalf("swept %d uploads, want 1", rep.UploadsSwept)
		}
		if _, err := e.meta.GetUpload(e.ctx, expired.ID); !errors.Is(err, metadata.ErrNotFound) {
			t.Fatalf("expired upload: %v, want ErrNotFound", err)
		}
		if n := staged(t, e, expired.ID); n != 0 {
			t.Fatalf("%d staged objects of the expired upload remain", n)
		}
		for _, id := range []string{leased.ID, fresh.ID} {
			if _, err := e.meta.GetUpload(e.ctx, id); err != nil {
				t.Fatalf("upload %s was swept: %v", id, err)
			}
		}
		if n := staged(t, e, leased.ID); n == 0 {
			t.Fatal("the staged bytes of the leased upload were deleted")
		}
	})
}

// staged counts the staged objects of upload id.
func staged(t *testing.T, e *env, id string) int {
	t.Helper()
	it := e.st.Bucket().List(&blob.ListOptions{Prefix: "_uploads/" + id})
	n := 0
	for {
		_, err := it.Next(e.ctx)
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

func TestRunLoops(t *testing.T) {
	// Every blob is written before the loop starts: a zero-grace collector
	// may rightly take the claim of a blob still being uploaded (it cannot
	// tell a slow writer from a dead one), which would fail the upload.
	e := newEnv(t, "mem")
	b := e.blob("r", "loop")
	later := e.blob("r", "later")
	m := e.manifest("r", "keep", later.Digest)
	settle()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.sweeper(gc.WithInterval(5 * time.Millisecond)).Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := e.meta.GetBlob(e.ctx, b.Digest); errors.Is(err, metadata.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not collect the blob")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A blob orphaned later is collected by a later iteration.
	if err := e.meta.DeleteManifest(e.ctx, "r", m.Digest); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := e.meta.GetBlob(e.ctx, later.Digest); errors.Is(err, metadata.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not loop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

func TestLostLeaseStopsTheRun(t *testing.T) {
	e := newEnv(t, "mem")
	e.blob("r", "a")
	settle()
	meta := &failingRenewal{Store: e.meta}
	s := gc.New(meta, e.st, gc.WithLogger(quiet()), gc.WithGrace(0), gc.WithLeaseTTL(30*time.Millisecond))
	s.SetBeforeDelete(func(ctx context.Context, b metadata.Blob) { <-ctx.Done() })
	rep, err := s.RunOnce(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "lease lost") {
		t.Fatalf("RunOnce: %v, want lease lost", err)
	}
	if len(rep.Deleted) != 0 {
		t.Fatalf("deleted %v after losing the lease", deleted(rep))
	}
}

// failingRenewal grants the first AcquireLease and refuses the renewals,
// as when the lease expired and another replica took it.
type failingRenewal struct {
	metadata.Store
	calls int
	mu    sync.Mutex
}

func (f *failingRenewal) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls > 1 {
		return false, nil
	}
	return f.Store.AcquireLease(ctx, name, token, ttl)
}
