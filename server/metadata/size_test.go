package metadata_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/driver"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// sizing records the size of the last value put under each table and key.
type sizing struct {
	driver.Driver
	mu   sync.Mutex
	last map[string]int // table NUL key → bytes
}

type sizingTx struct {
	driver.Tx
	s *sizing
}

func (x sizingTx) Put(t driver.Table, key string, value []byte) error {
	x.s.mu.Lock()
	x.s.last[t.Name+"\x00"+key] = len(key) + len(value)
	x.s.mu.Unlock()
	return x.Tx.Put(t, key, value)
}

func (s *sizing) Update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	return s.Driver.Update(ctx, shard, func(tx driver.Tx) error { return fn(sizingTx{tx, s}) })
}

func (s *sizing) table(name string) (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.last {
		if len(k) > len(name) && k[:len(name)+1] == name+"\x00" {
			n++
			bytes += v
		}
	}
	return n, bytes
}

// TestRecordSizes bounds the bytes a repository's records take (keys and
// values). The compact records (record.go) of the four links and the
// manifest took 396 and 336 bytes (2026-12-03); the format before took
// 1,248 and 688.
const maxLinks, maxManifest = 400, 340

func TestRecordSizes(t *testing.T) {
	ctx := t.Context()
	s := &sizing{Driver: memdriver.New(), last: map[string]int{}}
	db := metadata.New(s)
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	var refs []digest.Digest
	for i := range 4 {
		d := digest.FromString(fmt.Sprint("layer", i))
		b := metadata.Blob{Digest: d, Size: 12345678, Key: "blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()[2:4] + "/" + d.Encoded(), Created: created}
		rec, err := db.PutBlob(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.LinkBlob(ctx, "lib/app", rec); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, d)
	}
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body, References: refs, ArtifactType: "application/vnd.oci.image.config.v1+json"}
	if err := db.PutManifest(ctx, "lib/app", m, "latest"); err != nil {
		t.Fatal(err)
	}
	nl, links := s.table("link")
	_, manifest := s.table("manifest")
	_, meta := s.table("meta")
	_, tags := s.table("tag")
	_, idx := s.table("idx")
	_, idxdir := s.table("idxdir")
	_, tagw := s.table("tagw")
	_, oidx := s.table("oidx")
	_, oidxdir := s.table("oidxdir")
	_, ownrepo := s.table("ownrepo")
	t.Logf("%d links: %d bytes; manifest with %d-byte body: %d bytes; tag %d (its nonce %d); meta %d; tag index %d + %d; owner entries %d + %d + %d",
		nl, links, len(body), manifest, tags, tagw, meta, idx, idxdir, oidx, oidxdir, ownrepo)
	// A tag's nonce, and its two owner entries (with the digest), its
	// entry in the repository's selection index (sort key only: 34 bytes)
	// and the owner's chunk records (the selection index's, with its
	// smallest key: 44) and count: 300 bytes before the selection
	// indexes, 378 with them (2026-12-03).
	if tagw > 32 || oidx+oidxdir+ownrepo > 380 {
		t.Fatalf("a tag's nonce takes %d bytes, its owner entries %d", tagw, oidx+oidxdir+ownrepo)
	}
	// meta holds usage, catalog token and the list index marker and count.
	if links > maxLinks || manifest > maxManifest || meta > 40 || idx+idxdir > 160 {
		t.Fatalf("records grew: links %d bytes (at most %d), manifest %d (at most %d), meta %d (40), tag indexes %d (160)",
			links, maxLinks, manifest, maxManifest, meta, idx+idxdir)
	}
}
