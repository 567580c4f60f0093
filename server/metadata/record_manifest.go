package metadata

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// manifestWire is the compact manifest record (table manifest, keyed by
// the digest, which the record holds too: a GET by tag follows the tag
// to the record without reading the key). The fields a GET needs come
// first; manifestHead decodes only those.
type manifestWire struct {
	Digest      []byte            `cbor:"1,keyasint,omitempty"` // packDigest
	Type        uint8             `cbor:"2,keyasint,omitempty"` // packType
	TypeText    string            `cbor:"3,keyasint,omitempty"`
	Body        []byte            `cbor:"4,keyasint,omitempty"`
	Created     int64             `cbor:"5,keyasint,omitempty"`
	Subject     []byte            `cbor:"6,keyasint,omitempty"`
	AType       uint8             `cbor:"7,keyasint,omitempty"`
	ATypeText   string            `cbor:"8,keyasint,omitempty"`
	Annotations map[string]string `cbor:"9,keyasint,omitempty"`
	References  []byte            `cbor:"10,keyasint,omitempty"` // packDigests
}

// manifestHead is what a manifest GET needs of a compact record; the
// decoder skips the other fields.
type manifestHead struct {
	Digest   []byte `cbor:"1,keyasint,omitempty"`
	Type     uint8  `cbor:"2,keyasint,omitempty"`
	TypeText string `cbor:"3,keyasint,omitempty"`
	Body     []byte `cbor:"4,keyasint,omitempty"`
}

// legacyManifest is the manifest record in the format before the compact
// one (keys and time encoding frozen: old stores hold it).
type legacyManifest struct {
	Digest       digest.Digest     `cbor:"digest"`
	MediaType    string            `cbor:"mediaType"`
	Body         []byte            `cbor:"body"`
	Subject      digest.Digest     `cbor:"subject"`
	ArtifactType string            `cbor:"artifactType"`
	Annotations  map[string]string `cbor:"annotations"`
	References   []digest.Digest   `cbor:"references"`
	Created      time.Time         `cbor:"created"`
}

// MarshalCBOR encodes m as its compact record (see record.go).
func (m Manifest) MarshalCBOR() ([]byte, error) {
	w := manifestWire{Digest: packDigest(m.Digest), Body: m.Body, Created: packTime(m.Created), Subject: packDigest(m.Subject),
		Annotations: m.Annotations, References: packDigests(m.References)}
	w.Type, w.TypeText = packType(m.MediaType)
	w.AType, w.ATypeText = packType(m.ArtifactType)
	return encMode.Marshal(w)
}

// UnmarshalCBOR decodes a manifest record of either format.
func (m *Manifest) UnmarshalCBOR(b []byte) error {
	if err := decodeManifest(b, m); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return nil
}

// decodeManifest decodes a manifest record of either format into m.
func decodeManifest(b []byte, m *Manifest) error {
	if legacy(b) {
		var l legacyManifest
		if err := decMode.Unmarshal(b, &l); err != nil {
			return err
		}
		*m = Manifest{Digest: l.Digest, MediaType: l.MediaType, Body: l.Body, Subject: l.Subject, ArtifactType: l.ArtifactType,
			Annotations: l.Annotations, References: l.References, Created: utc(l.Created)}
		return nil
	}
	var w manifestWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return err
	}
	out := Manifest{Body: w.Body, Created: unpackTime(w.Created), Annotations: w.Annotations}
	var err error
	if out.Digest, err = unpackDigest(w.Digest); err != nil {
		return err
	}
	if out.Subject, err = unpackDigest(w.Subject); err != nil {
		return err
	}
	if out.MediaType, err = unpackType(w.Type, w.TypeText); err != nil {
		return err
	}
	if out.ArtifactType, err = unpackType(w.AType, w.ATypeText); err != nil {
		return err
	}
	if out.References, err = unpackDigests(w.References); err != nil {
		return err
	}
	*m = out
	return nil
}

// decodeManifestHead decodes of a manifest record the digest, media type
// and body — what a manifest GET serves; the other fields are zero.
func decodeManifestHead(b []byte) (Manifest, error) {
	if legacy(b) {
		var m Manifest
		return m, decodeManifest(b, &m)
	}
	var h manifestHead
	if err := decMode.Unmarshal(b, &h); err != nil {
		return Manifest{}, err
	}
	d, err := unpackDigest(h.Digest)
	if err != nil {
		return Manifest{}, err
	}
	t, err := unpackType(h.Type, h.TypeText)
	return Manifest{Digest: d, MediaType: t, Body: h.Body}, err
}
