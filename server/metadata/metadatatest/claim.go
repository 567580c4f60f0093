package metadatatest

import (
	"testing"
	"time"

	"github.com/regkit/regkit/server/metadata"
)

// testClaims covers ClaimBlob, PutBlob with a claim, pending records and
// the use generation that garbage collection relies on.
func testClaims(t *testing.T, open opener) {
	t.Run("ClaimCreatesPending", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		want := newBlob("claimed", "blobs/claimed", at(1))
		p, live, err := s.ClaimBlob(ctx, metadata.Blob{Digest: want.Digest, Key: want.Key})
		noErr(t, err, "ClaimBlob")
		if live || p.Inc == "" || p.Gen == 0 || p.Key != want.Key {
			t.Fatalf("ClaimBlob of a new digest = %+v, live %v; want pending with an Inc, a Gen and the key", p, live)
		}
		_, err = s.GetBlob(ctx, want.Digest)
		wantErr(t, err, metadata.ErrNotFound, "GetBlob of a pending record")
		_, err = s.TouchBlob(ctx, want.Digest)
		wantErr(t, err, metadata.ErrNotFound, "TouchBlob of a pending record")
		all := listAll(t, s, -1)
		if len(all) != 1 || !all[0].Pending || all[0].Deleting || all[0].Digest != want.Digest || all[0].Gen != p.Gen {
			t.Fatalf("ListBlobs with a pending record = %+v, want it pending with Gen %d", all, p.Gen)
		}

		again, live, err := s.ClaimBlob(ctx, metadata.Blob{Digest: want.Digest, Key: want.Key})
		noErr(t, err, "ClaimBlob again")
		if live || again.Inc != p.Inc || again.Gen <= p.Gen {
			t.Fatalf("second ClaimBlob = %+v, live %v; want the same Inc %q, pending, a later Gen than %d", again, live, p.Inc, p.Gen)
		}

		wrong := want
		wrong.Inc = "not-the-claim"
		_, err = s.PutBlob(ctx, wrong)
		wantErr(t, err, metadata.ErrConflict, "PutBlob with another Inc")
		_, err = s.GetBlob(ctx, want.Digest)
		wantErr(t, err, metadata.ErrNotFound, "GetBlob after a refused commit")

		commit := want
		commit.Inc = p.Inc
		got, err := s.PutBlob(ctx, commit)
		noErr(t, err, "PutBlob with the claim")
		checkBlob(t, "committed record", got, want)
		if got.Inc != p.Inc || got.Gen <= again.Gen {
			t.Fatalf("committed record Inc %q Gen %d, want Inc %q and a Gen after %d", got.Inc, got.Gen, p.Inc, again.Gen)
		}
		read, err := s.GetBlob(ctx, want.Digest)
		noErr(t, err, "GetBlob after commit")
		checkBlob(t, "GetBlob after commit", read, want)
		if read.Gen != got.Gen || read.Inc != got.Inc {
			t.Fatalf("GetBlob Gen %d Inc %q, want %d %q", read.Gen, read.Inc, got.Gen, got.Inc)
		}

		// A claim of a live record reports it live and keeps it.
		c, live, err := s.ClaimBlob(ctx, metadata.Blob{Digest: want.Digest, Key: "blobs/elsewhere"})
		noErr(t, err, "ClaimBlob of a live record")
		if !live || c.Inc != p.Inc || c.Key != want.Key || c.Gen <= got.Gen {
			t.Fatalf("ClaimBlob of a live record = %+v, live %v", c, live)
		}
		commit.Key = "blobs/elsewhere"
		kept, err := s.PutBlob(ctx, commit)
		noErr(t, err, "PutBlob of a live record with its Inc")
		checkBlob(t, "PutBlob of a live record keeps it", kept, want)
	})
	t.Run("EveryUseChangesGen", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b, err := s.PutBlob(ctx, newBlob("gen", "k", at(1)))
		noErr(t, err, "PutBlob")
		last := b.Gen
		step := func(what string, g uint64) {
			t.Helper()
			cur, err := s.GetBlob(ctx, b.Digest)
			noErr(t, err, "GetBlob after "+what)
			if g <= last || cur.Gen != g {
				t.Fatalf("%s: Gen %d (GetBlob %d), want one after %d", what, g, cur.Gen, last)
			}
			last = g
		}
		tb, err := s.TouchBlob(ctx, b.Digest)
		noErr(t, err, "TouchBlob")
		step("TouchBlob", tb.Gen)
		noErr(t, s.LinkBlob(ctx, "gen/repo", b), "LinkBlob")
		cur, err := s.GetBlob(ctx, b.Digest)
		noErr(t, err, "GetBlob")
		step("LinkBlob", cur.Gen)
		c, _, err := s.ClaimBlob(ctx, b)
		noErr(t, err, "ClaimBlob")
		step("ClaimBlob", c.Gen)
		pb, err := s.PutBlob(ctx, b)
		noErr(t, err, "PutBlob again")
		step("PutBlob", pb.Gen)
	})
	t.Run("CollectedClaimCannotCommit", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		want := newBlob("collected", "blobs/collected", at(1))
		p, _, err := s.ClaimBlob(ctx, metadata.Blob{Digest: want.Digest, Key: want.Key})
		noErr(t, err, "ClaimBlob")
		// A collector takes the pending record of a writer it thinks dead.
		cutoff := storeNow(t, s).Add(time.Hour)
		got, err := s.DeleteBlobIfUnused(ctx, want.Digest, cutoff, p.Gen)
		noErr(t, err, "DeleteBlobIfUnused of a pending record")
		if got.Key != want.Key {
			t.Fatalf("tombstone of a pending record = %+v, want key %q", got, want.Key)
		}
		_, _, err = s.ClaimBlob(ctx, want)
		wantErr(t, err, metadata.ErrConflict, "ClaimBlob of a tombstone")
		commit := want
		commit.Inc = p.Inc
		_, err = s.PutBlob(ctx, commit)
		wantErr(t, err, metadata.ErrConflict, "PutBlob of a claim that became a tombstone")
		noErr(t, s.PurgeBlob(ctx, want.Digest), "PurgeBlob")
		_, err = s.PutBlob(ctx, commit)
		wantErr(t, err, metadata.ErrConflict, "PutBlob of a claim whose record was purged")

		// A new claim is a new incarnation; the old claim stays lost.
		p2, live, err := s.ClaimBlob(ctx, metadata.Blob{Digest: want.Digest, Key: want.Key})
		noErr(t, err, "ClaimBlob after purge")
		if live || p2.Inc == p.Inc {
			t.Fatalf("ClaimBlob after purge = %+v, live %v; want a new pending incarnation", p2, live)
		}
		_, err = s.PutBlob(ctx, commit)
		wantErr(t, err, metadata.ErrConflict, "PutBlob of the old claim")
		commit.Inc = p2.Inc
		_, err = s.PutBlob(ctx, commit)
		noErr(t, err, "PutBlob of the new claim")
	})
	t.Run("PendingRecordOfAStaleGenIsKept", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		b := newBlob("stale-gen", "k", at(1))
		p, _, err := s.ClaimBlob(ctx, b)
		noErr(t, err, "ClaimBlob")
		_, _, err = s.ClaimBlob(ctx, b)
		noErr(t, err, "ClaimBlob again")
		_, err = s.DeleteBlobIfUnused(ctx, b.Digest, storeNow(t, s).Add(time.Hour), p.Gen)
		wantErr(t, err, metadata.ErrConflict, "DeleteBlobIfUnused with the Gen of the first claim")
		commit := b
		commit.Inc = p.Inc
		_, err = s.PutBlob(ctx, commit)
		noErr(t, err, "PutBlob after the refused delete")
	})
}
