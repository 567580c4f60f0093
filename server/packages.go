package server

import (
	"github.com/regkit/regkit/server/metadata"
)

// genericOptions are the generic registry's settings (server/generic's
// Config).
type genericOptions struct {
	packages    metadata.Packages
	maxFileSize int64 // 0: unlimited
}

// WithPackages sets the package store of the generic registry. Without it
// the server uses the metadata store when it implements
// metadata.Packages (memmeta, boltmeta and redismeta do); with neither,
// the generic and management APIs answer 404.
func WithPackages(p metadata.Packages) Option {
	return func(o *options) { o.generic.packages = p }
}

// WithGenericMaxFileSize sets the largest file the generic registry
// accepts (0, the default: no limit). Larger uploads are refused with 403
// and a message naming the limit, before any byte is stored.
func WithGenericMaxFileSize(n int64) Option {
	return func(o *options) { o.generic.maxFileSize = max(n, 0) }
}
