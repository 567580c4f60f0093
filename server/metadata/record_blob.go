package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata/driver"
)

// blobWire is the compact record of a blob: a global record (table blob
// of shard blob:<digest>, with its use and state) or a link (table link,
// keyed by the digest). The digest is the shard's or the key's.
type blobWire struct {
	Size    int64  `cbor:"1,keyasint,omitempty"`
	Key     string `cbor:"2,keyasint,omitempty"` // "" for DefaultBlobKey
	Created int64  `cbor:"3,keyasint,omitempty"`
	Inc     []byte `cbor:"4,keyasint,omitempty"` // packInc
	Used    int64  `cbor:"5,keyasint,omitempty"`
	Gen     uint64 `cbor:"6,keyasint,omitempty"`
	State   uint8  `cbor:"7,keyasint,omitempty"`
	NoKey   bool   `cbor:"8,keyasint,omitempty"` // Key is "" (not the default)
}

// legacyBlob is the record of a blob in the format before the compact
// one (keys and time encoding frozen: old stores hold it).
type legacyBlob struct {
	Digest  digest.Digest `cbor:"digest"`
	Size    int64         `cbor:"size"`
	Key     string        `cbor:"key"`
	Created time.Time     `cbor:"created"`
	Used    time.Time     `cbor:"used"`
	Gen     uint64        `cbor:"gen"`
	Inc     string        `cbor:"inc"`
	State   uint8         `cbor:"st"`
}

// encodeBlob is the compact record of b (b.Digest is not stored) in
// state st; a link has no use (b.Used, b.Gen zero) and state 0.
func encodeBlob(b Blob, st uint8) []byte {
	w := blobWire{Size: b.Size, Created: packTime(b.Created), Inc: packInc(b.Inc), Used: packTime(b.Used), Gen: b.Gen, State: st}
	if b.Key != DefaultBlobKey(b.Digest) {
		w.Key, w.NoKey = b.Key, b.Key == ""
	}
	return encode(w)
}

// decodeBlob decodes the record of the blob d in either format.
func decodeBlob(v []byte, d digest.Digest) (Blob, uint8, error) {
	if legacy(v) {
		var l legacyBlob
		if err := decode(v, &l); err != nil {
			return Blob{}, 0, err
		}
		if l.Digest == "" {
			l.Digest = d
		}
		return Blob{Digest: l.Digest, Size: l.Size, Key: l.Key, Created: utc(l.Created), Used: utc(l.Used), Gen: l.Gen, Inc: l.Inc}, l.State, nil
	}
	var w blobWire
	if err := decode(v, &w); err != nil {
		return Blob{}, 0, err
	}
	b := Blob{Digest: d, Size: w.Size, Key: w.Key, Created: unpackTime(w.Created), Used: unpackTime(w.Used), Gen: w.Gen, Inc: unpackInc(w.Inc)}
	if b.Key == "" && !w.NoKey {
		b.Key = DefaultBlobKey(d)
	}
	return b, w.State, nil
}

// getBlobRec reads the global record of d in r (a transaction on
// d's shard).
func getBlobRec(r driver.Reader, d digest.Digest) (blobRec, bool, error) {
	v, ok, err := r.Get(tBlob, "")
	if err != nil || !ok {
		return blobRec{}, false, err
	}
	b, st, err := decodeBlob(v, d)
	return blobRec{Blob: b, State: st}, true, err
}

// putBlobRec stores rec, the global record of its digest, in tx.
func putBlobRec(tx driver.Tx, rec blobRec) error {
	return tx.Put(tBlob, "", encodeBlob(rec.Blob, rec.State))
}

// getLink reads the link of d in r (a transaction on a repository's
// shard).
func getLink(r driver.Reader, d digest.Digest) (Blob, bool, error) {
	v, ok, err := r.Get(tLink, string(d))
	if err != nil || !ok {
		return Blob{}, false, err
	}
	b, _, err := decodeBlob(v, d)
	return b, true, err
}

// putLink stores the link l (keyed by its digest) in tx.
func putLink(tx driver.Tx, l Blob) error {
	return tx.Put(tLink, string(l.Digest), encodeBlob(l, stateLive))
}
