package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestImage builds the repository's Dockerfile with podman (no pull, no
// network), pushes the image into regkit serve with podman push, and
// reads it back with a registry client: its config (non-root user,
// /data volume, entrypoint) and digest match what podman built, and the
// binary in its layer runs (static: it is executed on the host, as
// podman cannot start containers in this environment; see NOTES).
// It needs podman: CI installs it (make test-deps); elsewhere the test is
// skipped when podman is missing.
func TestImage(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("podman is missing in CI (make test-deps installs it)")
		}
		t.Skip("podman not installed (apt-get install -y podman)")
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(podman, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return strings.TrimSpace(out.String())
	}

	ctxDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(ctxDir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	wantVersion := fmt.Sprintf("image-test-%d", time.Now().UnixNano())
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+wantVersion, "-o", filepath.Join(ctxDir, "regkit"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tag := "localhost/regkit-image-test:" + wantVersion
	run("build", "--pull=never", "--network=none", "-q", "-f", "../../Dockerfile", "-t", tag, ctxDir)
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", tag).Run() })
	imageID := run("image", "inspect", "--format", "{{.Id}}", tag)

	cfg := defaultServeConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	addr, stop := startServe(t, cfg)
	defer stop()
	dest := addr + "/regkit/regkit:test"
	run("push", "--tls-verify=false", "--format", "oci", tag, "docker://"+dest)

	ref, err := name.ParseReference(dest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/regkit"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("config: user %q entrypoint %q cmd %q", c.User, c.Entrypoint, c.Cmd)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("config has no /data volume: %v", c.Volumes)
	}
	if !slices.Contains(c.Env, "REGKIT_DATA=/data") {
		t.Errorf("config env %q lacks REGKIT_DATA=/data", c.Env)
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if configDigest.Hex != imageID {
		t.Errorf("config read back %s, podman built %s", configDigest.Hex, imageID)
	}

	// The binary, from the pushed layers, runs and is the one built.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "regkit")
	var dataOwner = -1
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch strings.TrimPrefix(h.Name, "./") {
			case "regkit":
				f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(f, tr); err != nil {
					t.Fatal(err)
				}
				f.Close()
			case "data", "data/":
				dataOwner = h.Uid
			}
		}
		rc.Close()
	}
	if dataOwner != 65532 {
		t.Errorf("/data owned by uid %d, want 65532", dataOwner)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "regkit "+wantVersion+"\n") {
		t.Fatalf("regkit version from the image: %v\n%s", err, out)
	}
}
