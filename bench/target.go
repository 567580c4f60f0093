package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/regkit/regkit/client/oci"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// Backend selects the storage of an in-process server.
type Backend string

// The in-process backends.
const (
	// BackendFile is file:// storage in a directory with the embedded
	// (bbolt) metadata store beside it, as "regkit serve" runs by default.
	BackendFile Backend = "file"
	// BackendMem is mem:// storage with the in-memory metadata store.
	BackendMem Backend = "mem"
)

// DefaultRedirectTTL is the lifetime of the signed URLs of an in-process
// server's redirecting endpoint.
const DefaultRedirectTTL = 10 * time.Minute

// Target is a registry under test and a client for it.
type Target struct {
	// URL is the registry's base URL.
	URL string
	// Client talks to it.
	Client *oci.Client
	// Redirect, when not nil, is a client of an endpoint of the same
	// registry whose blob GETs answer 307 to a signed bucket URL (an
	// in-process server over a bucket that signs: S3, Azure). It is nil
	// for registries reached by URL and buckets that cannot sign.
	Redirect *oci.Client
	// Name describes the target for reports, e.g. "in-process file+bolt".
	Name  string
	close func() error
}

// Close stops an in-process server and releases its stores; for a
// registry reached by URL it does nothing.
func (t *Target) Close() error {
	if t.close == nil {
		return nil
	}
	return t.close()
}

// Dial returns a target for the registry at url.
func Dial(url string, opts ...oci.Option) *Target {
	return &Target{URL: url, Client: oci.NewClient(url, opts...), Name: url}
}

// Start runs an in-process registry on a loopback port, with its data in
// dir (used by BackendFile only), and returns it as a target.
func Start(ctx context.Context, backend Backend, dir string) (*Target, error) {
	switch backend {
	case BackendFile, "":
		return StartWith(ctx, dir, Options{Name: "in-process file+bolt"})
	case BackendMem:
		return StartWith(ctx, dir, Options{Storage: "mem://", MemMetadata: true, Name: "in-process mem"})
	}
	return nil, fmt.Errorf("unknown backend %q (use %s or %s)", backend, BackendFile, BackendMem)
}

// Options configure an in-process registry (StartWith).
type Options struct {
	// Storage is the blob bucket URL, anything "regkit serve --storage"
	// opens (file://, mem://, s3://, gs://, azblob://); "" is file://
	// storage in the data directory.
	Storage string
	// MemMetadata keeps the metadata in memory instead of the embedded
	// (bbolt) store in the data directory.
	MemMetadata bool
	// RedirectTTL is the lifetime of the signed URLs of the redirecting
	// endpoint (Target.Redirect; default DefaultRedirectTTL).
	RedirectTTL time.Duration
	// Name names the target in reports (default "regkit <scheme>+bolt").
	Name string
}

// StartWith runs an in-process registry as o says on a loopback port,
// with its data (embedded metadata, file storage) in dir. When the bucket
// can sign URLs, a second endpoint over the same stores answers blob GETs
// with redirects (Target.Redirect).
func StartWith(ctx context.Context, dir string, o Options) (*Target, error) {
	bucketURL := o.Storage
	if bucketURL == "" {
		bucketURL = "file://" + filepath.ToSlash(filepath.Join(dir, "blobs"))
	}
	u, err := url.Parse(bucketURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("storage URL %q: want scheme://..., e.g. file:///dir, mem://, s3://bucket", bucketURL)
	}
	name := o.Name
	var meta metadata.Store
	if o.MemMetadata {
		meta = memmeta.New()
		if name == "" {
			name = "regkit " + u.Scheme + "+mem"
		}
	} else {
		if meta, err = boltmeta.Open(filepath.Join(dir, "meta.db")); err != nil {
			return nil, err
		}
		if name == "" {
			name = "regkit " + u.Scheme + "+bolt"
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := storage.Open(ctx, bucketURL, meta, storage.WithLogger(log))
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	ttl := o.RedirectTTL
	if ttl <= 0 {
		ttl = DefaultRedirectTTL
	}
	handlers := []http.Handler{server.New(meta, store, server.WithLogger(log))}
	if canSign(ctx, store, ttl) {
		handlers = append(handlers, server.New(meta, store, server.WithLogger(log), server.WithRedirect(ttl)))
	}
	var (
		urls  []string
		stops []func() error
	)
	stopAll := func() error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop())
		}
		return errors.Join(append(errs, store.Close(), meta.Close())...)
	}
	for _, h := range handlers {
		addr, stop, err := serveOn(h)
		if err != nil {
			_ = stopAll()
			return nil, err
		}
		urls = append(urls, "http://"+addr)
		stops = append(stops, stop)
	}
	t := &Target{URL: urls[0], Client: oci.NewClient(urls[0]), Name: name, close: stopAll}
	if len(urls) > 1 {
		t.Redirect = oci.NewClient(urls[1])
	}
	return t, nil
}

// canSign reports whether the store makes signed URLs (it signs locally:
// no request reaches the bucket).
func canSign(ctx context.Context, s *storage.Store, ttl time.Duration) bool {
	_, err := s.SignedURL(ctx, metadata.Blob{Key: "blobs/probe", Size: 1}, ttl)
	return err == nil
}

// serveOn serves h on a free loopback port until stop is called.
func serveOn(h http.Handler) (addr string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(ln)
		close(done)
	}()
	return ln.Addr().String(), func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-done
		return err
	}, nil
}
