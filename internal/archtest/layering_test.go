package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the import path of the regkit module.
const module = "github.com/regkit/regkit"

// layer is one level of the import picture: the packages whose path (below
// the module) is one of pkgs or lies under one of them.
type layer struct {
	name string
	pkgs []string
}

// layers lists regkit's packages from the top down. A package may import
// packages of its own layer and of the layers below it, never of a layer
// above. Every package of the module must be in a layer, so that a new
// package is placed on purpose (the test names the ones that are not).
var layers = []layer{
	{"commands", []string{"cmd"}},
	{"tools", []string{"bench", "conformance"}},
	{"protocols", []string{"server", "client"}},
	{"core", []string{"server/core"}},
	{"registries", []string{"registry/local"}},
	{"services", []string{"server/auth", "server/quota", "server/metrics", "server/gc"}},
	{"metadata and storage", []string{"server/metadata", "server/storage"}},
	{"drivers", []string{"server/metadata/driver", "server/metadata/memdriver"}},
	{"spec", []string{"spec", "registry", "fixtures", "internal/bytesize", "internal/archtest", "server/pkgversion"}},
}

// forbidden lists imports that stay within one layer but cross a seam: the
// clients speak HTTP to any registry and never link the server; the
// conformance suites test any registry over HTTP and only their in-process
// harness (conformance/internal/inproc) starts regkit's own server.
var forbidden = []struct{ from, to, except string }{
	{from: "client", to: "server"},
	{from: "conformance", to: "server", except: "conformance/internal/inproc"},
	{from: "server/metadata/driver", to: "server/metadata"},
}

// leafDeps are the only packages outside the standard library that the
// spec layer may depend on (directly or not): spec is a leaf.
var leafDeps = []string{"github.com/opencontainers/go-digest", "github.com/opencontainers/image-spec/specs-go"}

// under reports whether rel (a path below the module) is p or lies under p.
func under(rel, p string) bool { return rel == p || strings.HasPrefix(rel, p+"/") }

// layerOf returns the index in layers of the most specific layer holding
// rel, or -1.
func layerOf(rel string) int {
	best, bestLen := -1, -1
	for i, l := range layers {
		for _, p := range l.pkgs {
			if under(rel, p) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

// pkg is one package of go list's output.
type pkg struct {
	path     string
	standard bool
	imports  []string
	deps     []string
}

// goList runs go list -deps over the module's packages.
func goList(t *testing.T) map[string]pkg {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f",
		"{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		pkgs[f[0]] = pkg{path: f[0], standard: f[1] == "true", imports: strings.Fields(f[2]), deps: strings.Fields(f[3])}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list listed no packages")
	}
	return pkgs
}

// rel returns p's path below the module and whether it is in the module.
func rel(p string) (string, bool) {
	if !strings.HasPrefix(p, module+"/") {
		return "", false
	}
	return strings.TrimPrefix(p, module+"/"), true
}

// TestLayering fails on every import of a module package that points to
// a higher layer or crosses a forbidden seam, and on every package that no
// layer holds.
func TestLayering(t *testing.T) {
	pkgs := goList(t)
	n := 0
	for _, p := range pkgs {
		from, ok := rel(p.path)
		if !ok {
			continue
		}
		n++
		lf := layerOf(from)
		if lf < 0 {
			t.Errorf("%s is in no layer: add it to layers in %s", from, "internal/archtest/layering_test.go")
			continue
		}
		for _, imp := range p.imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			lt := layerOf(to)
			if lt >= 0 && lt < lf {
				t.Errorf("upward import: %s (layer %q) imports %s (layer %q)", from, layers[lf].name, to, layers[lt].name)
			}
			for _, f := range forbidden {
				if under(from, f.from) && under(to, f.to) && !under(to, f.from) && (f.except == "" || !under(from, f.except)) {
					t.Errorf("%s imports %s: %s must not import %s", from, to, f.from, f.to)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d module packages listed; the test is not looking at the module", n)
	}
}

// TestSpecIsALeaf fails when a package of spec/ depends on anything but
// the standard library, go-digest, the image-spec types and spec/'s own
// internal helpers.
func TestSpecIsALeaf(t *testing.T) {
	pkgs := goList(t)
	seen := 0
	for _, p := range pkgs {
		r, ok := rel(p.path)
		if !ok || !under(r, "spec") {
			continue
		}
		seen++
		for _, d := range p.deps {
			dp, known := pkgs[d]
			if known && dp.standard {
				continue
			}
			if d == p.path || strings.HasPrefix(d, module+"/spec/internal/") || slices.ContainsFunc(leafDeps, func(l string) bool { return d == l || strings.HasPrefix(d, l+"/") }) {
				continue
			}
			t.Errorf("%s depends on %s; spec/ may depend only on the standard library, go-digest and image-spec", r, d)
		}
	}
	if seen == 0 {
		t.Fatal("no spec packages listed")
	}
}

// TestLayersCatchAnUpwardImport checks the checker: an import from the
// spec layer to the server is upward, one from the server down to spec
// is not.
func TestLayersCatchAnUpwardImport(t *testing.T) {
	if layerOf("spec/oci") <= layerOf("server") {
		t.Error("spec/oci is not below server")
	}
	if layerOf("server/metadata/boltmeta") <= layerOf("server/oci") {
		t.Error("a metadata driver is not below the OCI handlers")
	}
	if layerOf("server/core") <= layerOf("server/accounts") {
		t.Error("the shared core is not below the protocol packages")
	}
	if layerOf("cmd/regkit") != 0 {
		t.Error("cmd/regkit is not the top layer")
	}
	if layerOf("server/metadata/driver") <= layerOf("server/metadata") {
		t.Error("the driver interface is not below the metadata rules layer")
	}
}
