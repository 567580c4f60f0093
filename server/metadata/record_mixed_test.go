package metadata

import (
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// TestOldStore reads and changes, with the new code, a store whose
// records an older version wrote: a global blob record, a link and a
// manifest of the old format (the golden records), next to records the
// new code writes — as on a store that one replica of an upgrade wrote
// before another.
func TestOldStore(t *testing.T) {
	ctx := t.Context()
	g := golden()
	db := New(memdriver.New())
	const repo = "lib/app"
	live := blobRec{Blob: g.blobRec, State: stateLive}
	live.Blob.Gen = 7
	oldLive, err := encMode.Marshal(legacyBlob{Digest: g.layer, Size: live.Size, Key: live.Key, Created: live.Created, Used: live.Used, Gen: live.Gen, Inc: live.Inc})
	if err != nil {
		t.Fatal(err)
	}
	if !legacy(oldLive) {
		t.Fatal("the old-format record is not recognised")
	}
	m := g.manifest
	write := func(shard string, tab driver.Table, key string, hexrec string, raw []byte) {
		t.Helper()
		if raw == nil {
			raw = unhex(t, hexrec)
		}
		if err := db.d.Update(ctx, shard, func(tx driver.Tx) error { return tx.Put(tab, key, raw) }); err != nil {
			t.Fatal(err)
		}
	}
	write(shardBlob(string(g.layer)), tBlob, "", "", oldLive)
	write(shardBlobIndex, tIndex, string(g.layer), "", []byte(live.Inc))
	write(shardRepo(repo), tLink, string(g.layer), oldLink, nil)
	write(shardRepo(repo), tManifest, string(m.Digest), oldManifest, nil)
	write(shardRepo(repo), tTag, "old", "", []byte(m.Digest))
	write(shardRepo(repo), tMeta, "", "", encode(repoMeta{Usage: g.link.Size + int64(len(m.Body)), Listed: "x", All: true}))

	// Reads of old records.
	if b, err := db.GetBlob(ctx, g.layer); err != nil || !reflect.DeepEqual(b, live.Blob) {
		t.Errorf("GetBlob: %+v, %v; want %+v", b, err, live.Blob)
	}
	if b, err := db.RepoBlob(ctx, repo, g.layer); err != nil || !reflect.DeepEqual(b, g.link) {
		t.Errorf("RepoBlob: %+v, %v; want %+v", b, err, g.link)
	}
	if infos, _, err := db.ListBlobs(ctx, "", 10); err != nil || len(infos) != 1 || !reflect.DeepEqual(infos[0].Blob, live.Blob) {
		t.Errorf("ListBlobs: %+v, %v", infos, err)
	}
	for _, ref := range []string{"old", string(m.Digest)} {
		if got, err := db.GetManifest(ctx, repo, ref); err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("GetManifest %s: %+v, %v; want %+v", ref, got, err, m)
		}
		if got, err := db.GetManifestHead(ctx, repo, ref); err != nil || got.Digest != m.Digest || got.MediaType != m.MediaType || string(got.Body) != string(m.Body) {
			t.Errorf("GetManifestHead %s: %+v, %v", ref, got, err)
		}
	}
	refs, _, err := db.ManifestReferences(ctx, repo, "", 0)
	if want := append(append([]digest.Digest{}, m.References...), m.Subject); err != nil || !reflect.DeepEqual(refs, want) {
		t.Errorf("ManifestReferences: %v, %v; want %v", refs, err, want)
	}

	// New records next to the old ones: a second manifest and a tag move.
	m2 := Manifest{Digest: digest.FromString("m2"), MediaType: mediaTypes[2], Body: []byte("{}"), References: []digest.Digest{g.layer}}
	if err := db.PutManifest(ctx, repo, m2, "new", "old"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"new", "old"} {
		if got, err := db.GetManifest(ctx, repo, ref); err != nil || got.Digest != m2.Digest || got.Created.IsZero() {
			t.Errorf("GetManifest %s after the move: %+v, %v", ref, got, err)
		}
	}
	// Writes over old records: a touch rewrites the global record, a
	// relink the link; both keep every field.
	b, err := db.TouchBlob(ctx, g.layer)
	if err != nil || b.Gen != live.Gen+1 || b.Key != live.Key || b.Inc != live.Inc || !b.Created.Equal(live.Created) {
		t.Fatalf("TouchBlob: %+v, %v", b, err)
	}
	if err := db.LinkBlob(ctx, repo, b); err != nil {
		t.Fatal(err)
	}
	v, _, _ := db.d.Get(ctx, driver.Ref{Shard: shardRepo(repo), Table: tLink, Key: string(g.layer)})
	if legacy(v) {
		t.Error("LinkBlob left the link in the old format")
	}
	if l, err := db.RepoBlob(ctx, repo, g.layer); err != nil || !reflect.DeepEqual(l, Blob{Digest: g.layer, Size: b.Size, Key: b.Key, Created: b.Created, Inc: b.Inc}) {
		t.Errorf("RepoBlob after the relink: %+v, %v", l, err)
	}
	// The old manifest's usage and its delete; the usage of the relinked
	// blob counted once.
	if err := db.DeleteManifest(ctx, repo, m.Digest); err != nil {
		t.Fatal(err)
	}
	if u, err := db.RepoUsage(ctx, repo); err != nil || u != b.Size+int64(len(m2.Body)) {
		t.Errorf("usage: %d, %v; want %d", u, err, b.Size+int64(len(m2.Body)))
	}
	if err := db.UnlinkBlob(ctx, repo, g.layer); err != nil {
		t.Fatal(err)
	}
}
