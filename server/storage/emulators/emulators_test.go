package emulators_test

import (
	"strings"
	"testing"

	"github.com/regkit/regkit/server/storage/emulators"
	"github.com/regkit/regkit/server/storage/storagetest"
)

// TestBucketProperties runs storagetest on every emulator through the
// gocloud drivers that regkit links.
func TestBucketProperties(t *testing.T) {
	for _, k := range emulators.Kinds {
		t.Run(string(k), func(t *testing.T) {
			e := emulators.Start(t, k)
			var without []storagetest.Exception
			if k == emulators.Azure {
				// gocloud.dev/blob/azureblob v0.47.0: Writer.Close after the
				// write's context was cancelled dereferences a nil pipe
				// (the upload goroutine clears w.pr). regkit's Azure path
				// stages blocks and never aborts a gocloud Writer.
				without = append(without, storagetest.Exception{Property: "AbortedWrite",
					Reason: "azureblob v0.47.0 Writer.Close panics after a cancelled write; regkit stages Azure blocks instead"})
			}
			storagetest.Run(t, func(t *testing.T) string { return e.NewBucket(t) }, without...)
		})
	}
}

// TestLookupMissing: an emulator that is not installed is an error that
// names the install command (tests fail with it; they never skip).
func TestLookupMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	t.Setenv("GOBIN", dir)
	t.Setenv("GOPATH", dir)
	t.Setenv("REGKIT_TOOLS", dir)
	for _, k := range emulators.Kinds {
		_, err := emulators.Lookup(k)
		if err == nil || !strings.Contains(err.Error(), "make test-deps") {
			t.Errorf("Lookup(%s) with nothing installed: %v, want an error naming `make test-deps`", k, err)
		}
	}
}
