package gc

import (
	"context"

	"github.com/regkit/regkit/server/metadata"
)

// SetBeforeDelete installs a hook that runs before each candidate blob is
// deleted, between the mark and the conditional delete.
func (s *Sweeper) SetBeforeDelete(f func(ctx context.Context, b metadata.Blob)) { s.beforeDelete = f }
