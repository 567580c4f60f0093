package boltmeta_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/driver"
)

// BenchmarkDriverFollow is the driver's part of a manifest GET by tag:
// one Follow from a tag to a 1 KiB record, among 1000 tags.
func BenchmarkDriverFollow(b *testing.B) {
	d, err := boltmeta.OpenDriver(filepath.Join(b.TempDir(), "meta.db"), boltmeta.WithNoSync())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	manifests := driver.Table{Name: "manifests"}
	body := make([]byte, 1024)
	err = d.Update(b.Context(), "repo:library/app", func(tx driver.Tx) error {
		for i := range 1000 {
			if err := tx.Put(tags, fmt.Sprint("v", i), fmt.Appendf(nil, "sha256:%d", i)); err != nil {
				return err
			}
			if err := tx.Put(manifests, fmt.Sprint("sha256:", i), body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, ok, err := d.Follow(b.Context(), "repo:library/app", tags, fmt.Sprint("v", i%1000), manifests); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkDriverUpdate is one read-modify-write of a small record.
func BenchmarkDriverUpdate(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []boltmeta.Option
	}{{"sync", nil}, {"nosync", []boltmeta.Option{boltmeta.WithNoSync()}}} {
		b.Run(mode.name, func(b *testing.B) {
			d, err := boltmeta.OpenDriver(filepath.Join(b.TempDir(), "meta.db"), mode.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			for i := range b.N {
				err := d.Update(b.Context(), "upload:u1", func(tx driver.Tx) error {
					if _, _, err := tx.Get(blobs, "session"); err != nil {
						return err
					}
					return tx.Put(blobs, "session", fmt.Appendf(nil, "offset %d", i))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
