package oci

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/oci"
)

// feature names an optional registry feature.
type feature string

const (
	featReferrers feature = "referrers API"
	featDelete    feature = "deletion"
	featAutoMount feature = "mount without from"
	featSHA512    feature = "sha512 digests"
	featCatalog   feature = "catalog"
	// featBlobCheck is refusing image manifests whose blobs are missing.
	featBlobCheck feature = "refusal of manifests whose blobs are missing"
)

// detection is the memoised outcome of probing one feature.
type detection struct {
	once      sync.Once
	supported bool
	reason    string
}

// env is the state of one registered suite; every spec closes over it.
type env struct {
	cfg    *conformance.Config
	client *conformance.Client
	rec    *conformance.Recorder
	base   string
	// repo is this run's repository; other repositories are repo + "/..."
	repo string
	// seed is the base of every fixture seed of this run.
	seed    uint64
	counter atomic.Uint64

	authOnce sync.Once
	authErr  error

	mu       sync.Mutex
	features map[feature]*detection
	setupErr error
}

func newEnv(cfg *conformance.Config) *env {
	var b [8]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:4])
	seed := cfg.Seed
	if seed == 0 {
		seed = binary.LittleEndian.Uint64(b[:]) >> 24
	}
	ns := strings.Trim(cfg.Namespace, "/")
	repo := "conformance-" + run
	if ns != "" {
		repo = ns + "/" + repo
	}
	rec := conformance.NewRecorder(60)
	e := &env{
		cfg:      cfg,
		rec:      rec,
		base:     strings.TrimRight(cfg.URL, "/"),
		repo:     repo,
		seed:     seed,
		features: map[feature]*detection{},
	}
	e.client, e.setupErr = conformance.NewClient(cfg, rec)
	return e
}

// nextSeed returns a fixture seed unique within this run.
func (e *env) nextSeed() uint64 { return e.seed*4096 + e.counter.Add(1) }

// blob returns fresh random bytes of size n.
func (e *env) blob(n int) fixtures.Content {
	return fixtures.NewContent("application/octet-stream", fixtures.Blob(e.nextSeed()*1000+999, n), false)
}

// sub returns a repository under this run's repository.
func (e *env) sub(name string) string { return e.repo + "/" + name }

// req returns a request for route on this run's repository.
func (e *env) req(route oci.RouteID, method string) oci.Request {
	return oci.Request{Route: route, Method: method, Name: e.repo}
}

// scopes returns the token scopes r needs.
func scopes(r oci.Request) []string {
	if r.Route == oci.RouteCatalog {
		return []string{"registry:catalog:*"}
	}
	if r.Name == "" {
		return nil
	}
	actions := "pull,push"
	if r.Method == http.MethodDelete {
		actions = "pull,push,delete"
	}
	s := []string{"repository:" + r.Name + ":" + actions}
	if r.From != "" {
		s = append(s, "repository:"+r.From+":pull")
	}
	return s
}

// send sends r with body and extra headers; a transport error fails the spec.
func (e *env) send(ctx context.Context, r oci.Request, body []byte, hdr ...string) *conformance.Response {
	GinkgoHelper()
	resp, err := e.try(ctx, r, body, hdr...)
	Expect(err).NotTo(HaveOccurred(), "%s %s", r.Method, r.Path())
	return resp
}

// try is send returning the transport error.
func (e *env) try(ctx context.Context, r oci.Request, body []byte, hdr ...string) (*conformance.Response, error) {
	return e.client.Do(ctx, conformance.Request{
		Method: r.Method,
		URL:    r.URL(e.base),
		Header: headers(hdr...),
		Body:   body,
		Scopes: scopes(r),
	})
}

// sendTo sends a request to a URL the registry handed out (an upload
// Location), for the repository name.
func (e *env) sendTo(ctx context.Context, method string, u *url.URL, name string, body []byte, hdr ...string) *conformance.Response {
	GinkgoHelper()
	resp, err := e.client.Do(ctx, conformance.Request{
		Method: method,
		URL:    u.String(),
		Header: headers(hdr...),
		Body:   body,
		Scopes: scopes(oci.Request{Name: name, Method: method}),
	})
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, u)
	return resp
}

func headers(kv ...string) http.Header {
	if len(kv) == 0 {
		return nil
	}
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// withQuery returns u with key=value added to its query, keeping the
// parameters the registry put there.
func withQuery(u *url.URL, kv ...string) *url.URL {
	c := *u
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return &c
}

// manifestAccept is the Accept header of every manifest GET and HEAD.
const manifestAccept = oci.MediaTypeImageManifest + ", " + oci.MediaTypeImageIndex + ", " +
	oci.MediaTypeDockerManifest + ", " + oci.MediaTypeDockerManifestList

// checkAuth verifies the credentials once: the base endpoint must answer 200
// (after any challenge), and the run's repository must accept an upload.
func (e *env) checkAuth(ctx context.Context) error {
	e.authOnce.Do(func() {
		if e.setupErr != nil {
			e.authErr = e.setupErr
			return
		}
		r := oci.Request{Route: oci.RouteBase, Method: http.MethodGet}
		resp, err := e.client.Do(ctx, conformance.Request{Method: http.MethodGet, URL: r.URL(e.base), Scopes: []string{"repository:" + e.repo + ":pull,push"}})
		switch {
		case err != nil:
			e.authErr = fmt.Errorf("GET /v2/: %w", err)
			return
		case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
			e.authErr = fmt.Errorf("GET /v2/ answered %d with the configured credentials (user %q): %s", resp.Status, e.cfg.Username, resp)
			return
		case resp.Status != http.StatusOK:
			e.authErr = fmt.Errorf("GET /v2/ answered %s, want 200", resp)
			return
		}
		up := e.req(oci.RouteUploadStart, http.MethodPost)
		resp, err = e.try(ctx, up, nil)
		switch {
		case err != nil:
			e.authErr = fmt.Errorf("POST %s: %w", up.Path(), err)
		case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
			e.authErr = fmt.Errorf("pushing to %s is not allowed with the configured credentials: %s", e.repo, resp)
		case resp.Status != http.StatusAccepted:
			e.authErr = fmt.Errorf("POST %s answered %s, want 202", up.Path(), resp)
		default:
			if loc, err := resp.Location(); err == nil {
				_, _ = e.client.Do(ctx, conformance.Request{Method: http.MethodDelete, URL: loc.String(), Scopes: scopes(up)})
			}
		}
	})
	return e.authErr
}

// need skips the current spec (or, in a BeforeAll, its ordered container)
// when the credentials failed or a feature is missing.
func (e *env) need(ctx context.Context, feats ...feature) {
	GinkgoHelper()
	if err := e.checkAuth(ctx); err != nil {
		Skip("cannot authenticate: " + err.Error())
	}
	for _, f := range feats {
		if ok, why := e.has(ctx, f); !ok {
			Skip(conformance.UnsupportedPrefix + " " + string(f) + ": " + why)
		}
	}
}

// setting returns the configured setting of f.
func (e *env) setting(f feature) conformance.Feature {
	var s conformance.Feature
	switch f {
	case featReferrers:
		s = e.cfg.Referrers
	case featDelete:
		s = e.cfg.Delete
	case featAutoMount:
		s = e.cfg.AutoMount
	case featSHA512:
		s = e.cfg.SHA512
	case featCatalog:
		s = e.cfg.Catalog
	case featBlobCheck:
		s = e.cfg.MissingBlobCheck
	}
	if s == "" {
		s = conformance.FeatureAuto
	}
	return s
}

// has reports whether the registry offers f, detecting it once when the
// setting is auto.
func (e *env) has(ctx context.Context, f feature) (bool, string) {
	switch e.setting(f) {
	case conformance.FeatureOn:
		return true, ""
	case conformance.FeatureOff:
		return false, "disabled by configuration"
	}
	e.mu.Lock()
	d := e.features[f]
	if d == nil {
		d = &detection{}
		e.features[f] = d
	}
	e.mu.Unlock()
	d.once.Do(func() {
		d.supported, d.reason = e.detect(ctx, f)
	})
	return d.supported, d.reason
}

// detect probes the registry for f. Probes send requests outside of any
// spec's assertions; their exchanges are recorded like any other.
func (e *env) detect(ctx context.Context, f feature) (bool, string) {
	unknown := digest.FromString(fmt.Sprintf("regkit conformance probe %d", e.nextSeed()))
	switch f {
	case featReferrers:
		r := e.req(oci.RouteReferrers, http.MethodGet)
		r.Digest = unknown
		resp, err := e.try(ctx, r, nil)
		if err != nil {
			return false, err.Error()
		}
		if resp.Status != http.StatusOK {
			return false, fmt.Sprintf("GET %s answered %d", r.Path(), resp.Status)
		}
		return true, ""
	case featDelete:
		r := e.req(oci.RouteManifestDelete, http.MethodDelete)
		r.Digest = unknown
		resp, err := e.try(ctx, r, nil)
		if err != nil {
			return false, err.Error()
		}
		if resp.Status == http.StatusMethodNotAllowed || hasCode(resp, oci.CodeUnsupported) {
			return false, fmt.Sprintf("DELETE %s answered %d", r.Path(), resp.Status)
		}
		return true, ""
	case featCatalog:
		r := oci.Request{Route: oci.RouteCatalog, Method: http.MethodGet, N: new(1)}
		resp, err := e.try(ctx, r, nil)
		if err != nil {
			return false, err.Error()
		}
		if resp.Status != http.StatusOK {
			return false, fmt.Sprintf("GET %s answered %d", r.Path(), resp.Status)
		}
		return true, ""
	case featBlobCheck:
		m := fixtures.UnknownBlobs(e.nextSeed())
		resp, err := e.pushManifest(ctx, e.sub("probe"), "", m.Content)
		if err != nil {
			return false, err.Error()
		}
		if resp.Status/100 == 2 {
			e.cleanup(ctx, e.sub("probe"), m)
			return false, fmt.Sprintf("a manifest whose blobs are missing was accepted (%d): the registry accepts sparse manifests", resp.Status)
		}
		return true, ""
	case featSHA512:
		// A blob and a manifest: a registry that stores sha512 blobs but
		// refuses manifests by their sha512 digest lacks the feature.
		m := fixtures.Artifact(fixtures.ArtifactOptions{Seed: e.nextSeed(), Blobs: 1, SHA512: true})
		for _, b := range m.Blobs() {
			if err := e.pushBlob(ctx, e.sub("probe"), b); err != nil {
				return false, "a sha512 blob: " + err.Error()
			}
		}
		resp, err := e.pushManifest(ctx, e.sub("probe"), "", m.Content)
		if err != nil {
			return false, err.Error()
		}
		e.cleanup(ctx, e.sub("probe"), m)
		if resp.Status != http.StatusCreated {
			return false, fmt.Sprintf("a manifest PUT by its sha512 digest answered %s", resp)
		}
		return true, ""
	case featAutoMount:
		b := e.blob(96)
		if err := e.pushBlob(ctx, e.sub("probe"), b); err != nil {
			return false, "probe blob push failed: " + err.Error()
		}
		r := oci.Request{Route: oci.RouteBlobMount, Method: http.MethodPost, Name: e.sub("probe-target"), Digest: b.Digest()}
		resp, err := e.try(ctx, r, nil)
		if err != nil {
			return false, err.Error()
		}
		if resp.Status == http.StatusCreated {
			return true, ""
		}
		if loc, err := resp.Location(); err == nil && resp.Status == http.StatusAccepted {
			_, _ = e.client.Do(ctx, conformance.Request{Method: http.MethodDelete, URL: loc.String(), Scopes: scopes(r)})
		}
		return false, fmt.Sprintf("POST %s answered %d (no automatic content discovery)", r.Path(), resp.Status)
	}
	return false, "unknown feature"
}

// pushBlob uploads c to repo with POST then PUT ?digest=.
func (e *env) pushBlob(ctx context.Context, repo string, c fixtures.Content) error {
	start := oci.Request{Route: oci.RouteUploadStart, Method: http.MethodPost, Name: repo}
	resp, err := e.try(ctx, start, nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusAccepted {
		return fmt.Errorf("POST %s answered %s", start.Path(), resp)
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("POST %s: %w", start.Path(), err)
	}
	put := withQuery(loc, "digest", string(c.Digest()))
	resp, err = e.client.Do(ctx, conformance.Request{
		Method: http.MethodPut, URL: put.String(), Body: c.Data,
		Header: headers("Content-Type", "application/octet-stream"),
		Scopes: scopes(start),
	})
	if err != nil {
		return err
	}
	if resp.Status != http.StatusCreated {
		return fmt.Errorf("PUT %s answered %s", put, resp)
	}
	return nil
}

// pushManifest PUTs m to repo under ref (a tag, or "" for its digest).
func (e *env) pushManifest(ctx context.Context, repo, ref string, m fixtures.Content) (*conformance.Response, error) {
	r := oci.Request{Route: oci.RouteManifestPut, Method: http.MethodPut, Name: repo, Reference: ref}
	if ref == "" {
		r.Digest = m.Digest()
	}
	return e.try(ctx, r, m.Data, "Content-Type", m.MediaType())
}

// pushAll pushes every blob and manifest of m into repo, the top manifest
// under tag (by digest when tag is empty); children go by digest.
func (e *env) pushAll(ctx context.Context, repo, tag string, m fixtures.Manifest) error {
	for _, b := range m.Blobs() {
		if err := e.pushBlob(ctx, repo, b); err != nil {
			return fmt.Errorf("blob %s: %w", b.Digest(), err)
		}
	}
	all := m.Manifests()
	for i, c := range all {
		ref := ""
		if i == len(all)-1 {
			ref = tag
		}
		resp, err := e.pushManifest(ctx, repo, ref, c.Content)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated {
			return fmt.Errorf("PUT manifest %s: %s", c.Digest(), resp)
		}
	}
	return nil
}

// cleanup deletes manifests (newest first) from repo when deletion works;
// failures are ignored, since the run's repository is unique anyway.
func (e *env) cleanup(ctx context.Context, repo string, ms ...fixtures.Manifest) {
	if ok, _ := e.has(ctx, featDelete); !ok {
		return
	}
	for i := len(ms) - 1; i >= 0; i-- {
		all := ms[i].Manifests()
		for j := len(all) - 1; j >= 0; j-- {
			r := oci.Request{Route: oci.RouteManifestDelete, Method: http.MethodDelete, Name: repo, Digest: all[j].Digest()}
			_, _ = e.try(ctx, r, nil)
		}
		for _, b := range ms[i].Blobs() {
			r := oci.Request{Route: oci.RouteBlobDelete, Method: http.MethodDelete, Name: repo, Digest: b.Digest()}
			_, _ = e.try(ctx, r, nil)
		}
	}
}

// ociError decodes an OCI error body; nil when the body is not one.
func ociError(resp *conformance.Response) *oci.Errors {
	var errs oci.Errors
	if json.Unmarshal(resp.Body, &errs) != nil || len(errs.Errors) == 0 {
		return nil
	}
	return &errs
}

func hasCode(resp *conformance.Response, codes ...oci.Code) bool {
	errs := ociError(resp)
	if errs == nil {
		return false
	}
	for _, er := range errs.Errors {
		for _, c := range codes {
			if er.Code == c {
				return true
			}
		}
	}
	return false
}

// expectError asserts status and an OCI JSON error body with one of codes.
func expectError(resp *conformance.Response, status int, codes ...oci.Code) {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(status), "status of %s", resp)
	if len(codes) == 0 {
		return
	}
	errs := ociError(resp)
	Expect(errs).NotTo(BeNil(), "want an OCI error body {\"errors\":[{\"code\":...}]} with code %v, got %q", codes, string(resp.Body))
	Expect(hasCode(resp, codes...)).To(BeTrue(), "want error code %v, got %s", codes, string(resp.Body))
}

// attachExchanges adds the spec's HTTP exchanges to its report when it
// failed.
func (e *env) attachExchanges() {
	if CurrentSpecReport().Failed() {
		AddReportEntry(conformance.ExchangesEntry, e.rec.Exchanges(), types.ReportEntryVisibilityNever)
	}
}

// gate registers a BeforeEach that skips each spec of the enclosing
// (ordered) container, with its own reason, when the credentials failed, a
// feature is missing, or the container's setup stored a reason in the
// returned string. Ordered containers use it instead of calling Skip in
// BeforeAll, which would report later specs with a generic reason.
func (e *env) gate(feats ...feature) *string {
	reason := new(string)
	BeforeEach(func(ctx SpecContext) {
		e.need(ctx, feats...)
		if *reason != "" {
			Skip(*reason)
		}
	})
	return reason
}

// ready reports whether the credentials work and every feature is there, so
// a BeforeAll can skip its setup when its specs will be skipped.
func (e *env) ready(ctx context.Context, feats ...feature) bool {
	if e.checkAuth(ctx) != nil {
		return false
	}
	for _, f := range feats {
		if ok, _ := e.has(ctx, f); !ok {
			return false
		}
	}
	return true
}
