package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/internal/bytesize"
)

// Scenarios lists the scenarios of a Suite, in the order it runs them.
var Scenarios = []string{"chunked", "monolithic", "finish", "range", "manifest", "blob"}

// Defaults of a Suite beyond the scenario defaults: the final PUT of a
// small and a large upload, and the whole-blob GETs of a 16 MiB blob.
var (
	DefaultChunks      = []int64{8 << 20, 1 << 20}
	DefaultFinishSizes = []int64{1 << 20, 1 << 30}
)

// DefaultBlobSize is the size of the blob the "blob" scenario GETs whole.
const DefaultBlobSize = 16 << 20

// Suite is one run of the benchmark scenarios against a target, as
// "regkit bench" runs them. Zero fields take the defaults.
type Suite struct {
	// Scenarios to run, a subset of Scenarios (default: all of them).
	Scenarios []string
	// Size is the size of chunked and monolithic uploads and of the blob
	// the range reads read from (default DefaultChunkedSize).
	Size int64
	// Chunks are the chunk sizes of chunked uploads, one row each; the
	// first also chunks the uploads of "finish" (default DefaultChunks).
	Chunks []int64
	// FinishSizes are the sizes of the uploads whose final PUT "finish"
	// measures, one row each (default DefaultFinishSizes).
	FinishSizes []int64
	// RangeSize is the length of each range read (default
	// DefaultRangeSize).
	RangeSize int64
	// BlobSize is the size of the blob "blob" GETs whole (default
	// DefaultBlobSize).
	BlobSize int64
	// Load is the load of the concurrent scenarios (range, manifest,
	// blob).
	Load Load
	// Seed makes the uploaded content unique to the run, so that a
	// registry never finds an upload's blob already stored.
	Seed uint64
}

func (s Suite) withDefaults() Suite {
	if len(s.Scenarios) == 0 {
		s.Scenarios = Scenarios
	}
	if s.Size <= 0 {
		s.Size = DefaultChunkedSize
	}
	if len(s.Chunks) == 0 {
		s.Chunks = DefaultChunks
	}
	if len(s.FinishSizes) == 0 {
		s.FinishSizes = DefaultFinishSizes
	}
	if s.RangeSize <= 0 {
		s.RangeSize = DefaultRangeSize
	}
	if s.BlobSize <= 0 {
		s.BlobSize = DefaultBlobSize
	}
	if s.Load.Concurrency <= 0 {
		s.Load.Concurrency = DefaultConcurrency
	}
	return s
}

// Validate reports a suite that cannot run.
func (s Suite) Validate() error {
	s = s.withDefaults()
	for _, sc := range s.Scenarios {
		if !slices.Contains(Scenarios, sc) {
			return fmt.Errorf("unknown scenario %q (want %s)", sc, strings.Join(Scenarios, ", "))
		}
	}
	if slices.Contains(s.Scenarios, "range") && s.Size < s.RangeSize {
		return fmt.Errorf("the range blob (%s) is smaller than a range (%s)", bytesize.Format(s.Size), bytesize.Format(s.RangeSize))
	}
	if s.Load.Requests <= 0 && s.Load.Duration <= 0 {
		return errors.New("the load sets neither Requests nor Duration")
	}
	return nil
}

// Run runs the suite's scenarios against t and hands each row to emit as
// it is measured (a run takes a while). A row's key (scenario and
// parameters) depends only on the suite, never on the target, so runs of
// one suite against several targets compare row by row.
func (s Suite) Run(ctx context.Context, t *Target, emit func(Row)) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s = s.withDefaults()
	c, load := t.Client, s.Load
	clients := fmt.Sprintf("%d clients", load.Concurrency)
	if slices.Contains(s.Scenarios, "chunked") || slices.Contains(s.Scenarios, "monolithic") {
		emit(NewRow(SHA256(min(s.Size, 256<<20)), "one core: the yardstick of uploads"))
	}
	for _, sc := range s.Scenarios {
		var err error
		switch sc {
		case "chunked":
			for i, chunk := range s.Chunks {
				var r Result
				if r, err = ChunkedUpload(ctx, c, "regkit-bench/chunked", s.Size, chunk, s.Seed+10+uint64(i)); err != nil {
					break
				}
				emit(chunkNote(NewRow(r, fmt.Sprintf("%s in %s chunks", bytesize.Format(s.Size), bytesize.Format(chunk))), r, chunk))
			}
		case "monolithic":
			var r Result
			if r, err = MonolithicUpload(ctx, c, "regkit-bench/monolithic", s.Size, s.Seed+1); err == nil {
				emit(NewRow(r, bytesize.Format(s.Size)+" in one POST"))
			}
		case "finish":
			for i, size := range s.FinishSizes {
				var r Result
				if r, err = FinishUpload(ctx, c, "regkit-bench/finish", size, s.Chunks[0], s.Seed+100+uint64(i)); err != nil {
					break
				}
				emit(chunkNote(NewRow(r, "final PUT of "+bytesize.Format(size)), r, s.Chunks[0]))
			}
		case "range":
			var r Result
			if r, err = s.rangeRead(ctx, c, load); err == nil {
				emit(NewRow(r, fmt.Sprintf("%s ranges of %s, %s", bytesize.Format(s.RangeSize), bytesize.Format(s.Size), clients)))
			}
		case "manifest":
			if _, err = PrepareManifest(ctx, c, "regkit-bench/manifest", "latest"); err == nil {
				var r Result
				if r, err = ManifestGet(ctx, c, "regkit-bench/manifest", "latest", load); err == nil {
					emit(NewRow(r, "GET by tag, "+clients))
				}
			}
		case "blob":
			err = s.blobGet(ctx, t, load, clients, emit)
		}
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc, err)
		}
	}
	return nil
}

func (s Suite) rangeRead(ctx context.Context, c *oci.Client, load Load) (Result, error) {
	d, err := PrepareRangeBlob(ctx, c, "regkit-bench/range", s.Size, 7)
	if err != nil {
		return Result{}, err
	}
	return RangeRead(ctx, c, "regkit-bench/range", d, s.Size, s.RangeSize, load)
}

// blobGet runs the whole-blob GETs: streamed by the registry, and, where
// the target has a redirecting endpoint, by 307 to a signed bucket URL.
func (s Suite) blobGet(ctx context.Context, t *Target, load Load, clients string, emit func(Row)) error {
	const repo = "regkit-bench/blob"
	d, err := t.Client.BlobPutChunked(ctx, repo, Data(s.Seed+1000, s.BlobSize), DefaultChunkSize)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("whole %s, %s", bytesize.Format(s.BlobSize), clients)
	r, err := BlobGet(ctx, t.Client, repo, d, s.BlobSize, load)
	if err != nil {
		return err
	}
	emit(NewRow(r, what))
	if t.Redirect == nil {
		return nil
	}
	if r, err = BlobGet(ctx, t.Redirect, repo, d, s.BlobSize, load); err != nil {
		return fmt.Errorf("with redirect: %w", err)
	}
	emit(NewRow(r, what+", 307 to a signed URL"))
	return nil
}

// chunkNote notes on row when the registry made the upload use larger
// chunks than asked (its OCI-Chunk-Min-Length).
func chunkNote(row Row, r Result, asked int64) Row {
	if r.Chunk > asked {
		row.Note = "sent in " + bytesize.Format(r.Chunk) + " chunks: the registry's OCI-Chunk-Min-Length"
	}
	return row
}
