package record

import (
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

func TestBlobUsed(t *testing.T) {
	b := metadata.Blob{Digest: digest.FromString("b"), Size: 3, Key: "k", Created: when, Used: when.Add(time.Hour)}
	if got, err := DecodeBlob(EncodeBlob(b)); err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("got %+v, %v; want %+v", got, err, b)
	}
	// A record written before Used existed ends after Created.
	old := EncodeBlob(metadata.Blob{Digest: b.Digest, Size: 3, Key: "k", Created: when})
	old = old[:len(old)-3] // drop the zero Used, Gen and Inc
	got, err := DecodeBlob(old)
	if err != nil || !got.Used.IsZero() || !got.Created.Equal(when) || got.Key != "k" {
		t.Fatalf("old record: got %+v, %v", got, err)
	}
}

func TestBlobGenInc(t *testing.T) {
	b := metadata.Blob{Digest: digest.FromString("b"), Size: 3, Key: "k", Created: when, Used: when, Gen: 300, Inc: "abc"}
	if got, pending, err := DecodeBlobState(EncodeBlob(b)); err != nil || pending || !reflect.DeepEqual(got, b) {
		t.Fatalf("got %+v, %v, %v; want %+v", got, pending, err, b)
	}
	if got, pending, err := DecodeBlobState(EncodePendingBlob(b)); err != nil || !pending || !reflect.DeepEqual(got, b) {
		t.Fatalf("pending: got %+v, %v, %v; want %+v", got, pending, err, b)
	}
	// A record written before Gen and Inc existed ends after Used.
	old := EncodeBlob(metadata.Blob{Digest: b.Digest, Size: 3, Key: "k", Created: when, Used: when})
	got, err := DecodeBlob(old[:len(old)-2])
	if err != nil || got.Gen != 0 || got.Inc != "" || !got.Used.Equal(when) {
		t.Fatalf("record without Gen: got %+v, %v", got, err)
	}
}

func TestLease(t *testing.T) {
	l := Lease{Token: "tok", Expires: when}
	if got, err := DecodeLease(EncodeLease(l)); err != nil || got != l {
		t.Fatalf("got %+v, %v; want %+v", got, err, l)
	}
	if _, err := DecodeLease(EncodeBlob(metadata.Blob{})); err == nil {
		t.Fatal("a blob record decoded as a lease")
	}
}
