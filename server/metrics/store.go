package metrics

import (
	"context"
	"errors"
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
// Every other interface of regkit's store (*metadata.DB: Packages,
// Identity, Counter, the batch and version interfaces) stays available
// on the result, unmeasured, because the result embeds it. Another store
// is returned as it is.
func (m *Metrics) Store(meta metadata.Store) metadata.Store {
	db, ok := meta.(*metadata.DB)
	if !ok {
		return meta
	}
	return &store{DB: db, m: m}
}

// store measures the operations of metadata.Store that requests make.
type store struct {
	*metadata.DB
	m *Metrics
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
	rec, live, err := s.DB.ClaimBlob(ctx, b)
	s.obs("ClaimBlob", t, err)
	return rec, live, err
}

func (s *store) PutBlob(ctx context.Context, b metadata.Blob) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.DB.PutBlob(ctx, b)
	s.obs("PutBlob", t, err)
	return rec, err
}

func (s *store) GetBlob(ctx context.Context, d digest.Digest) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.DB.GetBlob(ctx, d)
	s.obs("GetBlob", t, err)
	return rec, err
}

func (s *store) LinkBlob(ctx context.Context, repo string, b metadata.Blob) error {
	t := time.Now()
	err := s.DB.LinkBlob(ctx, repo, b)
	s.obs("LinkBlob", t, err)
	return err
}

func (s *store) RepoBlob(ctx context.Context, repo string, d digest.Digest) (metadata.Blob, error) {
	t := time.Now()
	rec, err := s.DB.RepoBlob(ctx, repo, d)
	s.obs("RepoBlob", t, err)
	return rec, err
}

func (s *store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	t := time.Now()
	err := s.DB.UnlinkBlob(ctx, repo, d)
	s.obs("UnlinkBlob", t, err)
	return err
}

func (s *store) PutManifest(ctx context.Context, repo string, mf metadata.Manifest, tags ...string) error {
	t := time.Now()
	err := s.DB.PutManifest(ctx, repo, mf, tags...)
	s.obs("PutManifest", t, err)
	return err
}

func (s *store) GetManifest(ctx context.Context, repo, ref string) (metadata.Manifest, error) {
	t := time.Now()
	mf, err := s.DB.GetManifest(ctx, repo, ref)
	s.obs("GetManifest", t, err)
	return mf, err
}

// GetManifestHead is measured as GetManifest (the manifest GET's read).
func (s *store) GetManifestHead(ctx context.Context, repo, ref string) (metadata.Manifest, error) {
	t := time.Now()
	mf, err := s.DB.GetManifestHead(ctx, repo, ref)
	s.obs("GetManifest", t, err)
	return mf, err
}

func (s *store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	t := time.Now()
	err := s.DB.DeleteManifest(ctx, repo, d)
	s.obs("DeleteManifest", t, err)
	return err
}

func (s *store) DeleteTag(ctx context.Context, repo, tag string) error {
	t := time.Now()
	err := s.DB.DeleteTag(ctx, repo, tag)
	s.obs("DeleteTag", t, err)
	return err
}

func (s *store) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	t := time.Now()
	tags, more, err := s.DB.Tags(ctx, repo, last, n)
	s.obs("Tags", t, err)
	return tags, more, err
}

func (s *store) Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	t := time.Now()
	ds, err := s.DB.Referrers(ctx, repo, d)
	s.obs("Referrers", t, err)
	return ds, err
}

func (s *store) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	t := time.Now()
	rs, more, err := s.DB.Repositories(ctx, last, n)
	s.obs("Repositories", t, err)
	return rs, more, err
}

func (s *store) CreateUpload(ctx context.Context, u metadata.Upload) error {
	t := time.Now()
	err := s.DB.CreateUpload(ctx, u)
	s.obs("CreateUpload", t, err)
	return err
}

func (s *store) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	t := time.Now()
	u, err := s.DB.GetUpload(ctx, id)
	s.obs("GetUpload", t, err)
	return u, err
}

func (s *store) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	t := time.Now()
	u, err := s.DB.AcquireUpload(ctx, id, offset, token, ttl)
	s.obs("AcquireUpload", t, err)
	return u, err
}

func (s *store) ReleaseUpload(ctx context.Context, u metadata.Upload, token string) error {
	t := time.Now()
	err := s.DB.ReleaseUpload(ctx, u, token)
	s.obs("ReleaseUpload", t, err)
	return err
}

func (s *store) DeleteUpload(ctx context.Context, id string) error {
	t := time.Now()
	err := s.DB.DeleteUpload(ctx, id)
	s.obs("DeleteUpload", t, err)
	return err
}

func (s *store) Now(ctx context.Context) (time.Time, error) {
	t := time.Now()
	now, err := s.DB.Now(ctx)
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
