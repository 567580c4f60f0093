package oci

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestArchiveAbortAndUnsafeNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tar")
	a, err := OpenArchive(path, dir)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromBytes(body), Size: int64(len(body))}
	if err := a.PushManifest(context.Background(), desc, body, "v1", true); err != nil {
		t.Fatal(err)
	}
	if err := a.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an aborted archive was written: %v", err)
	}

	// An archive whose entry climbs out of the directory is refused.
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	_ = tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	_ = f.Close()
	if _, err := OpenArchive(path, dir); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("unsafe archive: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Error("the entry was written outside the archive's directory")
	}
}
