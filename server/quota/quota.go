// Package quota enforces storage quotas per namespace. A repository's
// namespace is the first component of its name (metadata.Namespace:
// "team" for "team/app/web"); a namespace's usage is the sum of the sizes
// of the blobs linked into its repositories and of their manifest bodies,
// which the metadata store keeps up to date atomically with every link,
// unlink and manifest change (metadata.Usage).
//
// The generic packages of an owner belong to the namespace of the same
// name: the sizes of the owner's package files count in that namespace's
// usage too, each file once however many files share its content (as
// Gitea counts), kept up to date atomically with every file put and
// delete (metadata.Packages). One quota thus covers an owner's container
// images and generic files together; the server checks a generic upload
// with Check(ctx, owner, size).
//
// # Uploads in flight
//
// Bytes are refused before they are stored: every upload reserves, in
// the metadata store, the bytes it will hold once its next chunk is
// written (Reserve), and the reservation is checked and taken in one
// atomic step against the namespace's usage plus everybody else's
// reservations (metadata.Reservations). It is dropped (Release) once the
// bytes count in the usage — after the blob is linked or the package file
// recorded — or the upload gave up. Usage is read just before the atomic
// step, so a commit moving bytes from reserved to used at that moment can
// be missed once: concurrent uploads overshoot a quota by at most one
// chunk each, never more. The same records cap the upload sessions open
// per namespace (WithMaxUploads, Open).
//
// Reservations of holders that died (a crash between a reservation and
// its release) are found when a namespace hits its quota or its cap: the
// checker asks whether each holder is still alive (WithLiveness) and
// releases the dead ones before it refuses.
package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/regkit/regkit/server/metadata"
)

// ErrExceeded means that storing more would take a namespace over its
// quota. Check returns an *ExceededError that matches it with errors.Is.
var ErrExceeded = errors.New("quota exceeded")

// ExceededError reports a namespace that would go over its quota.
type ExceededError struct {
	// Namespace is the namespace whose quota would be exceeded.
	Namespace string
	// Quota is its quota in bytes.
	Quota int64
	// Usage is its usage in bytes before the write.
	Usage int64
	// Additional is the size of the write in bytes.
	Additional int64
}

// Error implements error, for example:
//
//	namespace "team" would use 1.2 GiB of its 1 GiB quota (1 GiB used)
//
// When the rounded sizes would read the same, the exact byte counts are
// added.
func (e *ExceededError) Error() string {
	total, quota := FormatSize(e.Usage+e.Additional), FormatSize(e.Quota)
	if total == quota {
		total = fmt.Sprintf("%s (%d bytes)", total, e.Usage+e.Additional)
		quota = fmt.Sprintf("%s (%d bytes)", quota, e.Quota)
	}
	return fmt.Sprintf("namespace %q would use %s of its %s quota (%s used)",
		e.Namespace, total, quota, FormatSize(e.Usage))
}

// Is reports whether target is ErrExceeded.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Option configures New.
type Option func(*options)

type options struct {
	def        int64
	limits     map[string]int64
	maxUploads int
	alive      func(ctx context.Context, holder string) (bool, error)
}

// WithDefault sets the quota in bytes of every namespace without its own
// (0, the default: unlimited).
func WithDefault(limit int64) Option {
	return func(o *options) { o.def = max(limit, 0) }
}

// WithLimit sets the quota in bytes of namespace ns; 0 makes ns unlimited
// whatever the default.
func WithLimit(ns string, limit int64) Option {
	return func(o *options) { o.limits[ns] = max(limit, 0) }
}

// WithLimits sets the quotas of several namespaces, as WithLimit does.
func WithLimits(limits map[string]int64) Option {
	return func(o *options) {
		for ns, limit := range limits {
			o.limits[ns] = max(limit, 0)
		}
	}
}

// Store is what a Checker needs of the metadata store.
type Store interface {
	metadata.Usage
	metadata.Reservations
}

// Checker checks writes against the namespaces' quotas. It keeps no
// state of its own (usage and reservations live in the metadata store), so
// any number of replicas may check at once. It is safe for concurrent use.
type Checker struct {
	usage Store
	opts  options
}

// New returns a checker that reads usage from the metadata store and
// keeps reservations there.
func New(usage Store, opts ...Option) *Checker {
	o := options{limits: map[string]int64{}}
	for _, opt := range opts {
		opt(&o)
	}
	return &Checker{usage: usage, opts: o}
}

// Limit returns the quota of namespace ns in bytes; 0 means unlimited.
func (c *Checker) Limit(ns string) int64 {
	if limit, ok := c.opts.limits[ns]; ok {
		return limit
	}
	return c.opts.def
}

// Usage returns the usage of namespace ns in bytes.
func (c *Checker) Usage(ctx context.Context, ns string) (int64, error) {
	n, err := c.usage.NamespaceUsage(ctx, ns)
	if err != nil {
		return 0, fmt.Errorf("quota: usage of namespace %q: %w", ns, err)
	}
	return n, nil
}

// Check returns an *ExceededError (matching ErrExceeded) when storing
// additional more bytes in repo would take its namespace over its quota.
// For an unlimited namespace it returns nil without reading the usage. A
// negative additional counts as 0 (it then only refuses a namespace that
// is over its quota already).
func (c *Checker) Check(ctx context.Context, repo string, additional int64) error {
	ns := metadata.Namespace(repo)
	limit := c.Limit(ns)
	if limit == 0 {
		return nil
	}
	additional = max(additional, 0)
	used, err := c.Usage(ctx, ns)
	if err != nil {
		return err
	}
	if additional > limit || used > limit-additional { // no overflow for any additional
		return &ExceededError{Namespace: ns, Quota: limit, Usage: used, Additional: additional}
	}
	return nil
}

// FormatSize renders n bytes with binary units, to one decimal place
// where it matters: "512 B", "1 KiB", "1.5 MiB", "1.2 GiB".
func FormatSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	i := -1
	for (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + units[i:i+1] + "iB"
}
