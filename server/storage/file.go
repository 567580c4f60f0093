package storage

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// The file fast path. A session's bytes live in one staging file,
// <dir>/_uploads/<id> (or <id>.<epoch> after a takeover, see fence.go),
// written at the session offset; committing renames it to the
// content-addressed path. Files carry no .attrs sidecar: fileblob reads
// them with default attributes.

// stagingPath is the staging file of session id written in epoch (see
// metadata.Upload.Epoch).
func (s *Store) stagingPath(id string, epoch uint64) string {
	name := id
	if epoch > 0 {
		name += "." + strconv.FormatUint(epoch, 10)
	}
	return filepath.Join(s.dir, filepath.FromSlash(uploadsPrefix), name)
}

// appendFile writes r into the staging file path at off, feeding hs, and
// returns the number of bytes written.
func (s *Store) appendFile(ctx context.Context, path string, off int64, hs []hash.Hash, r io.Reader) (n int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	switch {
	case fi.Size() < off:
		return 0, fmt.Errorf("%w: staging file has %d bytes, offset %d", ErrUploadBroken, fi.Size(), off)
	case fi.Size() > off:
		// The tail of an earlier write that failed or lost its lease:
		// never part of the session.
		if err := f.Truncate(off); err != nil {
			return 0, err
		}
	}
	n, err = s.copyHashed(ctx, io.NewOffsetWriter(f, off), r, hs)
	if err != nil {
		// The chunk is dropped whole: free its bytes now (a full disk
		// needs them back), not at the next append.
		if terr := f.Truncate(off); terr != nil {
			err = errors.Join(err, terr)
		}
		return n, err
	}
	if s.opts.syncAppends {
		err = f.Sync()
	} else {
		startWriteback(f, off, n)
	}
	return n, err
}

// hashFile feeds the first size bytes of the staging file path to h and
// returns how many there were.
func (s *Store) hashFile(path string, size int64, h hash.Hash) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(h, io.NewSectionReader(f, 0, size))
}

// commitFile moves the staging file src, which must hold size bytes, to
// key: size check, fsync, rename, fsync of the directory.
func (s *Store) commitFile(src string, size int64, key string) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) && size > 0 {
		// An earlier attempt renamed it but failed to record the blob.
		if fi, err := os.Stat(dst); err == nil && fi.Size() == size {
			return nil
		}
		return fmt.Errorf("%w: staging file missing, offset %d", ErrUploadBroken, size)
	}
	f, err := os.OpenFile(src, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		switch {
		case fi.Size() < size:
			err = fmt.Errorf("%w: staging file has %d bytes, offset %d", ErrUploadBroken, fi.Size(), size)
		case fi.Size() > size:
			err = f.Truncate(size)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return place(src, dst)
}

// place renames the synced file src to dst, unless dst exists already
// (same content: content addressing), then syncs dst's directory.
func place(src, dst string) error {
	dir := filepath.Dir(dst)
	if err := mkdirAllSync(dir); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		if err := os.Remove(src); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// mkdirAllSync creates dir and its missing parents, fsyncing the parent
// of every directory it creates so the new entries are durable.
func mkdirAllSync(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeStaging removes the staging files of session id, of every epoch.
func (s *Store) removeStaging(id string) error {
	paths, err := filepath.Glob(s.stagingPath(id, 0) + ".*")
	if err != nil {
		return err
	}
	for _, p := range append(paths, s.stagingPath(id, 0)) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// putFile streams r into a staging file while hashing, verifies it, fsyncs
// and renames it to key.
func (s *Store) putFile(ctx context.Context, r io.Reader, h hash.Hash, check func(n int64) error, key string) (n int64, err error) {
	src := filepath.Join(s.dir, filepath.FromSlash(uploadsPrefix), "put-"+newID())
	dst, err := s.path(key)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(src, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(src)
		}
	}()
	if n, err = s.copyHashed(ctx, f, r, []hash.Hash{h}); err != nil {
		return n, err
	}
	if err = check(n); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	return n, place(src, dst)
}

// fileReader serves a range of a file on file storage: an *os.File
// positioned at the range's start, limited to its length. Its WriteTo
// hands net/http's response writer an *io.LimitedReader over the
// *os.File, which (*net.TCPConn).ReadFrom turns into sendfile(2).
type fileReader struct {
	lr io.LimitedReader
	f  *os.File
}

// Read implements io.Reader.
func (r *fileReader) Read(p []byte) (int, error) { return r.lr.Read(p) }

// WriteTo implements io.WriterTo so that io.Copy(w, r) lets w's ReadFrom
// see the *io.LimitedReader wrapping the *os.File.
func (r *fileReader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, &r.lr)
}

// Close closes the file.
func (r *fileReader) Close() error { return r.f.Close() }
