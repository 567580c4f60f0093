// Package record encodes metadata records compactly for the durable stores
// (boltmeta, redismeta). Every record starts with a version byte; fields
// follow as varints and length-prefixed bytes, so manifest bodies and upload
// states are stored as they are, not base64'd.
//
// Times keep nanoseconds and decode in UTC; the zero time stays zero.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/regkit/regkit/server/metadata"
)

// Record kinds, each the first byte of its encoding.
const (
	kindBlob       = 0xB1
	kindManifest   = 0xA1
	kindDescriptor = 0xD1
	kindUpload     = 0xC1
	kindLease      = 0xE1
)

// ErrCorrupt means a stored record could not be decoded.
var ErrCorrupt = errors.New("record: corrupt record")

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(p []byte)  { e.uint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	e.uint(1)
	e.int(t.Unix())
	e.uint(uint64(t.Nanosecond()))
}

func (e *encoder) strings(m map[string]string) {
	e.uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.string(k)
		e.string(m[k])
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) bytes() []byte {
	p := d.raw()
	if len(p) == 0 {
		return nil
	}
	return slices.Clone(p)
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) time() time.Time {
	if d.uint() == 0 {
		return time.Time{}
	}
	sec := d.int()
	nsec := d.uint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) strings() map[string]string {
	n := d.uint()
	if n == 0 || d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

func (d *decoder) kind(want byte) {
	if len(d.b) == 0 || d.b[0] != want {
		d.fail()
		return
	}
	d.b = d.b[1:]
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrCorrupt
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	return nil
}

// EncodeBlob encodes b.
func EncodeBlob(b metadata.Blob) []byte {
	e := encoder{b: make([]byte, 0, 32+len(b.Digest)+len(b.Key))}
	e.b = append(e.b, kindBlob)
	e.string(string(b.Digest))
	e.int(b.Size)
	e.string(b.Key)
	e.time(b.Created)
	e.time(b.Used)
	e.uint(b.Gen)
	e.string(b.Inc)
	return e.b
}

// EncodePendingBlob encodes b as a pending record (see DecodeBlobState).
func EncodePendingBlob(b metadata.Blob) []byte {
	return append(EncodeBlob(b), 1)
}

// DecodeBlobState decodes a record written by EncodeBlob or
// EncodePendingBlob and reports whether it is pending.
func DecodeBlobState(p []byte) (metadata.Blob, bool, error) { return decodeBlob(p) }

// DecodeBlob decodes a record written by EncodeBlob (or
// EncodePendingBlob: the pending flag is dropped).
func DecodeBlob(p []byte) (metadata.Blob, error) {
	b, _, err := decodeBlob(p)
	return b, err
}

func decodeBlob(p []byte) (metadata.Blob, bool, error) {
	d := decoder{b: p}
	d.kind(kindBlob)
	b := metadata.Blob{
		Digest:  digest.Digest(d.string()),
		Size:    d.int(),
		Key:     d.string(),
		Created: d.time(),
	}
	// Records written before Used existed end here, those before Gen and
	// Inc after Used.
	if len(d.b) > 0 && d.err == nil {
		b.Used = d.time()
	}
	if len(d.b) > 0 && d.err == nil {
		b.Gen = d.uint()
		b.Inc = d.string()
	}
	pending := false
	if len(d.b) > 0 && d.err == nil {
		pending = d.uint() == 1
	}
	return b, pending, d.done("blob")
}

// EncodeManifest encodes m.
func EncodeManifest(m metadata.Manifest) []byte {
	e := encoder{b: make([]byte, 0, 128+len(m.Body)+len(m.References)*80)}
	e.b = append(e.b, kindManifest)
	e.string(string(m.Digest))
	e.string(m.MediaType)
	e.bytes(m.Body)
	e.string(string(m.Subject))
	e.string(m.ArtifactType)
	e.strings(m.Annotations)
	e.uint(uint64(len(m.References)))
	for _, r := range m.References {
		e.string(string(r))
	}
	e.time(m.Created)
	return e.b
}

// DecodeManifest decodes a record written by EncodeManifest.
func DecodeManifest(p []byte) (metadata.Manifest, error) {
	d := decoder{b: p}
	d.kind(kindManifest)
	m := metadata.Manifest{
		Digest:       digest.Digest(d.string()),
		MediaType:    d.string(),
		Body:         d.bytes(),
		Subject:      digest.Digest(d.string()),
		ArtifactType: d.string(),
		Annotations:  d.strings(),
	}
	if n := d.uint(); n > 0 && n <= uint64(len(d.b)) {
		m.References = make([]digest.Digest, n)
		for i := range m.References {
			m.References[i] = digest.Digest(d.string())
		}
	} else if n > 0 {
		d.fail()
	}
	m.Created = d.time()
	return m, d.done("manifest")
}

// EncodeDescriptor encodes the referrers fields of desc: media type,
// digest, size, artifact type and annotations.
func EncodeDescriptor(desc v1.Descriptor) []byte {
	e := encoder{b: make([]byte, 0, 128)}
	e.b = append(e.b, kindDescriptor)
	e.string(desc.MediaType)
	e.string(string(desc.Digest))
	e.int(desc.Size)
	e.string(desc.ArtifactType)
	e.strings(desc.Annotations)
	return e.b
}

// DecodeDescriptor decodes a record written by EncodeDescriptor.
func DecodeDescriptor(p []byte) (v1.Descriptor, error) {
	d := decoder{b: p}
	d.kind(kindDescriptor)
	desc := v1.Descriptor{
		MediaType:    d.string(),
		Digest:       digest.Digest(d.string()),
		Size:         d.int(),
		ArtifactType: d.string(),
		Annotations:  d.strings(),
	}
	return desc, d.done("descriptor")
}

// Lease is the write lease of an upload session.
type Lease struct {
	// Token identifies the holder; empty when no one holds the lease.
	Token string
	// Expires is when the lease ends.
	Expires time.Time
}

// EncodeUpload encodes u with its lease.
func EncodeUpload(u metadata.Upload, l Lease) []byte {
	e := encoder{b: make([]byte, 0, 64+len(u.ID)+len(u.Repo)+len(u.State)+len(l.Token))}
	e.b = append(e.b, kindUpload)
	e.string(u.ID)
	e.string(u.Repo)
	e.int(u.Offset)
	e.bytes(u.State)
	e.time(u.Started)
	e.time(u.Updated)
	e.string(l.Token)
	e.time(l.Expires)
	e.uint(u.Epoch)
	return e.b
}

// DecodeUpload decodes a record written by EncodeUpload.
func DecodeUpload(p []byte) (metadata.Upload, Lease, error) {
	d := decoder{b: p}
	d.kind(kindUpload)
	u := metadata.Upload{
		ID:      d.string(),
		Repo:    d.string(),
		Offset:  d.int(),
		State:   d.bytes(),
		Started: d.time(),
		Updated: d.time(),
	}
	l := Lease{Token: d.string(), Expires: d.time()}
	if len(d.b) > 0 && d.err == nil { // records written before Epoch existed end here
		u.Epoch = d.uint()
	}
	return u, l, d.done("upload")
}

// EncodeLease encodes a named lease.
func EncodeLease(l Lease) []byte {
	e := encoder{b: make([]byte, 0, 16+len(l.Token))}
	e.b = append(e.b, kindLease)
	e.string(l.Token)
	e.time(l.Expires)
	return e.b
}

// DecodeLease decodes a record written by EncodeLease.
func DecodeLease(p []byte) (Lease, error) {
	d := decoder{b: p}
	d.kind(kindLease)
	l := Lease{Token: d.string(), Expires: d.time()}
	return l, d.done("lease")
}
