package oci

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps spec/oci a leaf: besides the standard library it may
// import only go-digest and the image-spec types.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	self := "github.com/regkit/regkit/spec/oci"
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == self,
			p == "github.com/opencontainers/go-digest",
			strings.HasPrefix(p, "github.com/opencontainers/image-spec/specs-go"):
		default:
			t.Errorf("%s imports %s; spec/ may import only the standard library, go-digest and image-spec/specs-go", self, p)
		}
	}
}
