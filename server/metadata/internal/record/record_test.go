package record

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata"
)

var when = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

func TestRoundTrip(t *testing.T) {
	b := metadata.Blob{Digest: digest.FromString("b"), Size: 1 << 40, Key: "blobs/x", Created: when}
	if got, err := DecodeBlob(EncodeBlob(b)); err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("blob: got %+v, %v; want %+v", got, err, b)
	}
	m := metadata.Manifest{
		Digest: digest.FromString("m"), MediaType: v1.MediaTypeImageManifest, Body: []byte("\x00{}\xff"),
		Subject: digest.FromString("s"), ArtifactType: "a/b", Annotations: map[string]string{"k": "v", "e": ""},
		References: []digest.Digest{digest.FromString("r1"), digest.FromString("r2")}, Created: when,
	}
	if got, err := DecodeManifest(EncodeManifest(m)); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("manifest: got %+v, %v; want %+v", got, err, m)
	}
	empty := metadata.Manifest{}
	if got, err := DecodeManifest(EncodeManifest(empty)); err != nil || !reflect.DeepEqual(got, empty) {
		t.Errorf("empty manifest: got %+v, %v", got, err)
	}
	desc := m.Descriptor()
	if got, err := DecodeDescriptor(EncodeDescriptor(desc)); err != nil || !reflect.DeepEqual(got, desc) {
		t.Errorf("descriptor: got %+v, %v; want %+v", got, err, desc)
	}
	u := metadata.Upload{ID: "id", Repo: "r", Offset: 9, State: []byte{0, 1}, Started: when, Updated: when.Add(time.Second)}
	l := Lease{Token: "tok", Expires: when.Add(time.Minute)}
	if gu, gl, err := DecodeUpload(EncodeUpload(u, l)); err != nil || !reflect.DeepEqual(gu, u) || gl != l {
		t.Errorf("upload: got %+v %+v, %v", gu, gl, err)
	}
}

func TestCorrupt(t *testing.T) {
	full := EncodeManifest(metadata.Manifest{Digest: "sha256:x", Body: bytes.Repeat([]byte("b"), 50), Annotations: map[string]string{"a": "b"}})
	for i := range len(full) {
		if _, err := DecodeManifest(full[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err %v", i, err)
		}
	}
	if _, err := DecodeBlob(append(EncodePendingBlob(metadata.Blob{}), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: err %v", err)
	}
	if _, err := DecodeBlob(EncodeManifest(metadata.Manifest{})); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong kind: err %v", err)
	}
}
