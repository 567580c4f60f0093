package generic

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/spec/generic"
)

// LabelExtension marks specs of regkit extensions that Gitea lacks.
const LabelExtension = "extension"

// LabelStrict marks specs of rules regkit enforces more strictly than
// Gitea (input Gitea accepts and regkit refuses, answers Gitea does not
// give); the Gitea-compatible set leaves them out.
const LabelStrict = "strict"

// GiteaCompatible is the label filter of the Gitea-compatible set: every
// spec that asserts only what Gitea does.
const GiteaCompatible = "!" + LabelExtension + " && !" + LabelStrict

// env is the state of one registered suite; every spec closes over it.
type env struct {
	cfg    *conformance.Config
	client *conformance.Client
	rec    *conformance.Recorder
	base   string
	owner  string
	// prefix starts every package name of this run.
	prefix  string
	seed    uint64
	counter atomic.Uint64

	authOnce sync.Once
	authErr  error
	setupErr error
}

func newEnv(cfg *conformance.Config, owner string) *env {
	var b [8]byte
	_, _ = rand.Read(b[:])
	seed := cfg.Seed
	if seed == 0 {
		seed = binary.LittleEndian.Uint64(b[:]) >> 24
	}
	if owner == "" {
		owner, _, _ = strings.Cut(strings.Trim(cfg.Namespace, "/"), "/")
	}
	rec := conformance.NewRecorder(60)
	e := &env{
		cfg:    cfg,
		rec:    rec,
		base:   strings.TrimRight(cfg.URL, "/"),
		owner:  owner,
		prefix: "conformance-" + hex.EncodeToString(b[:4]),
		seed:   seed,
	}
	e.client, e.setupErr = conformance.NewClient(cfg, rec)
	if e.setupErr == nil && owner == "" {
		e.setupErr = fmt.Errorf("no owner: set --owner (or a --namespace whose first component is the owner)")
	}
	return e
}

// nextSeed returns a fixture seed unique within this run.
func (e *env) nextSeed() uint64 { return e.seed*4096 + e.counter.Add(1) }

// data returns fresh random bytes of size n.
func (e *env) data(n int) []byte { return fixtures.Blob(e.nextSeed()*1000+7, n) }

// pkg returns a package name unique to this run.
func (e *env) pkg(name string) string { return e.prefix + "-" + name }

// file returns the request of route for a file of this run's owner.
func (e *env) file(route generic.RouteID, method, name, version, filename string) generic.Request {
	return generic.Request{Route: route, Method: method, Owner: e.owner, Type: generic.TypeGeneric, Name: name, Version: version, Filename: filename}
}

// mgmt returns a management request for package name of type typ.
func (e *env) mgmt(route generic.RouteID, method, typ, name, version string) generic.Request {
	return generic.Request{Route: route, Method: method, Owner: e.owner, Type: typ, Name: name, Version: version}
}

// send sends r with body and header pairs; a transport error fails the spec.
func (e *env) send(ctx context.Context, r generic.Request, body []byte, hdr ...string) *conformance.Response {
	GinkgoHelper()
	resp, err := e.try(ctx, r.Method, r.URL(e.base), body, hdr...)
	Expect(err).NotTo(HaveOccurred(), "%s %s", r.Method, r.Path())
	return resp
}

// sendURL sends to a raw URL (relative ones resolve against the base).
func (e *env) sendURL(ctx context.Context, method, u string, body []byte, hdr ...string) *conformance.Response {
	GinkgoHelper()
	resp, err := e.try(ctx, method, u, body, hdr...)
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, u)
	return resp
}

func (e *env) try(ctx context.Context, method, u string, body []byte, hdr ...string) (*conformance.Response, error) {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return e.client.Do(ctx, conformance.Request{Method: method, URL: u, Header: h, Body: body})
}

// upload PUTs data as filename into version of package name.
func (e *env) upload(ctx context.Context, name, version, filename string, data []byte, hdr ...string) *conformance.Response {
	GinkgoHelper()
	return e.send(ctx, e.file(generic.RouteUpload, http.MethodPut, name, version, filename), data, hdr...)
}

// mustUpload uploads and expects 201.
func (e *env) mustUpload(ctx context.Context, name, version, filename string, data []byte) {
	GinkgoHelper()
	resp := e.upload(ctx, name, version, filename, data)
	Expect(resp.Status).To(Equal(http.StatusCreated), "upload %s/%s/%s: %s", name, version, filename, resp)
}

// deleteVersion removes a version, ignoring the outcome (cleanup).
func (e *env) deleteVersion(ctx context.Context, name, version string) {
	_, _ = e.try(ctx, http.MethodDelete, e.file(generic.RouteVersionDelete, http.MethodDelete, name, version, "").URL(e.base), nil)
}

// anonymous reports whether the suite runs without credentials: the
// registry takes uploads from anyone, so its owners are implicit.
func (e *env) anonymous() bool {
	return e.cfg.Username == "" && e.cfg.Password.Value() == "" && e.cfg.Token.Value() == ""
}

// checkAuth verifies once that the owner accepts an upload.
func (e *env) checkAuth(ctx context.Context) error {
	e.authOnce.Do(func() {
		if e.setupErr != nil {
			e.authErr = e.setupErr
			return
		}
		name := e.pkg("probe")
		r := e.file(generic.RouteUpload, http.MethodPut, name, "0.0.1", "probe.txt")
		resp, err := e.try(ctx, r.Method, r.URL(e.base), []byte("probe"))
		switch {
		case err != nil:
			e.authErr = fmt.Errorf("PUT %s: %w", r.Path(), err)
		case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
			e.authErr = fmt.Errorf("uploading to owner %q is not allowed with the configured credentials: %s", e.owner, resp)
		case resp.Status != http.StatusCreated:
			e.authErr = fmt.Errorf("PUT %s answered %s, want 201", r.Path(), resp)
		default:
			e.deleteVersion(ctx, name, "0.0.1")
		}
	})
	return e.authErr
}

// need skips the spec when the credentials do not work.
func (e *env) need(ctx context.Context) {
	GinkgoHelper()
	if err := e.checkAuth(ctx); err != nil {
		Skip("cannot upload: " + err.Error())
	}
}

// attachExchanges adds the spec's HTTP exchanges to its report when it
// failed.
func (e *env) attachExchanges() {
	if CurrentSpecReport().Failed() {
		AddReportEntry(conformance.ExchangesEntry, e.rec.Exchanges(), types.ReportEntryVisibilityNever)
	}
}

// sums are the four digests of a file, as the management API shows them.
type sums struct{ MD5, SHA1, SHA256, SHA512 string }

func sumsOf(b []byte) sums {
	m, s1, s2, s5 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return sums{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:]), hex.EncodeToString(s5[:])}
}

// pkgJSON is the management API's package object, as far as the suite
// reads it.
type pkgJSON struct {
	ID    int64 `json:"id"`
	Owner struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
	} `json:"owner"`
	Repository *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"repository"`
	Type          string     `json:"type"`
	Name          string     `json:"name"`
	Version       string     `json:"version"`
	HTMLURL       string     `json:"html_url"`
	CreatedAt     string     `json:"created_at"`
	DownloadCount *int64     `json:"download_count"`
	SemVer        *bool      `json:"semver_compatible"`
	LatestRule    string     `json:"latest_rule"`
	Files         []fileJSON `json:"files"`
}

// fileJSON is the management API's file object.
type fileJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

// decode unmarshals a JSON response into v, failing the spec otherwise.
func decode(resp *conformance.Response, v any) {
	GinkgoHelper()
	Expect(resp.Header.Get("Content-Type")).To(HavePrefix("application/json"), "%s", resp)
	Expect(json.Unmarshal(resp.Body, v)).To(Succeed(), "body of %s", resp)
}

// expectJSONError asserts status and a {"message","url"} body.
func expectJSONError(resp *conformance.Response, status int) {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(status), "%s", resp)
	var e struct {
		Message string `json:"message"`
		URL     string `json:"url"`
	}
	Expect(json.Unmarshal(resp.Body, &e)).To(Succeed(), "want a JSON error body {\"message\",\"url\"}, got %q", string(resp.Body))
	Expect(e.Message).NotTo(BeEmpty(), "error message")
}

// rawPut sends a PUT over a raw connection: head announces length bytes,
// body is what is actually sent before the connection's write side is
// closed. It returns the status line ("" when the server sent none).
func (e *env) rawPut(path string, length string, body []byte) (string, error) {
	u, err := url.Parse(e.base)
	if err != nil {
		return "", err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	var conn net.Conn
	d := &net.Dialer{Timeout: 10 * time.Second}
	if u.Scheme == "https" {
		conn, err = tls.DialWithDialer(d, "tcp", host, &tls.Config{InsecureSkipVerify: e.cfg.InsecureTLS, ServerName: u.Hostname()}) // as configured
	} else {
		conn, err = d.Dial("tcp", host)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	auth := ""
	if t := e.cfg.Token.Value(); t != "" {
		auth = "Authorization: token " + t + "\r\n"
	} else if e.cfg.Username != "" {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.SetBasicAuth(e.cfg.Username, e.cfg.Password.Value())
		auth = "Authorization: " + r.Header.Get("Authorization") + "\r\n"
	}
	fmt.Fprintf(conn, "PUT %s%s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %s\r\nConnection: close\r\n\r\n", strings.TrimRight(u.Path, "/"), path, u.Host, auth, length)
	_, _ = conn.Write(body)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	line, _ := io.ReadAll(io.LimitReader(conn, 64))
	s, _, _ := strings.Cut(string(line), "\r\n")
	return s, nil
}
