package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/regkit/regkit/spec/accounts"
	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// routeConsts returns the string values of the constants declared in the
// Go files of dir (below the module root), by name.
func routeConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range parseDir(t, dir) {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

// parseDir parses the non-test Go files of dir (below the module root).
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s (%v)", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// specLabels returns the labels the Ginkgo specs of dir carry: every
// argument of a Label(...) call that is a string literal, a constant of
// consts (named as pkg.Name) or string(pkg.Name) of one.
func specLabels(t *testing.T, dir string, consts map[string]string) map[string]bool {
	t.Helper()
	labels := map[string]bool{}
	value := func(e ast.Expr) (string, bool) {
		if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "string" {
				e = c.Args[0]
			}
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.SelectorExpr:
			v, ok := consts[e.Sel.Name]
			return v, ok
		}
		return "", false
	}
	for _, f := range parseDir(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := c.Fun.(*ast.Ident); !ok || id.Name != "Label" {
				return true
			}
			for _, a := range c.Args {
				if v, ok := value(a); ok {
					labels[v] = true
				}
			}
			return true
		})
	}
	return labels
}

// TestEveryRouteHasASpec fails when a row of spec/oci's, spec/generic's
// or spec/accounts' route table has no conformance spec labelled with its
// ID (the suites label specs with Label(string(oci.RouteX))). The rows'
// handlers are checked in server (routes_test.go, generic_test.go) and
// server/accounts, their client methods in client/oci (routes_test.go)
// and client/accounts.
func TestEveryRouteHasASpec(t *testing.T) {
	ociLabels := specLabels(t, "conformance/oci", routeConsts(t, "spec/oci"))
	for _, r := range oci.Routes() {
		if !ociLabels[string(r.ID)] {
			t.Errorf("route %s (%v %s) has no spec in conformance/oci labelled with its ID", r.ID, r.Methods, r.Path)
		}
	}
	genLabels := specLabels(t, "conformance/generic", routeConsts(t, "spec/generic"))
	for _, r := range generic.Routes() {
		if !genLabels[string(r.ID)] {
			t.Errorf("route %s (%v %s) has no spec in conformance/generic labelled with its ID", r.ID, r.Methods, r.Path)
		}
	}
	accLabels := specLabels(t, "conformance/accounts", routeConsts(t, "spec/accounts"))
	for _, r := range accounts.Routes() {
		if !accLabels[string(r.ID)] {
			t.Errorf("route %s (%s %s) has no spec in conformance/accounts labelled with its ID", r.ID, r.Method, r.Path)
		}
	}
}
