package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/regkit/regkit/client/oci"
)

// progressMode is the --progress flag: auto (bars when stderr is a
// terminal), always or never.
type progressMode string

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bars shows one bar per blob and a total bar on stderr, with mpb.
type bars struct {
	p     *mpb.Progress
	total *mpb.Bar
	mu    sync.Mutex
	sum   int64
}

// newBars returns the display, or nil when mode and stderr say none.
func newBars(stderr io.Writer, mode progressMode) *bars {
	switch mode {
	case "never":
		return nil
	case "always":
	default:
		if !isTerminal(stderr) {
			return nil
		}
	}
	b := &bars{p: mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(40), mpb.WithAutoRefresh())}
	b.total = b.p.New(0, mpb.BarStyle().Lbound("[").Rbound("]"),
		mpb.BarPriority(1<<30), // always the last line
		mpb.PrependDecorators(decor.Name("total", decor.WCSyncWidthR), decor.Name(" ")),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), " % .1f / % .1f"),
			decor.Name(" "),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
		))
	return b
}

// Blob implements oci.Progress.
func (b *bars) Blob(desc v1.Descriptor) oci.BlobProgress {
	b.mu.Lock()
	b.sum += desc.Size
	b.total.SetTotal(b.sum, false)
	b.mu.Unlock()
	bb := &blobBar{b: b}
	bb.status.Store("")
	bb.bar = b.p.New(desc.Size, mpb.BarStyle().Lbound("[").Rbound("]"),
		mpb.PrependDecorators(decor.Name(shortDigest(desc), decor.WCSyncWidthR), decor.Name(" ")),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), " % .1f / % .1f"),
			decor.Name(" "),
			decor.Any(func(decor.Statistics) string { return bb.status.Load().(string) }, decor.WCSyncSpace),
		))
	return bb
}

// shortDigest is the digest's first 12 hex digits.
func shortDigest(desc v1.Descriptor) string {
	e := desc.Digest.Encoded()
	return e[:min(12, len(e))]
}

type blobBar struct {
	b      *bars
	bar    *mpb.Bar
	mu     sync.Mutex
	last   int64
	status atomic.Value // string
}

func (bb *blobBar) Update(done int64) {
	bb.mu.Lock()
	delta := done - bb.last
	bb.last = done
	bb.mu.Unlock()
	bb.bar.SetCurrent(done)
	if delta > 0 {
		bb.b.total.IncrInt64(delta)
	} else if delta < 0 {
		bb.b.total.SetCurrent(bb.b.total.Current() + delta)
	}
}

func (bb *blobBar) Done(how string, err error) {
	if err != nil {
		bb.status.Store("failed")
		bb.bar.Abort(false)
		return
	}
	bb.status.Store(how)
	bb.Update(bb.bar.Current())
	bb.bar.SetTotal(-1, true)
}

// wait completes the total bar and waits for the display to finish.
func (b *bars) wait(failed bool) {
	if b == nil {
		return
	}
	if failed {
		b.total.Abort(false)
	} else {
		b.total.SetTotal(-1, true)
	}
	b.p.Wait()
}

// pbytes formats a byte count for humans.
func pbytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// single adds one bar of size bytes and returns its update function (nil
// when there is no display).
func (b *bars) single(name string, size int64) func(int64) {
	if b == nil {
		return nil
	}
	bp := b.Blob(v1.Descriptor{Size: size, Digest: digest.Digest("file:" + name)})
	return func(done int64) {
		bp.Update(done)
		if done >= size {
			bp.Done("done", nil)
		}
	}
}
