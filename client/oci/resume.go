package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// savedUpload is what a Repository with a StateDir remembers of an upload
// in progress, so that a later process can resume it.
type savedUpload struct {
	Location string `json:"location"`
	ID       string `json:"id"`
	MinChunk int64  `json:"minChunk,omitempty"`
}

// statePath is the file of the upload of desc to r.
func (r *Repository) statePath(desc v1.Descriptor) string {
	sum := sha256.Sum256([]byte(r.Client.Base() + "\n" + r.Name + "\n" + desc.Digest.String()))
	return filepath.Join(r.StateDir, hex.EncodeToString(sum[:])+".json")
}

// resumeSaved returns the saved upload of desc when the registry still
// has it (its offset asked with GET), else nil.
func (r *Repository) resumeSaved(ctx context.Context, desc v1.Descriptor) *Upload {
	if r.StateDir == "" {
		return nil
	}
	b, err := os.ReadFile(r.statePath(desc))
	if err != nil {
		return nil
	}
	var s savedUpload
	if json.Unmarshal(b, &s) != nil || s.Location == "" {
		return nil
	}
	u := &Upload{Repo: r.Name, ID: s.ID, Location: s.Location, MinChunk: s.MinChunk}
	if _, err := r.Client.UploadStatus(ctx, u); err != nil || u.Offset > desc.Size {
		r.forget(desc)
		return nil
	}
	return u
}

// save remembers u (best effort: a failure only loses the resume).
func (r *Repository) save(desc v1.Descriptor, u *Upload) {
	if r.StateDir == "" {
		return
	}
	b, _ := json.Marshal(savedUpload{Location: u.Location, ID: u.ID, MinChunk: u.MinChunk})
	if os.MkdirAll(r.StateDir, 0o700) == nil {
		_ = writeFileAtomic(r.statePath(desc), b)
	}
}

// forget drops the saved upload of desc.
func (r *Repository) forget(desc v1.Descriptor) {
	if r.StateDir != "" {
		_ = os.Remove(r.statePath(desc))
	}
}
