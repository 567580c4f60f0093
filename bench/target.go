package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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

// Target is a registry under test and a client for it.
type Target struct {
	// URL is the registry's base URL.
	URL string
	// Client talks to it.
	Client *oci.Client
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
	var (
		meta      metadata.Store
		bucketURL string
		err       error
	)
	switch backend {
	case BackendFile, "":
		backend = BackendFile
		if meta, err = boltmeta.Open(filepath.Join(dir, "meta.db")); err != nil {
			return nil, err
		}
		bucketURL = "file://" + filepath.ToSlash(filepath.Join(dir, "blobs"))
	case BackendMem:
		meta = memmeta.New()
		bucketURL = "mem://"
	default:
		return nil, fmt.Errorf("unknown backend %q (use %s or %s)", backend, BackendFile, BackendMem)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := storage.Open(ctx, bucketURL, meta, storage.WithLogger(log))
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = store.Close()
		_ = meta.Close()
		return nil, err
	}
	srv := &http.Server{
		Handler:           server.New(meta, store, server.WithLogger(log)),
		ReadHeaderTimeout: 30 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(ln)
		close(done)
	}()
	url := "http://" + ln.Addr().String()
	name := "in-process " + string(backend)
	if backend == BackendFile {
		name += "+bolt"
	}
	return &Target{
		URL:    url,
		Client: oci.NewClient(url),
		Name:   name,
		close: func() error {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := srv.Shutdown(sctx)
			<-done
			return errors.Join(err, store.Close(), meta.Close())
		},
	}, nil
}
