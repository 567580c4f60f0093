package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regkit/regkit/server/metadata"
)

// Store returns meta with the latency and errors of its blob, manifest,
// upload and clock operations recorded (metadata_operation_duration_seconds
// and metadata_operation_errors_total, label op = the method's name).
// metadata.ErrNotFound and metadata.ErrExists are answers, not errors.
// The optional interfaces of regkit's stores stay available on the
// result, unmeasured: metadata.Packages, metadata.Identity and
// metadata.Counter (when meta has it). A store lacking Packages or
// Identity is returned as it is.
func (m *Metrics) Store(meta metadata.Store) metadata.Store {
	p, ok1 := meta.(metadata.Packages)
	id, ok2 := meta.(metadata.Identity)
	if !ok1 || !ok2 {
		return meta
	}
	fs := &fullStore{store: &store{Store: meta, m: m}, Packages: p, Identity: id}
	if c, ok := meta.(metadata.Counter); ok {
		return &counterStore{fullStore: fs, Counter: c}
	}
	return fs
}

// counterStore is a fullStore that keeps metadata.Counter too.
type counterStore struct {
	*fullStore
	metadata.Counter
}

// store measures the operations of metadata.Store that requests make.
type store struct {
	metadata.Store
	m *Metrics
}

// fullStore is a store that keeps the optional interfaces.
type fullStore struct {
	*store
	metadata.Packages
	metadata.Identity
}

// Close resolves the ambiguity between the embedded interfaces.
func (s *fullStore) Close() error { return s.store.Store.Close() }

// AddPackageDownloads implements metadata.DownloadCounter when the
// wrapped package store does, and adds the counts one by one otherwise.
func (s *fullStore) AddPackageDownloads(ctx context.Context, counts map[metadata.PackageRef]int64) error {
	if dc, ok := s.Packages.(metadata.DownloadCounter); ok {
		return dc.AddPackageDownloads(ctx, counts)
	}
	for ref, n := range counts {
		for range n {
			if err := s.Packages.CountPackageDownload(ctx, ref); err != nil {
				if errors.Is(err, metadata.ErrNotFound) {
					break
				}
				return err
			}
		}
	}
	return nil
}

// IdentityVersion implements metadata.IdentityVersioner when the wrapped
// identity store does; otherwise it returns errors.ErrUnsupported.
func (s *fullStore) IdentityVersion(ctx context.Context) (int64, error) {
	if v, ok := s.Identity.(metadata.IdentityVersioner); ok {
		return v.IdentityVersion(ctx)
	}
	return 0, fmt.Errorf("metrics: identity version: %w", errors.ErrUnsupported)
}

// obs records one operation that started at start and ended with err.
func (s *store) obs(op string, start time.Time, err error) {
	s.m.metaOps.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, metadata.ErrNotFound) && !errors.Is(err, metadata.ErrExists) {
		s.m.metaErrors.WithLabelValues(op).Inc()
	}
}

func (s *store) ClaimBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, bool, error) {
	t := time.Now()
	rec, live, err := s.Store.ClaimBlob(ctx, b)
	s.obs("ClaimBlob", t, err)
	return rec, live, err
}

func (s *store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.Store.PutBlob(ctx, b)
	s.obs("PutBlob", t, err)
	return rec, err
}

func (s *store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.Store.GetBlob(ctx, d)
	s.obs("GetBlob", t, err)
	return rec, err
}

func (s *store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	t := time.Now()
	err := s.Store.LinkBlob(ctx, repo, b)
	s.obs("LinkBlob", t, err)
	return err
}

func (s *store) RepoBlob(ctx context.Context, repo string, d digest.Digest) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.Store.RepoBlob(ctx, repo, d)
	s.obs("RepoBlob", t, err)
	return rec, err
}

func (s *store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	t := time.Now()
	err := s.Store.UnlinkBlob(ctx, repo, d)
	s.obs("UnlinkBlob", t, err)
	return err
}

func (s *store) PutManifest(ctx context.Context, repo string, mf metadata.Manifest, tags ...string) error {
	t := time.Now()
	err := s.Store.PutManifest(ctx, repo, mf, tags...)
	s.obs("PutManifest", t, err)
	return err
}

func (s *store) GetManifest(ctx context.Context, repo, ref string) (metadata.Manifest, error) {
	t := time.Now()
	mf, err := s.Store.GetManifest(ctx, repo, ref)
	s.obs("GetManifest", t, err)
	return mf, err
}

func (s *store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	t := time.Now()
	err := s.Store.DeleteManifest(ctx, repo, d)
	s.obs("DeleteManifest", t, err)
	return err
}

func (s *store) DeleteTag(ctx context.Context, repo, tag string) error {
	t := time.Now()
	err := s.Store.DeleteTag(ctx, repo, tag)
	s.obs("DeleteTag", t, err)
	return err
}

func (s *store) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	t := time.Now()
	tags, more, err := s.Store.Tags(ctx, repo, last, n)
	s.obs("Tags", t, err)
	return tags, more, err
}

func (s *store) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	t := time.Now()
	ds, err := s.Store.Referrers(ctx, repo, d)
	s.obs("Referrers", t, err)
	return ds, err
}

func (s *store) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	t := time.Now()
	rs, more, err := s.Store.Repositories(ctx, last, n)
	s.obs("Repositories", t, err)
	return rs, more, err
}

func (s *store) CreateUpload(ctx context.Context, u metadata.Upload) error {
	t := time.Now()
	err := s.Store.CreateUpload(ctx, u)
	s.obs("CreateUpload", t, err)
	return err
}

func (s *store) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	t := time.Now()
	u, err := s.Store.GetUpload(ctx, id)
	s.obs("GetUpload", t, err)
	return u, err
}

func (s *store) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	t := time.Now()
	u, err := s.Store.AcquireUpload(ctx, id, offset, token, ttl)
	s.obs("AcquireUpload", t, err)
	return u, err
}

func (s *store) ReleaseUpload(ctx context.Context, u metadata.Upload, token string) error {
	t := time.Now()
	err := s.Store.ReleaseUpload(ctx, u, token)
	s.obs("ReleaseUpload", t, err)
	return err
}

func (s *store) DeleteUpload(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteUpload(ctx, id)
	s.obs("DeleteUpload", t, err)
	return err
}

func (s *store) Now(ctx context.Context) (time.Time, error) {
	t := time.Now()
	now, err := s.Store.Now(ctx)
	s.obs("Now", t, err)
	return now, err
}

// maxCountedUploads caps the open-sessions count of one scrape.
const maxCountedUploads = 10000

// WatchUploads registers upload_sessions_open: the OCI upload sessions
// in meta (all replicas'), counted at each scrape (at most 10,000; the
// count is -1 when the store does not answer within 2 s).
func (m *Metrics) WatchUploads(meta metadata.Uploads) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "upload_sessions_open",
		Help: "Open OCI upload sessions in the metadata store, all replicas (counted at scrape, capped at 10000; -1: store unreachable)."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			us, err := meta.ExpiredUploads(ctx, time.Now().Add(100*365*24*time.Hour), maxCountedUploads)
			if err != nil {
				return -1
			}
			return float64(len(us))
		}))
}

// ManifestReferencesMany implements metadata.BatchGC: the wrapped store's
// when it has one, else ManifestReferences repository by repository.
func (s *store) ManifestReferencesMany(ctx context.Context, repos []string, keep func(digest.Digest)) error {
	if b, ok := s.Store.(metadata.BatchGC); ok {
		return b.ManifestReferencesMany(ctx, repos, keep)
	}
	for _, repo := range repos {
		for cursor := ""; ; {
			refs, next, err := s.Store.ManifestReferences(ctx, repo, cursor, 0)
			if err != nil {
				return fmt.Errorf("manifests of %s: %w", repo, err)
			}
			for _, d := range refs {
				keep(d)
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return nil
}
