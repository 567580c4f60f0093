package storage

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/json"
	"fmt"
	"hash"
	"slices"

	"github.com/opencontainers/go-digest"
)

// state is what a session keeps in metadata.Upload.State (JSON): the
// saved hash states, and on the generic path the parts written so far.
// The session offset itself is metadata.Upload.Offset.
type state struct {
	// Algs are the algorithms hashed while bytes stream, parallel to Hashes.
	Algs []digest.Algorithm `json:"algs"`
	// Hashes are the hashes' MarshalBinary states after Offset bytes.
	Hashes [][]byte `json:"hashes"`
	// Parts are the part objects of the generic path, in order.
	Parts []part `json:"parts,omitempty"`
	// MPU is the S3 multipart upload ID of the session, once created.
	MPU string `json:"mpu,omitempty"`
	// Seq numbers the next part.
	Seq int `json:"seq,omitempty"`
	// FileEpoch is the epoch (metadata.Upload.Epoch) whose staging file
	// holds the session's bytes on file storage (see fence.go).
	FileEpoch uint64 `json:"fileEpoch,omitempty"`
}

// part is one staged piece: an object of the generic path (Key), an
// Azure block (Key is its ID), or an uploaded S3 part (Num and ETag;
// S3 parts without them are staged objects not yet merged into a part).
type part struct {
	Key  string `json:"key,omitempty"`
	Size int64  `json:"size"`
	Num  int32  `json:"num,omitempty"`
	ETag string `json:"etag,omitempty"`
}

func newHash(alg digest.Algorithm) (hash.Hash, error) {
	switch alg {
	case digest.SHA256:
		return sha256.New(), nil
	case digest.SHA384:
		return sha512.New384(), nil
	case digest.SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrDigestInvalid, alg)
}

// newState returns the state of an empty session hashing algs.
func newState(algs []digest.Algorithm) (*state, error) {
	st := &state{}
	for _, a := range algs {
		if slices.Contains(st.Algs, a) {
			continue
		}
		h, err := newHash(a)
		if err != nil {
			return nil, err
		}
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("storage: save %s state: %w", a, err)
		}
		st.Algs = append(st.Algs, a)
		st.Hashes = append(st.Hashes, b)
	}
	return st, nil
}

func decodeState(b []byte) (*state, error) {
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("storage: decode upload state: %w", err)
	}
	if len(st.Algs) != len(st.Hashes) {
		return nil, fmt.Errorf("storage: decode upload state: %d algorithms, %d hash states", len(st.Algs), len(st.Hashes))
	}
	return st, nil
}

func (st *state) encode() []byte {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err) // plain data; cannot fail
	}
	return b
}

// hashers restores the saved hashes.
func (st *state) hashers() ([]hash.Hash, error) {
	hs := make([]hash.Hash, len(st.Algs))
	for i, a := range st.Algs {
		h, err := newHash(a)
		if err != nil {
			return nil, err
		}
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hashes[i]); err != nil {
			return nil, fmt.Errorf("storage: restore %s state: %w", a, err)
		}
		hs[i] = h
	}
	return hs, nil
}

// with returns a copy of st whose hash states are those of hs.
func (st *state) with(hs []hash.Hash) (*state, error) {
	n := &state{Algs: st.Algs, Parts: slices.Clone(st.Parts), MPU: st.MPU, Seq: st.Seq, FileEpoch: st.FileEpoch}
	for i, h := range hs {
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("storage: save %s state: %w", st.Algs[i], err)
		}
		n.Hashes = append(n.Hashes, b)
	}
	return n, nil
}

// sum returns the digest of the session's bytes with alg, and false when
// the session did not hash alg.
func (st *state) sum(alg digest.Algorithm) (digest.Digest, bool, error) {
	i := slices.Index(st.Algs, alg)
	if i < 0 {
		return "", false, nil
	}
	h, err := newHash(alg)
	if err != nil {
		return "", false, err
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hashes[i]); err != nil {
		return "", false, fmt.Errorf("storage: restore %s state: %w", alg, err)
	}
	return digest.NewDigest(alg, h), true, nil
}
