package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/fixtures"
)

// Defaults of the scenarios, as the performance targets (the README's
// "Benchmarks" section) use them: 256 MiB in 8 MiB chunks, 64 KiB ranges.
const (
	DefaultChunkedSize    = 256 << 20
	DefaultChunkSize      = 8 << 20
	DefaultMonolithicSize = 64 << 20
	DefaultRangeBlobSize  = 256 << 20
	DefaultRangeSize      = 64 << 10
	DefaultConcurrency    = 8
)

// Load says how much work a concurrent scenario does: Concurrency
// workers send requests until Requests were sent or Duration passed,
// whichever comes first (at least one of them must be set).
type Load struct {
	// Concurrency is the number of concurrent clients (default 8).
	Concurrency int
	// Requests stops the run after this many requests (0: no limit).
	Requests int
	// Duration stops the run after this long (0: no limit).
	Duration time.Duration
}

// ChunkedUpload uploads size bytes of Data(seed) to repo in chunks of
// chunk bytes (POST, PATCHes, PUT) and measures the whole upload. The
// digest is computed beforehand, untimed, so that the client's CPU goes to
// sending (on a 2-core machine the client and the server share the CPU).
// Latencies are those of the PATCHes.
func ChunkedUpload(ctx context.Context, c *oci.Client, repo string, size, chunk int64, seed uint64) (Result, error) {
	h := sha256.New()
	if _, err := io.Copy(h, Data(seed, size)); err != nil {
		return Result{}, err
	}
	want := digest.NewDigest(digest.SHA256, h)
	start := time.Now()
	u, d, lat, err := uploadChunks(ctx, c, repo, size, chunk, seed, want)
	if err != nil {
		return Result{}, err
	}
	if err := c.UploadFinish(ctx, u, d); err != nil {
		return Result{}, fmt.Errorf("finish: %w", err)
	}
	slices.Sort(lat)
	return Result{Scenario: "chunked", Ops: len(lat), Bytes: size, Elapsed: time.Since(start), Latencies: lat, Digest: d,
		Chunk: effectiveChunk(chunk, u)}, nil
}

// FinishUpload uploads size bytes in chunks (untimed) and measures only
// the closing PUT, whose cost must not depend on size.
func FinishUpload(ctx context.Context, c *oci.Client, repo string, size, chunk int64, seed uint64) (Result, error) {
	u, d, _, err := uploadChunks(ctx, c, repo, size, chunk, seed, "")
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := c.UploadFinish(ctx, u, d); err != nil {
		return Result{}, fmt.Errorf("finish: %w", err)
	}
	el := time.Since(start)
	return Result{Scenario: "finish", Ops: 1, Bytes: size, Elapsed: el, Latencies: []time.Duration{el}, Digest: d,
		Chunk: effectiveChunk(chunk, u)}, nil
}

// effectiveChunk is the chunk size uploadChunks sends in session u when
// asked for chunk.
func effectiveChunk(chunk int64, u *oci.Upload) int64 {
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	return max(chunk, u.MinChunk)
}

// uploadChunks opens a session and PATCHes Data(seed, size) into it. The
// next chunk is generated (and, when known is empty, the current one
// hashed) while a PATCH is in flight, so that the client's own work stays
// off the critical path of the server it measures. It returns the
// session, the digest and the PATCH latencies.
func uploadChunks(ctx context.Context, c *oci.Client, repo string, size, chunk int64, seed uint64, known digest.Digest) (*oci.Upload, digest.Digest, []time.Duration, error) {
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	u, err := c.UploadStart(ctx, repo, nil)
	if err != nil {
		return nil, "", nil, fmt.Errorf("start upload: %w", err)
	}
	chunk = max(chunk, u.MinChunk)
	src := Data(seed, size)
	bufSize := min(chunk, max(size, 1))
	bufs := [2][]byte{make([]byte, bufSize), make([]byte, bufSize)}
	// fill reads the chunk at off into bufs[i].
	fill := func(i int, off int64) ([]byte, error) {
		b := bufs[i][:min(bufSize, size-off)]
		_, err := io.ReadFull(src, b)
		return b, err
	}
	h := sha256.New()
	lat := make([]time.Duration, 0, size/chunk+1)
	b, err := fill(0, 0)
	if err != nil {
		return nil, "", nil, err
	}
	for i, off := 0, int64(0); off < size; i = 1 - i {
		n := int64(len(b))
		var (
			nb      []byte
			nerr    error
			prepped = make(chan struct{})
		)
		go func() {
			defer close(prepped)
			if known == "" {
				h.Write(b)
			}
			if off+n < size {
				nb, nerr = fill(1-i, off+n)
			}
		}()
		t0 := time.Now()
		err := c.UploadChunk(ctx, u, bytes.NewReader(b), n)
		lat = append(lat, time.Since(t0))
		<-prepped
		if err == nil {
			err = nerr
		}
		if err != nil {
			_ = c.UploadCancel(context.WithoutCancel(ctx), u)
			return nil, "", nil, fmt.Errorf("chunk at %d: %w", off, err)
		}
		off += n
		b = nb
	}
	if known != "" {
		return u, known, lat, nil
	}
	return u, digest.NewDigest(digest.SHA256, h), lat, nil
}

// MonolithicUpload uploads size bytes of Data(seed) to repo in one POST
// ?digest= request, streaming them. The digest is computed beforehand,
// untimed.
func MonolithicUpload(ctx context.Context, c *oci.Client, repo string, size int64, seed uint64) (Result, error) {
	h := sha256.New()
	if _, err := io.Copy(h, Data(seed, size)); err != nil {
		return Result{}, err
	}
	d := digest.NewDigest(digest.SHA256, h)
	start := time.Now()
	if err := c.BlobPut(ctx, repo, d, Data(seed, size), size); err != nil {
		return Result{}, err
	}
	el := time.Since(start)
	return Result{Scenario: "monolithic", Ops: 1, Bytes: size, Elapsed: el, Latencies: []time.Duration{el}, Digest: d}, nil
}

// PrepareRangeBlob uploads the blob RangeRead reads (size bytes of
// Data(seed), chunked) and returns its digest.
func PrepareRangeBlob(ctx context.Context, c *oci.Client, repo string, size int64, seed uint64) (digest.Digest, error) {
	return c.BlobPutChunked(ctx, repo, Data(seed, size), DefaultChunkSize)
}

// RangeRead reads random ranges of rangeSize bytes of blob d (of blobSize
// bytes) in repo, concurrently as load says, and checks each answer's
// length.
func RangeRead(ctx context.Context, c *oci.Client, repo string, d digest.Digest, blobSize, rangeSize int64, load Load) (Result, error) {
	if rangeSize <= 0 || rangeSize > blobSize {
		return Result{}, fmt.Errorf("range size %d does not fit a blob of %d bytes", rangeSize, blobSize)
	}
	r, err := runLoad(ctx, load, func(ctx context.Context, rng *rand.Rand) (int64, error) {
		off := rng.Int64N(blobSize - rangeSize + 1)
		rc, _, err := c.BlobGetRange(ctx, repo, d, off, rangeSize)
		if err != nil {
			return 0, err
		}
		n, err := drain(rc)
		rc.Close()
		if err == nil && n != rangeSize {
			err = fmt.Errorf("range at %d: got %d bytes, want %d", off, n, rangeSize)
		}
		return n, err
	})
	r.Scenario = "range"
	return r, err
}

// PrepareManifest pushes a small image (one 1 KiB layer) to repo under tag
// and returns the manifest's digest.
func PrepareManifest(ctx context.Context, c *oci.Client, repo, tag string) (digest.Digest, error) {
	img := fixtures.Image(fixtures.ImageOptions{Seed: 42})
	for _, b := range img.Blobs() {
		if err := c.BlobPut(ctx, repo, b.Digest(), bytes.NewReader(b.Data), int64(len(b.Data))); err != nil {
			return "", err
		}
	}
	return c.ManifestPut(ctx, repo, tag, img.MediaType(), img.Data)
}

// ManifestGet fetches manifest tag of repo, concurrently as load says.
func ManifestGet(ctx context.Context, c *oci.Client, repo, tag string, load Load) (Result, error) {
	r, err := runLoad(ctx, load, func(ctx context.Context, _ *rand.Rand) (int64, error) {
		body, _, _, err := c.ManifestGet(ctx, repo, tag)
		return int64(len(body)), err
	})
	r.Scenario = "manifest"
	return r, err
}

// BlobGet fetches blob d of repo (size bytes) whole, concurrently as load
// says, and reads each answer to the end through the client's digest
// check, as a puller does. With a client of a redirecting endpoint
// (Target.Redirect) each GET is a 307 and a GET of the signed bucket URL.
func BlobGet(ctx context.Context, c *oci.Client, repo string, d digest.Digest, size int64, load Load) (Result, error) {
	r, err := runLoad(ctx, load, func(ctx context.Context, _ *rand.Rand) (int64, error) {
		rc, _, err := c.BlobGet(ctx, repo, d)
		if err != nil {
			return 0, err
		}
		n, err := drain(rc)
		rc.Close()
		if err == nil && n != size {
			err = fmt.Errorf("blob GET: got %d bytes, want %d", n, size)
		}
		return n, err
	})
	r.Scenario = "blob"
	return r, err
}

// readBuffers holds the buffers drain reads responses into.
var readBuffers = sync.Pool{New: func() any { return new([256 << 10]byte) }}

// drain reads r to the end and returns how many bytes it read. It reads
// into a 256 KiB buffer: io.Copy to io.Discard reads 8 KiB at a time,
// which costs a 64 KiB range read eight read calls on the client's side
// of the machine both processes share.
func drain(r io.Reader) (int64, error) {
	buf := readBuffers.Get().(*[256 << 10]byte)
	defer readBuffers.Put(buf)
	var n int64
	for {
		k, err := r.Read(buf[:])
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// SHA256 hashes size bytes on one goroutine and measures it: the
// machine's single-core sha256 speed, which bounds what a registry that
// hashes uploads can reach.
func SHA256(size int64) Result {
	buf := fixtures.Blob(1, 8<<20)
	h := sha256.New()
	start := time.Now()
	for left := size; left > 0; left -= int64(len(buf)) {
		h.Write(buf[:min(int64(len(buf)), left)])
	}
	_ = h.Sum(nil)
	return Result{Scenario: "sha256", Ops: 1, Bytes: size, Elapsed: time.Since(start)}
}

// runLoad runs op on load.Concurrency workers until the load is done or
// an op fails, and collects the latencies.
func runLoad(ctx context.Context, load Load, op func(context.Context, *rand.Rand) (int64, error)) (Result, error) {
	if load.Requests <= 0 && load.Duration <= 0 {
		return Result{}, errors.New("the load sets neither Requests nor Duration")
	}
	workers := load.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var deadline time.Time
	start := time.Now()
	if load.Duration > 0 {
		deadline = start.Add(load.Duration)
	}
	var (
		issued   atomic.Int64
		bytes    atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, 0x5eed))
			mine := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				if load.Requests > 0 && issued.Add(1) > int64(load.Requests) {
					break
				}
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					break
				}
				t0 := time.Now()
				n, err := op(ctx, rng)
				if err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				mine = append(mine, time.Since(t0))
				bytes.Add(n)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	slices.Sort(lats)
	return Result{Ops: len(lats), Bytes: bytes.Load(), Elapsed: el, Latencies: lats}, nil
}
