//go:build e2e

// End-to-end tests: real OCI clients (crane, skopeo, regctl, helm) push to
// and pull from `regkit serve` running in this process. The binaries are
// looked up on PATH and in $(go env GOBIN) / $(go env GOPATH)/bin; a missing
// one fails the test with the command that installs it (.ci/e2e-tools.sh,
// run by `make e2e`). Every tool runs with HOME and the XDG directories in a
// temporary directory, so nothing reads or writes the user's configuration.
//
//	go test -tags e2e -run E2E -count=1 ./cmd/regkit/
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	e2eInstallHint  = "install the e2e clients with `bash .ci/e2e-tools.sh` (`make e2e` runs it)"
	e2eMTManifest   = "application/vnd.oci.image.manifest.v1+json"
	e2eMTIndex      = "application/vnd.oci.image.index.v1+json"
	e2eMTConfig     = "application/vnd.oci.image.config.v1+json"
	e2eMTLayerGzip  = "application/vnd.oci.image.layer.v1.tar+gzip"
	e2eCmdTimeout   = 5 * time.Minute
	e2eSBOMType     = "application/vnd.regkit.e2e.sbom+json"
	e2eSigType      = "application/vnd.regkit.e2e.signature"
	e2eAnnotation   = "org.regkit.e2e.note"
	e2eChartConfig  = "application/vnd.cncf.helm.config.v1+json"
	e2eChartContent = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// ---------------------------------------------------------------------------
// harness: server, tools, isolated environment, commands, raw HTTP

// e2eServe starts regkit serve on a free loopback port with a fresh data
// directory and returns its host:port.
func e2eServe(t *testing.T) string {
	t.Helper()
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	addr, stop := startServe(t, cfg)
	t.Cleanup(stop)
	return addr
}

// e2eTool finds a client binary on PATH or in the Go install directories.
func e2eTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			continue
		}
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if d == "" {
				continue
			}
			if v == "GOPATH" {
				d = filepath.Join(d, "bin")
			}
			dirs = append(dirs, d)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found on PATH nor in %v: %s", name, dirs, e2eInstallHint)
	return ""
}

// e2eEnv is the environment of the tools: the test's own, less anything that
// points at a user's configuration, with HOME and XDG dirs in a temp dir.
func e2eEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	drop := []string{"HOME=", "XDG_", "DOCKER_", "REGISTRY_AUTH_FILE=", "HELM_", "REGCTL_", "CONTAINERS_", "REGISTRIES_CONFIG_PATH="}
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	for _, d := range []string{".config", ".cache", ".local/share", "run", ".docker"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local/share"),
		"XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	)
}

type e2eResult struct {
	stdout, stderr string
	err            error
}

func (r e2eResult) combined() string { return r.stdout + r.stderr }

func e2eExec(env []string, dir, bin string, args ...string) e2eResult {
	ctx, cancel := context.WithTimeout(context.Background(), e2eCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return e2eResult{stdout.String(), stderr.String(), err}
}

// e2eRun runs a tool that must succeed and returns its result.
func e2eRun(t *testing.T, env []string, dir, bin string, args ...string) e2eResult {
	t.Helper()
	r := e2eExec(env, dir, bin, args...)
	line := filepath.Base(bin) + " " + strings.Join(args, " ")
	if r.err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", line, r.err, r.stdout, r.stderr)
	}
	t.Logf("$ %s\n%s%s", line, e2eTrim(r.stdout), e2eTrim(r.stderr))
	return r
}

// e2eRunFail runs a tool that must fail and returns its result.
func e2eRunFail(t *testing.T, env []string, dir, bin string, args ...string) e2eResult {
	t.Helper()
	r := e2eExec(env, dir, bin, args...)
	line := filepath.Base(bin) + " " + strings.Join(args, " ")
	if r.err == nil {
		t.Fatalf("%s succeeded, want a failure\nstdout:\n%s\nstderr:\n%s", line, r.stdout, r.stderr)
	}
	t.Logf("$ %s (failed as expected: %v)\n%s%s", line, r.err, e2eTrim(r.stdout), e2eTrim(r.stderr))
	return r
}

func e2eTrim(s string) string {
	if len(s) > 2000 {
		s = s[:2000] + "…\n"
	}
	return s
}

// e2eVersion logs which build of a tool the test drives.
func e2eVersion(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	r := e2eExec(env, "", bin, args...)
	t.Logf("%s version: %s", filepath.Base(bin), strings.TrimSpace(r.combined()))
}

type e2eResp struct {
	status int
	header http.Header
	body   []byte
}

// e2eHTTP sends one request to the server, independently of the tools.
func e2eHTTP(t *testing.T, method, url, accept string) e2eResp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return e2eResp{resp.StatusCode, resp.Header, body}
}

const e2eAcceptAll = e2eMTManifest + ", " + e2eMTIndex + ", application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// e2eCheckManifest asserts that the server serves want (byte-exact, with
// mediaType and digest headers) at repo:ref.
func e2eCheckManifest(t *testing.T, addr, repo, ref string, want []byte, wantType string) {
	t.Helper()
	u := fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, repo, ref)
	r := e2eHTTP(t, http.MethodGet, u, e2eAcceptAll)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", u, r.status, r.body)
	}
	if !bytes.Equal(r.body, want) {
		t.Fatalf("GET %s: body differs from what was pushed\n got: %s\nwant: %s", u, r.body, want)
	}
	if ct := r.header.Get("Content-Type"); ct != wantType {
		t.Errorf("GET %s: Content-Type %q, want %q", u, ct, wantType)
	}
	if d := r.header.Get("Docker-Content-Digest"); d != e2eDigest(want) {
		t.Errorf("GET %s: Docker-Content-Digest %q, want %q", u, d, e2eDigest(want))
	}
	h := e2eHTTP(t, http.MethodHead, u, e2eAcceptAll)
	if h.status != http.StatusOK || h.header.Get("Content-Length") != fmt.Sprint(len(want)) ||
		h.header.Get("Docker-Content-Digest") != e2eDigest(want) || len(h.body) != 0 {
		t.Errorf("HEAD %s: status %d, Content-Length %q, Docker-Content-Digest %q, %d body bytes; want 200, %d, %s, none",
			u, h.status, h.header.Get("Content-Length"), h.header.Get("Docker-Content-Digest"), len(h.body), len(want), e2eDigest(want))
	}
}

// e2eCheckBlob asserts that the server serves want as blob dgst of repo.
func e2eCheckBlob(t *testing.T, addr, repo string, want []byte) {
	t.Helper()
	u := fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, e2eDigest(want))
	r := e2eHTTP(t, http.MethodGet, u, "")
	if r.status != http.StatusOK || !bytes.Equal(r.body, want) {
		t.Fatalf("GET %s: status %d, %d bytes (want 200 and the %d pushed bytes)", u, r.status, len(r.body), len(want))
	}
}

// e2eTags returns the tags of repo as the server lists them.
func e2eTags(t *testing.T, addr, repo string) []string {
	t.Helper()
	u := fmt.Sprintf("http://%s/v2/%s/tags/list", addr, repo)
	r := e2eHTTP(t, http.MethodGet, u, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", u, r.status, r.body)
	}
	var tl struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(r.body, &tl); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, r.body)
	}
	if tl.Name != repo {
		t.Errorf("GET %s: name %q, want %q", u, tl.Name, repo)
	}
	return tl.Tags
}

func e2eLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// test content: random layers and an OCI image layout written by hand

func e2eDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func e2eRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// e2eLayerTar builds an uncompressed layer: a directory and a few files of
// random content, one of them large enough to take several upload chunks.
func e2eLayerTar(t *testing.T, name string, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	dir := "e2e-" + name + "/"
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mod}); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		dir + "random.bin": e2eRandom(t, size),
		dir + "hello.txt":  []byte("hello from the regkit e2e test, layer " + name + "\n"),
	}
	for _, fn := range []string{dir + "hello.txt", dir + "random.bin"} {
		b := files[fn]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fn, Mode: 0o644, Size: int64(len(b)), ModTime: mod}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func e2eGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func e2eGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

type e2eDesc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type e2eManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        e2eDesc           `json:"config"`
	Layers        []e2eDesc         `json:"layers"`
	Subject       *e2eDesc          `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type e2eIndex struct {
	SchemaVersion int       `json:"schemaVersion"`
	MediaType     string    `json:"mediaType,omitempty"`
	Manifests     []e2eDesc `json:"manifests"`
}

// e2eImage is an image as written to an OCI layout: its manifest bytes and
// every blob by digest.
type e2eImage struct {
	manifest []byte
	digest   string
	config   []byte
	layers   [][]byte // compressed, as pushed
	diffIDs  []string
}

func (im e2eImage) blobs() [][]byte { return append([][]byte{im.config}, im.layers...) }

// e2eNewImage builds an OCI image with two gzip layers.
func e2eNewImage(t *testing.T, name string) e2eImage {
	t.Helper()
	var im e2eImage
	for i, size := range []int{3<<20 + 17, 64 << 10} {
		raw := e2eLayerTar(t, fmt.Sprintf("%s-%d", name, i), size)
		im.diffIDs = append(im.diffIDs, e2eDigest(raw))
		im.layers = append(im.layers, e2eGzip(t, raw))
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Env": []string{"E2E=" + name}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": im.diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	im.config = cfg
	m := e2eManifest{
		SchemaVersion: 2,
		MediaType:     e2eMTManifest,
		Config:        e2eDesc{MediaType: e2eMTConfig, Digest: e2eDigest(cfg), Size: int64(len(cfg))},
		Annotations:   map[string]string{e2eAnnotation: "image " + name},
	}
	for _, l := range im.layers {
		m.Layers = append(m.Layers, e2eDesc{MediaType: e2eMTLayerGzip, Digest: e2eDigest(l), Size: int64(len(l))})
	}
	// indented on purpose: a registry that re-serialises would change the bytes
	im.manifest, err = json.MarshalIndent(m, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	im.digest = e2eDigest(im.manifest)
	return im
}

// e2eWriteLayout writes im as an OCI image layout in dir, tagged tag.
func e2eWriteLayout(t *testing.T, dir, tag string, im e2eImage) {
	t.Helper()
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range append(im.blobs(), im.manifest) {
		if err := os.WriteFile(filepath.Join(blobDir, strings.TrimPrefix(e2eDigest(b), "sha256:")), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := json.Marshal(e2eIndex{SchemaVersion: 2, MediaType: e2eMTIndex, Manifests: []e2eDesc{{
		MediaType:   e2eMTManifest,
		Digest:      im.digest,
		Size:        int64(len(im.manifest)),
		Annotations: map[string]string{"org.opencontainers.image.ref.name": tag},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// e2eReadLayout returns the manifest digest that dir's index.json lists
// (for tag, when tag is not empty) and a reader of the layout's blobs.
func e2eReadLayout(t *testing.T, dir, tag string) (string, func(dgst string) []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx e2eIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("%s/index.json: %v", dir, err)
	}
	var found []string
	for _, d := range idx.Manifests {
		if tag == "" || d.Annotations["org.opencontainers.image.ref.name"] == tag {
			found = append(found, d.Digest)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s/index.json: %d manifests for tag %q, want 1: %s", dir, len(found), tag, b)
	}
	return found[0], func(dgst string) []byte {
		alg, hexd, _ := strings.Cut(dgst, ":")
		b, err := os.ReadFile(filepath.Join(dir, "blobs", alg, hexd))
		if err != nil {
			t.Fatalf("layout %s: %v", dir, err)
		}
		return b
	}
}

// ---------------------------------------------------------------------------
// crane

func TestE2ECrane(t *testing.T) {
	crane := e2eTool(t, "crane")
	env := e2eEnv(t)
	e2eVersion(t, env, crane, "version")
	addr := e2eServe(t)
	work := t.TempDir()
	// --insecure: plain HTTP (crane would pick it for 127.0.0.1 anyway)
	c := func(args ...string) e2eResult {
		t.Helper()
		return e2eRun(t, env, work, crane, append([]string{"--insecure"}, args...)...)
	}
	cFail := func(args ...string) e2eResult {
		t.Helper()
		return e2eRunFail(t, env, work, crane, append([]string{"--insecure"}, args...)...)
	}

	// push: crane builds an image from a layer tarball on an empty OCI base
	raw := e2eLayerTar(t, "crane", 2<<20+5)
	tarPath := filepath.Join(work, "layer.tar")
	if err := os.WriteFile(tarPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := "e2e/crane"
	ref := addr + "/" + repo + ":v1"
	out := strings.TrimSpace(c("append", "--oci-empty-base", "-f", tarPath, "-t", ref).stdout)
	prefix := addr + "/" + repo + "@sha256:"
	if !strings.HasPrefix(out, prefix) {
		t.Fatalf("crane append printed %q, want %s<digest>", out, prefix)
	}
	dgst := strings.TrimPrefix(out, addr+"/"+repo+"@")

	// digest and manifest: what crane reports is what the server stores
	if got := strings.TrimSpace(c("digest", ref).stdout); got != dgst {
		t.Fatalf("crane digest %s = %s, crane append said %s", ref, got, dgst)
	}
	manifest := []byte(c("manifest", ref).stdout)
	if e2eDigest(manifest) != dgst {
		t.Fatalf("crane manifest: sha256 of the body is %s, want %s", e2eDigest(manifest), dgst)
	}
	e2eCheckManifest(t, addr, repo, "v1", manifest, e2eMTManifest)
	e2eCheckManifest(t, addr, repo, dgst, manifest, e2eMTManifest)
	var m e2eManifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != e2eMTManifest || len(m.Layers) != 1 {
		t.Fatalf("pushed manifest: mediaType %q with %d layers, want an OCI manifest with 1 layer: %s", m.MediaType, len(m.Layers), manifest)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	cfgBytes := []byte(c("config", ref).stdout)
	if e2eDigest(cfgBytes) != m.Config.Digest {
		t.Fatalf("crane config: digest %s, manifest says %s", e2eDigest(cfgBytes), m.Config.Digest)
	}
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != e2eDigest(raw) {
		t.Fatalf("config diff_ids %v, want [%s] (the tarball's digest)", cfg.RootFS.DiffIDs, e2eDigest(raw))
	}
	layer := []byte(c("blob", addr+"/"+repo+"@"+m.Layers[0].Digest).stdout)
	if e2eDigest(layer) != m.Layers[0].Digest || int64(len(layer)) != m.Layers[0].Size {
		t.Fatalf("crane blob: %d bytes with digest %s, want %d bytes with %s", len(layer), e2eDigest(layer), m.Layers[0].Size, m.Layers[0].Digest)
	}
	if !bytes.Equal(e2eGunzip(t, layer), raw) {
		t.Fatal("crane blob: the layer does not uncompress to the tarball that was appended")
	}
	e2eCheckBlob(t, addr, repo, layer)
	e2eCheckBlob(t, addr, repo, cfgBytes)

	// pull into an OCI layout: same manifest, same blobs
	pulled := filepath.Join(work, "pulled")
	c("pull", "--format", "oci", ref, pulled)
	pd, read := e2eReadLayout(t, pulled, "")
	if pd != dgst {
		t.Fatalf("crane pull: layout holds %s, want %s", pd, dgst)
	}
	if !bytes.Equal(read(dgst), manifest) || !bytes.Equal(read(m.Layers[0].Digest), layer) || !bytes.Equal(read(m.Config.Digest), cfgBytes) {
		t.Fatal("crane pull: the layout's manifest, config or layer differs from what was pushed")
	}

	// push a layout written by hand: the server keeps the exact bytes
	im := e2eNewImage(t, "crane-layout")
	layout := filepath.Join(work, "layout")
	e2eWriteLayout(t, layout, "v1", im)
	lref := addr + "/e2e/crane-layout:v1"
	out = strings.TrimSpace(c("push", layout, lref).stdout)
	if out != addr+"/e2e/crane-layout@"+im.digest {
		t.Fatalf("crane push printed %q, want %s", out, addr+"/e2e/crane-layout@"+im.digest)
	}
	e2eCheckManifest(t, addr, "e2e/crane-layout", "v1", im.manifest, e2eMTManifest)
	for _, b := range im.blobs() {
		e2eCheckBlob(t, addr, "e2e/crane-layout", b)
	}

	// copy to another repository and tag
	cref := addr + "/e2e/crane-copy:v2"
	c("copy", ref, cref)
	if got := strings.TrimSpace(c("digest", cref).stdout); got != dgst {
		t.Fatalf("crane digest of the copy = %s, want %s", got, dgst)
	}
	e2eCheckManifest(t, addr, "e2e/crane-copy", "v2", manifest, e2eMTManifest)
	e2eCheckBlob(t, addr, "e2e/crane-copy", layer)

	// tags and catalog
	c("tag", ref, "v1-alias")
	if got := e2eLines(c("ls", addr+"/"+repo).stdout); !slices.Equal(got, []string{"v1", "v1-alias"}) {
		t.Fatalf("crane ls %s = %q, want [v1 v1-alias]", repo, got)
	}
	if got := e2eTags(t, addr, repo); !slices.Equal(got, []string{"v1", "v1-alias"}) {
		t.Fatalf("tags/list %s = %q, want [v1 v1-alias]", repo, got)
	}
	catalog := e2eLines(c("catalog", addr).stdout)
	for _, want := range []string{"e2e/crane", "e2e/crane-copy", "e2e/crane-layout"} {
		if !slices.Contains(catalog, want) {
			t.Errorf("crane catalog = %q, missing %s", catalog, want)
		}
	}

	// delete by digest: the manifest and both its tags are gone, the copy is not
	c("delete", addr+"/"+repo+"@"+dgst)
	if r := cFail("manifest", ref); !strings.Contains(r.stderr, "MANIFEST_UNKNOWN") {
		t.Errorf("crane manifest after delete: stderr %q, want MANIFEST_UNKNOWN", r.stderr)
	}
	if got := e2eLines(c("ls", addr+"/"+repo).stdout); len(got) != 0 {
		t.Errorf("crane ls after delete = %q, want no tags", got)
	}
	for _, r := range []string{dgst, "v1", "v1-alias"} {
		if resp := e2eHTTP(t, http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, repo, r), e2eAcceptAll); resp.status != http.StatusNotFound {
			t.Errorf("GET manifest %s after delete: status %d, want 404", r, resp.status)
		}
	}
	if got := strings.TrimSpace(c("digest", cref).stdout); got != dgst {
		t.Fatalf("the copy after deleting the original: digest %s, want %s", got, dgst)
	}
	e2eCheckBlob(t, addr, "e2e/crane-copy", layer)
}

// ---------------------------------------------------------------------------
// skopeo

func TestE2ESkopeo(t *testing.T) {
	skopeo := e2eTool(t, "skopeo")
	env := e2eEnv(t)
	e2eVersion(t, env, skopeo, "--version")
	addr := e2eServe(t)
	work := t.TempDir()
	policy := filepath.Join(work, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	regConf := filepath.Join(work, "registries.conf")
	if err := os.WriteFile(regConf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := func(args ...string) e2eResult {
		t.Helper()
		return e2eRun(t, env, work, skopeo, append([]string{"--policy", policy, "--registries-conf", regConf}, args...)...)
	}
	sFail := func(args ...string) e2eResult {
		t.Helper()
		return e2eRunFail(t, env, work, skopeo, append([]string{"--policy", policy, "--registries-conf", regConf}, args...)...)
	}

	im := e2eNewImage(t, "skopeo")
	src := filepath.Join(work, "src")
	e2eWriteLayout(t, src, "v1", im)
	repo := "e2e/skopeo"
	dest := "docker://" + addr + "/" + repo + ":v1"

	// oci: layout → registry, digests preserved
	r := s("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:"+src+":v1", dest)
	if !strings.Contains(r.combined(), "Writing manifest to image destination") {
		t.Errorf("skopeo copy to the registry: output lacks %q", "Writing manifest to image destination")
	}
	e2eCheckManifest(t, addr, repo, "v1", im.manifest, e2eMTManifest)
	e2eCheckManifest(t, addr, repo, im.digest, im.manifest, e2eMTManifest)
	for _, b := range im.blobs() {
		e2eCheckBlob(t, addr, repo, b)
	}

	// inspect: raw bytes and the parsed view
	if raw := s("inspect", "--tls-verify=false", "--raw", dest).stdout; raw != string(im.manifest) {
		t.Fatalf("skopeo inspect --raw: %s\nwant: %s", raw, im.manifest)
	}
	var info struct {
		Digest string
		Layers []string
		Env    []string
	}
	if err := json.Unmarshal([]byte(s("inspect", "--tls-verify=false", dest).stdout), &info); err != nil {
		t.Fatal(err)
	}
	var wantLayers []string
	for _, l := range im.layers {
		wantLayers = append(wantLayers, e2eDigest(l))
	}
	if info.Digest != im.digest || !slices.Equal(info.Layers, wantLayers) || !slices.Equal(info.Env, []string{"E2E=skopeo"}) {
		t.Fatalf("skopeo inspect: digest %s, layers %v, env %v; want %s, %v, [E2E=skopeo]", info.Digest, info.Layers, info.Env, im.digest, wantLayers)
	}
	var tl struct {
		Repository string
		Tags       []string
	}
	if err := json.Unmarshal([]byte(s("list-tags", "--tls-verify=false", "docker://"+addr+"/"+repo).stdout), &tl); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tl.Tags, []string{"v1"}) {
		t.Fatalf("skopeo list-tags: %v, want [v1]", tl.Tags)
	}

	// registry → oci: layout, by tag and by digest: the same bytes come back
	back := filepath.Join(work, "back")
	s("copy", "--preserve-digests", "--src-tls-verify=false", dest, "oci:"+back+":v1")
	bd, read := e2eReadLayout(t, back, "v1")
	if bd != im.digest || !bytes.Equal(read(bd), im.manifest) {
		t.Fatalf("skopeo copy back: layout holds %s, want %s with the same bytes", bd, im.digest)
	}
	for _, b := range im.blobs() {
		if !bytes.Equal(read(e2eDigest(b)), b) {
			t.Fatalf("skopeo copy back: blob %s differs", e2eDigest(b))
		}
	}
	back2 := filepath.Join(work, "back-by-digest")
	s("copy", "--preserve-digests", "--src-tls-verify=false", "docker://"+addr+"/"+repo+"@"+im.digest, "oci:"+back2+":pinned")
	if bd, read := e2eReadLayout(t, back2, "pinned"); bd != im.digest || !bytes.Equal(read(bd), im.manifest) {
		t.Fatalf("skopeo copy by digest: layout holds %s, want %s", bd, im.digest)
	}

	// registry → registry (blobs mounted or copied within the server)
	s("copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", dest, "docker://"+addr+"/e2e/skopeo-copy:v1")
	e2eCheckManifest(t, addr, "e2e/skopeo-copy", "v1", im.manifest, e2eMTManifest)

	// delete: the manifest goes, with its tag
	s("delete", "--tls-verify=false", dest)
	if r := sFail("inspect", "--tls-verify=false", "--raw", dest); !strings.Contains(strings.ToLower(r.stderr), "manifest unknown") {
		t.Errorf("skopeo inspect after delete: stderr %q, want manifest unknown", r.stderr)
	}
	if got := e2eTags(t, addr, repo); len(got) != 0 {
		t.Errorf("tags after skopeo delete: %q, want none", got)
	}
	e2eCheckManifest(t, addr, "e2e/skopeo-copy", "v1", im.manifest, e2eMTManifest)
}

// ---------------------------------------------------------------------------
// regctl

func TestE2ERegctl(t *testing.T) {
	regctl := e2eTool(t, "regctl")
	env := e2eEnv(t)
	e2eVersion(t, env, regctl, "version")
	addr := e2eServe(t)
	work := t.TempDir()
	rc := func(args ...string) e2eResult { t.Helper(); return e2eRun(t, env, work, regctl, args...) }
	rc("registry", "set", addr, "--tls", "disabled")

	im := e2eNewImage(t, "regctl")
	layout := filepath.Join(work, "layout")
	e2eWriteLayout(t, layout, "v1", im)
	repo := "e2e/regctl"
	ref := addr + "/" + repo + ":v1"

	// ocidir → registry → registry
	rc("image", "copy", "ocidir://"+layout+":v1", ref)
	e2eCheckManifest(t, addr, repo, "v1", im.manifest, e2eMTManifest)
	for _, b := range im.blobs() {
		e2eCheckBlob(t, addr, repo, b)
	}
	if got := strings.TrimSpace(rc("image", "digest", ref).stdout); got != im.digest {
		t.Fatalf("regctl image digest = %s, want %s", got, im.digest)
	}
	if got := rc("manifest", "get", "--format", "raw-body", ref).stdout; got != string(im.manifest) {
		t.Fatalf("regctl manifest get: %s\nwant: %s", got, im.manifest)
	}
	cref := addr + "/e2e/regctl-copy:v1"
	rc("image", "copy", ref, cref)
	if got := strings.TrimSpace(rc("image", "digest", cref).stdout); got != im.digest {
		t.Fatalf("regctl image digest of the copy = %s, want %s", got, im.digest)
	}
	e2eCheckManifest(t, addr, "e2e/regctl-copy", "v1", im.manifest, e2eMTManifest)
	back := filepath.Join(work, "back")
	rc("image", "copy", ref, "ocidir://"+back+":v1")
	if bd, read := e2eReadLayout(t, back, "v1"); bd != im.digest || !bytes.Equal(read(bd), im.manifest) || !bytes.Equal(read(e2eDigest(im.layers[0])), im.layers[0]) {
		t.Fatalf("regctl copy to ocidir: layout holds %s, want %s with the same bytes", bd, im.digest)
	}

	// artifacts with a subject; the server's referrers API lists them
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"regkit-e2e"}` + "\n")
	sbomPath := filepath.Join(work, "sbom.json")
	sig := e2eRandom(t, 512)
	sigPath := filepath.Join(work, "sig.bin")
	if err := os.WriteFile(sbomPath, sbom, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	rc("artifact", "put", "--subject", ref, "--artifact-type", e2eSBOMType, "--annotation", e2eAnnotation+"=sbom",
		"--file", sbomPath, "--file-media-type", "application/spdx+json")
	rc("artifact", "put", "--subject", ref, "--artifact-type", e2eSigType, "--annotation", e2eAnnotation+"=signature",
		"--file", sigPath, "--file-media-type", "application/octet-stream")

	type listed struct{ digest, artifactType, note string }
	listFmt := `{{range .Descriptors}}{{.Digest}} {{.ArtifactType}} {{index .Annotations "` + e2eAnnotation + `"}}{{"\n"}}{{end}}`
	parse := func(out string) []listed {
		var l []listed
		for _, line := range e2eLines(out) {
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("regctl artifact list line %q: want digest, artifactType, annotation", line)
			}
			l = append(l, listed{f[0], f[1], f[2]})
		}
		slices.SortFunc(l, func(a, b listed) int { return strings.Compare(a.artifactType, b.artifactType) })
		return l
	}
	all := parse(rc("artifact", "list", ref, "--format", listFmt).stdout)
	if len(all) != 2 || all[0].artifactType != e2eSBOMType || all[0].note != "sbom" || all[1].artifactType != e2eSigType || all[1].note != "signature" {
		t.Fatalf("regctl artifact list: %+v, want the sbom and the signature with their annotations", all)
	}
	sbomOnly := parse(rc("artifact", "list", ref, "--filter-artifact-type", e2eSBOMType, "--format", listFmt).stdout)
	if len(sbomOnly) != 1 || sbomOnly[0] != all[0] {
		t.Fatalf("regctl artifact list --filter-artifact-type %s: %+v, want [%+v]", e2eSBOMType, sbomOnly, all[0])
	}
	if got := rc("artifact", "get", "--subject", ref, "--filter-artifact-type", e2eSBOMType).stdout; got != string(sbom) {
		t.Fatalf("regctl artifact get: %q, want %q", got, sbom)
	}

	// the same through the raw referrers API
	ru := fmt.Sprintf("http://%s/v2/%s/referrers/%s", addr, repo, im.digest)
	resp := e2eHTTP(t, http.MethodGet, ru, "")
	if resp.status != http.StatusOK || resp.header.Get("Content-Type") != e2eMTIndex {
		t.Fatalf("GET %s: status %d, Content-Type %q; want 200, %s", ru, resp.status, resp.header.Get("Content-Type"), e2eMTIndex)
	}
	var idx e2eIndex
	if err := json.Unmarshal(resp.body, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 2 {
		t.Fatalf("GET %s: %d referrers, want 2: %s", ru, len(idx.Manifests), resp.body)
	}
	for _, d := range idx.Manifests {
		i := slices.IndexFunc(all, func(l listed) bool { return l.digest == d.Digest })
		if i < 0 || d.ArtifactType != all[i].artifactType || d.Annotations[e2eAnnotation] != all[i].note || d.MediaType != e2eMTManifest {
			t.Errorf("referrer %+v does not match what regctl listed: %+v", d, all)
		}
	}
	// regctl used the referrers API (the server answered OCI-Subject), so it
	// pushed no fallback tag sha256-<hex>
	if got := e2eLines(rc("tag", "ls", addr+"/"+repo).stdout); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("regctl tag ls %s = %q, want [v1] (no referrers fallback tag)", repo, got)
	}

	// deleting a referrer removes it from the list
	rc("manifest", "delete", addr+"/"+repo+"@"+all[1].digest)
	left := parse(rc("artifact", "list", ref, "--format", listFmt).stdout)
	if len(left) != 1 || left[0] != all[0] {
		t.Fatalf("regctl artifact list after deleting the signature: %+v, want [%+v]", left, all[0])
	}
}

// ---------------------------------------------------------------------------
// helm

func TestE2EHelm(t *testing.T) {
	helm := e2eTool(t, "helm")
	env := e2eEnv(t)
	e2eVersion(t, env, helm, "version", "--short")
	addr := e2eServe(t)
	work := t.TempDir()
	h := func(args ...string) e2eResult { t.Helper(); return e2eRun(t, env, work, helm, args...) }

	h("create", "e2echart")
	type pushed struct{ version, tag, tgz, digest string }
	var charts []pushed
	for _, v := range []struct{ version, tag string }{{"0.1.0", "0.1.0"}, {"0.2.0+e2e.1", "0.2.0_e2e.1"}} {
		out := h("package", "e2echart", "--version", v.version, "-d", filepath.Join(work, "dist")).combined()
		tgz := filepath.Join(work, "dist", "e2echart-"+v.version+".tgz")
		if !strings.Contains(out, "Successfully packaged chart") || !strings.Contains(out, tgz) {
			t.Fatalf("helm package: %q, want it to name %s", out, tgz)
		}
		out = h("push", tgz, "oci://"+addr+"/charts", "--plain-http").combined()
		if want := "Pushed: " + addr + "/charts/e2echart:" + v.tag; !strings.Contains(out, want) {
			t.Fatalf("helm push: %q, want %q", out, want)
		}
		_, d, ok := strings.Cut(out, "Digest: ")
		if !ok {
			t.Fatalf("helm push: no digest in %q", out)
		}
		charts = append(charts, pushed{v.version, v.tag, tgz, strings.Fields(d)[0]})
	}

	for _, c := range charts {
		want, err := os.ReadFile(c.tgz)
		if err != nil {
			t.Fatal(err)
		}
		// what the server holds: a helm chart manifest whose layer is the archive
		u := fmt.Sprintf("http://%s/v2/charts/e2echart/manifests/%s", addr, c.tag)
		r := e2eHTTP(t, http.MethodGet, u, e2eAcceptAll)
		if r.status != http.StatusOK || e2eDigest(r.body) != c.digest || r.header.Get("Docker-Content-Digest") != c.digest {
			t.Fatalf("GET %s: status %d, digest %s (header %q), want 200 and %s", u, r.status, e2eDigest(r.body), r.header.Get("Docker-Content-Digest"), c.digest)
		}
		var m e2eManifest
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		if m.Config.MediaType != e2eChartConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != e2eChartContent || m.Layers[0].Digest != e2eDigest(want) {
			t.Fatalf("chart manifest %s: %s; want config %s and one %s layer %s", c.tag, r.body, e2eChartConfig, e2eChartContent, e2eDigest(want))
		}
		e2eCheckBlob(t, addr, "charts/e2echart", want)

		// pull: the same archive, byte for byte
		dir := filepath.Join(work, "pulled-"+c.tag)
		if err := os.MkdirAll(dir, 0o755); err != nil { // helm pull -d does not create it
			t.Fatal(err)
		}
		out := h("pull", "oci://"+addr+"/charts/e2echart", "--version", c.version, "--plain-http", "-d", dir).combined()
		if !strings.Contains(out, "Pulled: "+addr+"/charts/e2echart:"+c.tag) || !strings.Contains(out, "Digest: "+c.digest) {
			t.Errorf("helm pull: %q, want Pulled: …:%s and Digest: %s", out, c.tag, c.digest)
		}
		got, err := os.ReadFile(filepath.Join(dir, "e2echart-"+c.version+".tgz"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("helm pull %s: %d bytes differ from the %d pushed", c.version, len(got), len(want))
		}
		show := h("show", "chart", "oci://"+addr+"/charts/e2echart", "--version", c.version, "--plain-http").stdout
		if !strings.Contains(show, "name: e2echart") || !strings.Contains(show, "version: "+c.version) {
			t.Errorf("helm show chart %s: %q, want name e2echart and version %s", c.version, show, c.version)
		}
	}
	if got := e2eTags(t, addr, "charts/e2echart"); !slices.Equal(got, []string{"0.1.0", "0.2.0_e2e.1"}) {
		t.Fatalf("tags of charts/e2echart = %q, want [0.1.0 0.2.0_e2e.1]", got)
	}
	// without --version helm resolves the highest semver tag
	if err := os.MkdirAll(filepath.Join(work, "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := h("pull", "oci://"+addr+"/charts/e2echart", "--plain-http", "-d", filepath.Join(work, "latest")).combined()
	if !strings.Contains(out, "Digest: "+charts[1].digest) {
		t.Errorf("helm pull without --version: %q, want the 0.2.0+e2e.1 chart (%s)", out, charts[1].digest)
	}
}

// TestE2EAuthLogin: crane and skopeo log in to `regkit serve --auth tokens`
// and push and pull through the Bearer token flow, with a password and
// with a personal token; without credentials, or with a wrong password,
// pushes are refused.
func TestE2EAuthLogin(t *testing.T) {
	crane := e2eTool(t, "crane")
	skopeo := e2eTool(t, "skopeo")
	env := e2eEnv(t)
	const adminPassword = "e2e-admin-password-1"
	t.Setenv(adminPasswordEnv, adminPassword)
	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Auth = "tokens"
	cfg.AuthSigningKey = "e2e-signing-key-0123456789abcdef0123456789"
	addr, stop := startServe(t, cfg)
	t.Cleanup(stop)
	base := "http://" + addr

	// A user alice (created by the bootstrap admin) and a personal token.
	const alicePassword = "alice-password-1"
	api := func(method, path, user, pass, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	api(http.MethodPost, "/api/v1/admin/users", "admin", adminPassword,
		`{"username":"alice","password":"`+alicePassword+`","email":"alice@example.com","visibility":"private"}`, http.StatusCreated)
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	if err := json.Unmarshal(api(http.MethodPost, "/api/v1/users/alice/tokens", "alice", alicePassword,
		`{"name":"e2e","scopes":["write:packages"]}`, http.StatusCreated), &tok); err != nil || tok.SHA1 == "" {
		t.Fatalf("token: %v %+v", err, tok)
	}

	work := t.TempDir()
	raw := e2eLayerTar(t, "auth", 300_000)
	tarPath := filepath.Join(work, "layer.tar")
	if err := os.WriteFile(tarPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c := func(args ...string) e2eResult {
		t.Helper()
		return e2eRun(t, env, work, crane, append([]string{"--insecure"}, args...)...)
	}
	cFail := func(args ...string) e2eResult {
		t.Helper()
		return e2eRunFail(t, env, work, crane, append([]string{"--insecure"}, args...)...)
	}

	// Anonymous: alice's private namespace refuses pushes and pulls.
	ref := addr + "/alice/app:v1"
	if r := cFail("append", "--oci-empty-base", "-f", tarPath, "-t", ref); !e2eUnauthorized(r) {
		t.Fatalf("anonymous crane push: want UNAUTHORIZED, got %s", r.combined())
	}

	// crane with the personal token as password: push, then pull back.
	c("auth", "login", addr, "-u", "alice", "-p", tok.SHA1)
	out := strings.TrimSpace(c("append", "--oci-empty-base", "-f", tarPath, "-t", ref).stdout)
	dgst := strings.TrimPrefix(out, addr+"/alice/app@")
	if !strings.HasPrefix(dgst, "sha256:") {
		t.Fatalf("crane append printed %q", out)
	}
	if got := strings.TrimSpace(c("digest", ref).stdout); got != dgst {
		t.Fatalf("crane digest = %s, want %s", got, dgst)
	}
	var m e2eManifest
	if err := json.Unmarshal([]byte(c("manifest", ref).stdout), &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest through the token flow: %v %+v", err, m)
	}
	if layer := []byte(c("blob", addr+"/alice/app@"+m.Layers[0].Digest).stdout); !bytes.Equal(e2eGunzip(t, layer), raw) {
		t.Fatal("layer pulled with a token differs")
	}
	c("auth", "logout", addr)
	if r := cFail("manifest", ref); !e2eUnauthorized(r) {
		t.Fatalf("crane after logout: want UNAUTHORIZED, got %s", r.combined())
	}

	// skopeo: a wrong password is refused at login; the right one works.
	policy := filepath.Join(work, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	authFile := filepath.Join(work, "auth.json")
	s := func(args ...string) e2eResult {
		t.Helper()
		return e2eRun(t, env, work, skopeo, append([]string{"--policy", policy}, args...)...)
	}
	sFail := func(args ...string) e2eResult {
		t.Helper()
		return e2eRunFail(t, env, work, skopeo, append([]string{"--policy", policy}, args...)...)
	}
	if r := sFail("login", "--tls-verify=false", "--authfile", authFile, "-u", "alice", "-p", "wrong-password", addr); !e2eUnauthorized(r) {
		t.Fatalf("skopeo login with a wrong password: %s", r.combined())
	}
	if r := s("login", "--tls-verify=false", "--authfile", authFile, "-u", "alice", "-p", alicePassword, addr); !strings.Contains(r.combined(), "Login Succeeded") {
		t.Fatalf("skopeo login: %s", r.combined())
	}
	im := e2eNewImage(t, "skopeo-auth")
	src := filepath.Join(work, "src")
	e2eWriteLayout(t, src, "v1", im)
	dest := "docker://" + addr + "/alice/skopeo:v1"
	s("copy", "--preserve-digests", "--authfile", authFile, "--dest-tls-verify=false", "oci:"+src+":v1", dest)
	back := filepath.Join(work, "back")
	s("copy", "--authfile", authFile, "--src-tls-verify=false", dest, "oci:"+back+":v1")
	gotDigest, blob := e2eReadLayout(t, back, "v1")
	if gotDigest != im.digest {
		t.Fatalf("skopeo round trip through the token flow: digest %s, want %s", gotDigest, im.digest)
	}
	for _, b := range im.blobs() {
		if !bytes.Equal(blob(e2eDigest(b)), b) {
			t.Fatal("blob differs after a round trip through the token flow")
		}
	}
	// Without the auth file, skopeo cannot read alice's private image.
	if r := sFail("inspect", "--tls-verify=false", "--authfile", filepath.Join(work, "none.json"), dest); !e2eUnauthorized(r) {
		t.Fatalf("anonymous skopeo inspect: %s", r.combined())
	}
}

// e2eUnauthorized reports whether a tool's output says the registry
// answered 401.
func e2eUnauthorized(r e2eResult) bool {
	out := strings.ToLower(r.combined())
	return strings.Contains(out, "unauthorized") || strings.Contains(out, "401") || strings.Contains(out, "invalid username/password")
}
