package bench

import (
	"encoding/binary"
	"io"

	"github.com/regkit/regkit/fixtures"
)

// patternSize is the period of Data streams: a little over 1 MiB and odd,
// so that chunk boundaries never line up with it and no two chunks of a
// stream are equal.
const patternSize = 1<<20 + 4093

// Data returns a reader of size deterministic pseudo-random bytes derived
// from seed, without holding them in memory: it cycles through a 1 MiB
// pattern generated from seed (fixtures.Blob), and its first 8 bytes are
// the seed itself. Different seeds give different content (and digests).
func Data(seed uint64, size int64) io.Reader {
	p := fixtures.Blob(seed, patternSize)
	binary.LittleEndian.PutUint64(p, seed)
	return &dataReader{pattern: p, left: size}
}

type dataReader struct {
	pattern []byte
	off     int   // position in pattern
	left    int64 // bytes still to produce
}

func (r *dataReader) Read(b []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n := 0
	for n < len(b) {
		c := copy(b[n:], r.pattern[r.off:])
		n += c
		if r.off += c; r.off == len(r.pattern) {
			// Start again past the seed, so that only the first 8 bytes
			// of the stream hold it.
			r.off = 8
		}
	}
	r.left -= int64(n)
	return n, nil
}
