package metadatatest

import (
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// leaseTTL is long enough never to expire during a test step.
const leaseTTL = time.Minute

func newUpload(id string, updated time.Time) metadata.Upload {
	return metadata.Upload{
		ID:      id,
		Repo:    "lib/app",
		Offset:  0,
		State:   []byte("\x00state\xff" + id),
		Started: updated.Add(-time.Hour),
		Updated: updated,
	}
}

func testUploads(t *testing.T, open opener) {
	testPackageUploadGoesWithSession(t, open)
	t.Run("CreateGet", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		u.Offset = 42
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload", got, u)

		dup := newUpload("u1", at(2))
		dup.Repo = "other"
		wantErr(t, s.CreateUpload(ctx, dup), metadata.ErrExists, "CreateUpload twice")
		got, err = s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload after duplicate create")
		checkUpload(t, "GetUpload after duplicate create", got, u)

		_, err = s.GetUpload(ctx, "missing")
		wantErr(t, err, metadata.ErrNotFound, "GetUpload missing")
	})
	t.Run("EmptyState", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		u.State = nil
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload", got, u)
	})
	t.Run("TimesDefaultToNow", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		before := time.Now().Add(-time.Second)
		noErr(t, s.CreateUpload(ctx, metadata.Upload{ID: "u1", Repo: "r"}), "CreateUpload")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		after := time.Now().Add(time.Second)
		if got.Started.Before(before) || got.Started.After(after) || !got.Updated.Equal(got.Started) {
			t.Fatalf("Started, Updated = %v, %v; want both about now", got.Started, got.Updated)
		}
	})
	t.Run("AcquireRelease", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		got, err := s.AcquireUpload(ctx, "u1", 0, "tok", leaseTTL)
		noErr(t, err, "AcquireUpload")
		checkUpload(t, "AcquireUpload", got, u)

		next := got
		next.Offset = 1 << 40
		next.State = []byte("\xffnew state\x00")
		next.Updated = at(2)
		next.Repo = "must/not/change"
		next.Started = at(-100)
		noErr(t, s.ReleaseUpload(ctx, next, "tok"), "ReleaseUpload")

		want := u
		want.Offset, want.State, want.Updated = next.Offset, next.State, next.Updated
		got, err = s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload after release", got, want)

		// The lease is free again: another token acquires at the new offset.
		got, err = s.AcquireUpload(ctx, "u1", 1<<40, "other", leaseTTL)
		noErr(t, err, "AcquireUpload by another token after release")
		checkUpload(t, "AcquireUpload after release", got, want)
		// The first token no longer holds the lease.
		wantErr(t, s.ReleaseUpload(ctx, want, "tok"), metadata.ErrConflict, "ReleaseUpload with a released token")
		next = want
		next.State = nil
		next.Updated = at(3)
		noErr(t, s.ReleaseUpload(ctx, next, "other"), "ReleaseUpload clearing State")
		got, err = s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload after clearing State", got, next)
	})
	t.Run("AcquireAnyOffset", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		u.Offset = 7
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		got, err := s.AcquireUpload(ctx, "u1", -1, "tok", leaseTTL)
		noErr(t, err, "AcquireUpload offset -1")
		checkUpload(t, "AcquireUpload", got, u)
	})
	t.Run("AcquireOffsetMismatch", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		u.Offset = 100
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		for _, off := range []int64{0, 99, 101} {
			got, err := s.AcquireUpload(ctx, "u1", off, "tok", leaseTTL)
			wantErr(t, err, metadata.ErrConflict, "AcquireUpload with a wrong offset")
			checkUpload(t, "upload returned with ErrConflict", got, u)
		}
		// A failed acquire takes no lease.
		_, err := s.AcquireUpload(ctx, "u1", 100, "other", leaseTTL)
		noErr(t, err, "AcquireUpload by another token after a failed acquire")
	})
	t.Run("AcquireMissing", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		_, err := s.AcquireUpload(ctx, "missing", 0, "tok", leaseTTL)
		wantErr(t, err, metadata.ErrNotFound, "AcquireUpload missing")
		_, err = s.AcquireUpload(ctx, "missing", -1, "tok", leaseTTL)
		wantErr(t, err, metadata.ErrNotFound, "AcquireUpload missing, any offset")
	})
	t.Run("LeaseHeld", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		_, err := s.AcquireUpload(ctx, "u1", 0, "a", leaseTTL)
		noErr(t, err, "AcquireUpload a")
		for _, off := range []int64{0, -1, 5} {
			got, err := s.AcquireUpload(ctx, "u1", off, "b", leaseTTL)
			wantErr(t, err, metadata.ErrConflict, "AcquireUpload b while a holds the lease")
			checkUpload(t, "upload returned with ErrConflict", got, u)
		}
		_, err = s.AcquireUpload(ctx, "u1", 0, "a", leaseTTL)
		noErr(t, err, "AcquireUpload again by the holder")
		next := u
		next.Offset = 10
		wantErr(t, s.ReleaseUpload(ctx, next, "b"), metadata.ErrConflict, "ReleaseUpload by a non-holder")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload after a refused release", got, u)
		noErr(t, s.ReleaseUpload(ctx, next, "a"), "ReleaseUpload by the holder")
		_, err = s.AcquireUpload(ctx, "u1", 10, "b", leaseTTL)
		noErr(t, err, "AcquireUpload b after release")
	})
	t.Run("LeaseExpires", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		const ttl = 200 * time.Millisecond
		u := newUpload("u1", at(1))
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		_, err := s.AcquireUpload(ctx, "u1", 0, "a", ttl)
		noErr(t, err, "AcquireUpload a")
		_, err = s.AcquireUpload(ctx, "u1", 0, "b", ttl)
		wantErr(t, err, metadata.ErrConflict, "AcquireUpload b before the lease expires")
		time.Sleep(ttl + 150*time.Millisecond)
		taken, err := s.AcquireUpload(ctx, "u1", 0, "b", leaseTTL)
		noErr(t, err, "AcquireUpload b after the lease expired")
		if taken.Epoch != 1 {
			t.Fatalf("Epoch after a takeover = %d, want 1", taken.Epoch)
		}
		again, err := s.AcquireUpload(ctx, "u1", 0, "b", leaseTTL)
		noErr(t, err, "AcquireUpload b again")
		if again.Epoch != 1 {
			t.Fatalf("Epoch after the holder renewed = %d, want 1", again.Epoch)
		}
		next := u
		next.Offset = 5
		wantErr(t, s.ReleaseUpload(ctx, next, "a"), metadata.ErrConflict, "ReleaseUpload by the writer whose lease was taken")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload after the stale release", got, u)
		next.Offset = 6
		noErr(t, s.ReleaseUpload(ctx, next, "b"), "ReleaseUpload b")
		got, err = s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload after release", got, next)
		if got.Epoch != 1 {
			t.Fatalf("Epoch after release = %d, want 1", got.Epoch)
		}
		// A lease taken after a release is no takeover.
		c, err := s.AcquireUpload(ctx, "u1", 6, "c", leaseTTL)
		noErr(t, err, "AcquireUpload c after release")
		if c.Epoch != 1 {
			t.Fatalf("Epoch after an acquire following a release = %d, want 1", c.Epoch)
		}
	})
	t.Run("ReleaseWithoutLease", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		next := u
		next.Offset = 3
		wantErr(t, s.ReleaseUpload(ctx, next, "never-acquired"), metadata.ErrConflict, "ReleaseUpload without a lease")
		got, err := s.GetUpload(ctx, "u1")
		noErr(t, err, "GetUpload")
		checkUpload(t, "GetUpload", got, u)
		missing := newUpload("missing", at(1))
		wantErr(t, s.ReleaseUpload(ctx, missing, "tok"), metadata.ErrNotFound, "ReleaseUpload of a missing session")
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		u := newUpload("u1", at(1))
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload")
		noErr(t, s.CreateUpload(ctx, newUpload("u2", at(1))), "CreateUpload u2")
		_, err := s.AcquireUpload(ctx, "u1", 0, "tok", leaseTTL)
		noErr(t, err, "AcquireUpload")
		noErr(t, s.DeleteUpload(ctx, "u1"), "DeleteUpload of a leased session")
		_, err = s.GetUpload(ctx, "u1")
		wantErr(t, err, metadata.ErrNotFound, "GetUpload after delete")
		wantErr(t, s.ReleaseUpload(ctx, u, "tok"), metadata.ErrNotFound, "ReleaseUpload after delete")
		_, err = s.AcquireUpload(ctx, "u1", 0, "tok", leaseTTL)
		wantErr(t, err, metadata.ErrNotFound, "AcquireUpload after delete")
		wantErr(t, s.DeleteUpload(ctx, "u1"), metadata.ErrNotFound, "DeleteUpload twice")
		_, err = s.GetUpload(ctx, "u2")
		noErr(t, err, "GetUpload of another session")
		expired, err := s.ExpiredUploads(ctx, at(100), -1)
		noErr(t, err, "ExpiredUploads")
		if len(expired) != 1 || expired[0].ID != "u2" {
			t.Fatalf("ExpiredUploads after delete = %+v, want only u2", expired)
		}
		// The ID can be used again.
		noErr(t, s.CreateUpload(ctx, u), "CreateUpload after delete")
	})
	t.Run("Expired", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		// Created out of order: u3 is the oldest, u5 the newest.
		for _, c := range []struct {
			id  string
			sec int
		}{{"u1", 3}, {"u2", 2}, {"u3", 1}, {"u4", 5}, {"u5", 6}, {"u6", 4}} {
			noErr(t, s.CreateUpload(ctx, newUpload(c.id, at(c.sec))), "CreateUpload")
		}
		ids := func(us []metadata.Upload) []string {
			out := make([]string, len(us))
			for i, u := range us {
				out[i] = u.ID
			}
			return out
		}
		tests := []struct {
			name   string
			before time.Time
			n      int
			want   []string
		}{
			{name: "before is exclusive", before: at(4), n: 10, want: []string{"u3", "u2", "u1"}},
			{name: "limit", before: at(4), n: 2, want: []string{"u3", "u2"}},
			{name: "no limit", before: at(100), n: -1, want: []string{"u3", "u2", "u1", "u6", "u4", "u5"}},
			{name: "n=0", before: at(100), n: 0, want: []string{}},
			{name: "none old enough", before: at(1), n: 10, want: []string{}},
			{name: "zero before", before: time.Time{}, n: 10, want: []string{}},
			{name: "one nanosecond after", before: at(1).Add(time.Nanosecond), n: 10, want: []string{"u3"}},
		}
		for _, tt := range tests {
			got, err := s.ExpiredUploads(ctx, tt.before, tt.n)
			noErr(t, err, tt.name)
			checkStrings(t, tt.name, ids(got), false, tt.want, false)
		}
		got, err := s.ExpiredUploads(ctx, at(2), 1)
		noErr(t, err, "ExpiredUploads")
		if len(got) != 1 {
			t.Fatalf("ExpiredUploads = %+v, want u3", got)
		}
		checkUpload(t, "ExpiredUploads record", got[0], newUpload("u3", at(1)))

		// Releasing a session updates its place in the expiry order.
		u3, err := s.AcquireUpload(ctx, "u3", 0, "tok", leaseTTL)
		noErr(t, err, "AcquireUpload")
		u3.Offset, u3.Updated = 9, at(10)
		noErr(t, s.ReleaseUpload(ctx, u3, "tok"), "ReleaseUpload")
		noErr(t, s.DeleteUpload(ctx, "u2"), "DeleteUpload")
		got, err = s.ExpiredUploads(ctx, at(100), -1)
		noErr(t, err, "ExpiredUploads after release and delete")
		checkStrings(t, "ExpiredUploads after release and delete", ids(got), false, []string{"u1", "u6", "u4", "u5", "u3"}, false)
		got, err = s.ExpiredUploads(ctx, at(6), 10)
		noErr(t, err, "ExpiredUploads after release and delete")
		checkStrings(t, "ExpiredUploads after release and delete", ids(got), false, []string{"u1", "u6", "u4"}, false)
	})
}
