package metadatatest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// TinyRepos writes n tiny repositories through db, the unit in which the
// README states metadata bytes per repository: repository i
// (o<i%100>/r<i>) links four blobs — two base layers every repository
// shares and a config and a layer of its own, each committed as a global
// blob record under its default key — and stores one manifest (a body of
// about 90 bytes referring to the four) tagged "latest". Per repository
// that is four links, two global blob records (and their index and linker
// entries), one manifest, one tag with its indexes and the owner's entries.
func TinyRepos(ctx context.Context, db *metadata.DB, n int) error {
	created := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	blob := func(name string) (metadata.Blob, error) {
		d := digest.FromString(name)
		e := d.Encoded()
		return db.PutBlob(ctx, metadata.Blob{Digest: d, Size: 1 << 20, Key: "blobs/sha256/" + e[:2] + "/" + e[2:4] + "/" + e, Created: created})
	}
	var base []metadata.Blob
	for _, name := range []string{"base0", "base1"} {
		b, err := blob(name)
		if err != nil {
			return err
		}
		base = append(base, b)
	}
	one := func(i int) error {
		repo := fmt.Sprintf("o%02d/r%06d", i%100, i)
		blobs := append([]metadata.Blob(nil), base...)
		for _, name := range []string{"config", "layer"} {
			b, err := blob(fmt.Sprint(name, i))
			if err != nil {
				return err
			}
			blobs = append(blobs, b)
		}
		refs := make([]digest.Digest, len(blobs))
		for j, b := range blobs {
			if err := db.LinkBlob(ctx, repo, b); err != nil {
				return err
			}
			refs[j] = b.Digest
		}
		body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":%d}`, i)
		m := metadata.Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body,
			References: refs, ArtifactType: "application/vnd.oci.image.config.v1+json"}
		return db.PutManifest(ctx, repo, m, "latest")
	}
	const workers = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := one(i); err != nil {
					mu.Lock()
					errs = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return errs
}
