package storage

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// UploadDigests returns the offset of session id and the digests of its
// bytes for every algorithm the session hashes (see StartUpload), from the
// hash states saved while the bytes streamed in: no byte is read. A
// session of another repository than repo (when repo is not empty) is
// ErrUploadUnknown, like a missing one.
//
// The generic package registry uses it to learn the sha256 (and sha512)
// of a file it received without a digest, before FinishUpload.
func (s *Store) UploadDigests(ctx context.Context, repo, id string) (map[digest.Algorithm]digest.Digest, int64, error) {
	u, err := s.UploadStatus(ctx, repo, id)
	if err != nil {
		return nil, 0, err
	}
	st, err := decodeState(u.State)
	if err != nil {
		return nil, 0, err
	}
	out := make(map[digest.Algorithm]digest.Digest, len(st.Algs))
	for _, alg := range st.Algs {
		d, ok, err := st.sum(alg)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			out[alg] = d
		}
	}
	return out, u.Offset, nil
}
