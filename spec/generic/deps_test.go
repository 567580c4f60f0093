package generic

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps spec/generic a leaf of the standard library.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	self := "github.com/regkit/regkit/spec/generic"
	for _, p := range strings.Fields(string(out)) {
		if p != self && p != "github.com/opencontainers/go-digest" {
			t.Errorf("%s imports %s; spec/ may import only the standard library and go-digest", self, p)
		}
	}
}
