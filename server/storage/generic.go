package storage

import (
	"context"
	"fmt"
	"hash"
	"io"

	"gocloud.dev/blob"
)

// The generic path, for every bucket that is not file storage. Each
// append writes one part object _uploads/<id>/<seq>-<writer>; the writer
// suffix (a prefix of the lease token) keeps a writer that lost its lease
// from overwriting a part that the winner recorded. Parts are listed in
// the session state; unlisted ones are orphans, deleted with the session.
//
// Cloud-native commit (S3 multipart upload, GCS compose, Azure block
// lists via blob.Bucket.As) comes in a later change.

var octetStream = &blob.WriterOptions{ContentType: "application/octet-stream"}

// appendPart writes r as part seq of session id, feeding hs. An empty body
// writes no part (Size 0, Key "").
func (s *Store) appendPart(ctx context.Context, id string, seq int, token string, hs []hash.Hash, r io.Reader) (part, error) {
	key := fmt.Sprintf("%s%s/%08d-%s", uploadsPrefix, id, seq, token[:8])
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, octetStream)
	if err != nil {
		return part{}, err
	}
	n, err := s.copyHashed(wctx, w, r, hs)
	if err != nil || n == 0 {
		cancel() // cancelling before Close aborts the write
		_ = w.Close()
		return part{}, err
	}
	if err := w.Close(); err != nil {
		return part{}, err
	}
	return part{Key: key, Size: n}, nil
}

// hashParts feeds the parts of st to h in order and returns their total
// length.
func (s *Store) hashParts(ctx context.Context, st *state, h hash.Hash) (int64, error) {
	var total int64
	for _, p := range st.Parts {
		r, err := s.bucket.NewReader(ctx, p.Key, nil)
		if err != nil {
			return total, err
		}
		n, err := io.Copy(h, r)
		_ = r.Close()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// commitParts makes the object key hold the concatenation of st's parts
// (size bytes in all): a server-side Copy of a single part, else a
// streamed concatenation. An object at key is content-addressed, hence
// already right, and kept.
func (s *Store) commitParts(ctx context.Context, st *state, size int64, key string) error {
	if ok, err := s.bucket.Exists(ctx, key); err != nil {
		return err
	} else if ok {
		return nil
	}
	if len(st.Parts) == 1 {
		return s.bucket.Copy(ctx, key, st.Parts[0].Key, nil)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, octetStream)
	if err != nil {
		return err
	}
	var total int64
	for _, p := range st.Parts {
		var r *blob.Reader
		if r, err = s.bucket.NewReader(wctx, p.Key, nil); err != nil {
			break
		}
		var n int64
		n, err = io.Copy(w, r)
		_ = r.Close()
		total += n
		if err == nil && n != p.Size {
			err = fmt.Errorf("%w: part %s has %d bytes, want %d", ErrUploadBroken, p.Key, n, p.Size)
		}
		if err != nil {
			break
		}
	}
	if err == nil && total != size {
		err = fmt.Errorf("%w: parts hold %d bytes, offset %d", ErrUploadBroken, total, size)
	}
	if err != nil {
		cancel()
		_ = w.Close()
		return err
	}
	return w.Close()
}

// deletePrefix deletes every object under prefix.
func (s *Store) deletePrefix(ctx context.Context, prefix string) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	var keys []string
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		keys = append(keys, obj.Key)
	}
	for _, k := range keys {
		if err := s.bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// putGeneric streams r straight into key while hashing. The gocloud
// Writer commits only on Close, and a write whose context is cancelled
// before Close is aborted; so the object appears only after check passes
// (size and digest), and never with wrong bytes. When key exists already
// the body is only hashed (to verify it), not written again.
func (s *Store) putGeneric(ctx context.Context, r io.Reader, h hash.Hash, check func(n int64) error, key string) (int64, error) {
	exists, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return 0, err
	}
	if exists {
		n, err := s.copyHashed(ctx, io.Discard, r, []hash.Hash{h})
		if err != nil {
			return n, err
		}
		return n, check(n)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, octetStream)
	if err != nil {
		return 0, err
	}
	n, err := s.copyHashed(wctx, w, r, []hash.Hash{h})
	if err == nil {
		err = check(n)
	}
	if err != nil {
		cancel()
		_ = w.Close()
		return n, err
	}
	return n, w.Close()
}
