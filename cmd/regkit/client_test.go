package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/fixtures"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// testRegistry starts an in-process registry (memmeta, mem://) and
// returns its URL.
func testRegistry(t *testing.T) string {
	t.Helper()
	meta := memmeta.New()
	st, err := storage.Open(context.Background(), "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(meta, st, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	t.Cleanup(func() { ts.Close(); _ = st.Close(); _ = meta.Close() })
	return ts.URL
}

// regkit runs the binary's run function and returns its exit code,
// stdout and stderr.
func regkit(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin != nil {
		// The verbs read "-" from os.Stdin.
		f := filepath.Join(t.TempDir(), "stdin")
		if err := os.WriteFile(f, stdin, 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		old := os.Stdin
		os.Stdin = in
		defer func() { os.Stdin = old; in.Close() }()
	}
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestClientVerbs(t *testing.T) {
	url := testRegistry(t)
	t.Setenv("REGKIT_URL", url)
	dir := t.TempDir()
	data := fixtures.Blob(1, 300<<10)
	d := digest.FromBytes(data)
	file := filepath.Join(dir, "blob")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	img := fixtures.Image(fixtures.ImageOptions{Seed: 5})
	mfile := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(mfile, img.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	artifact := fixtures.Artifact(fixtures.ArtifactOptions{Seed: 6, ArtifactType: "application/vnd.example.sig", Subject: &img.Descriptor})
	afile := filepath.Join(dir, "artifact.json")
	if err := os.WriteFile(afile, artifact.Data, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		out   string // wanted stdout, exactly, unless contains is set
		// contains lists substrings stdout must have.
		contains []string
		// stderr lists substrings stderr must have.
		stderr []string
	}{
		{name: "ping", args: []string{"ping"}, out: "ok " + url + "\n"},
		{name: "ping json", args: []string{"ping", "--json"}, contains: []string{`"ok": true`}},
		{name: "push chunked", args: []string{"push-blob", "--chunk", "100KiB", "files/a", file}, out: d.String() + "\n"},
		{name: "push monolithic, flags last", args: []string{"push-blob", "files/b", file, "--monolithic"}, out: d.String() + "\n"},
		{name: "push stdin json", stdin: data, args: []string{"push-blob", "--json", "files/c", "-"}, contains: []string{`"digest": "` + d.String() + `"`, `"size": 307200`}},
		{name: "pull", args: []string{"pull-blob", "files/a", d.String()}, out: string(data)},
		{name: "pull range", args: []string{"pull-blob", "--range", "10-19", "files/a", d.String()}, out: string(data[10:20])},
		{name: "pull open range", args: []string{"pull-blob", "--range", "307190-", "files/b", d.String()}, out: string(data[307190:])},
		{name: "pull unknown", args: []string{"pull-blob", "files/a", digest.FromString("x").String()}, code: exitNotFound, stderr: []string{"BLOB_UNKNOWN"}},
		{name: "pull bad digest", args: []string{"pull-blob", "files/a", "sha256:nope"}, code: 2},
		{name: "push config", args: []string{"push-blob", "app", "-"}, stdin: img.Config.Data, out: img.Config.Digest().String() + "\n"},
		{name: "push layer", args: []string{"push-blob", "app", "-"}, stdin: img.Layers[0].Data, out: img.Layers[0].Digest().String() + "\n"},
		{name: "manifest put", args: []string{"manifest", "put", "app", "v1", mfile}, out: img.Digest().String() + "\n"},
		{name: "manifest put with tags", args: []string{"manifest", "put", "--tag", "v2", "--tag", "latest", "app", img.Digest().String(), mfile}, out: img.Digest().String() + "\n"},
		{name: "manifest get", args: []string{"manifest", "get", "app", "v1"}, out: string(img.Data)},
		{name: "manifest get json", args: []string{"manifest", "get", "--json", "app", "v1"}, contains: []string{`"digest": "` + img.Digest().String() + `"`, `"manifest": {`}},
		{name: "manifest head", args: []string{"manifest", "head", "app", "latest"}, contains: []string{img.Digest().String(), img.MediaType()}},
		{name: "push empty config", args: []string{"push-blob", "app", "-"}, stdin: artifact.Config.Data, out: artifact.Config.Digest().String() + "\n"},
		{name: "artifact put after its config", args: []string{"manifest", "put", "app", artifact.Digest().String(), afile}, out: artifact.Digest().String() + "\n"},
		{name: "referrers", args: []string{"referrers", "app", img.Digest().String()}, out: artifact.Digest().String() + "\tapplication/vnd.example.sig\t" + strconv.Itoa(len(artifact.Data)) + "\n"},
		{name: "referrers filtered", args: []string{"referrers", "--artifact-type", "application/other", "app", img.Digest().String()}, out: ""},
		{name: "tags", args: []string{"tags", "app"}, out: "latest\nv1\nv2\n"},
		{name: "tags paged", args: []string{"tags", "--n", "1", "--max", "2", "app"}, out: "latest\nv1\n"},
		{name: "tags json", args: []string{"tags", "--json", "--last", "v1", "app"}, contains: []string{`"v2"`}},
		{name: "catalog", args: []string{"catalog"}, out: "app\n"},
		{name: "manifest delete tag", args: []string{"manifest", "delete", "app", "v2"}, out: "deleted v2\n"},
		{name: "manifest get deleted", args: []string{"manifest", "get", "app", "v2"}, code: exitNotFound, stderr: []string{"MANIFEST_UNKNOWN"}},
		{name: "manifest without subcommand", args: []string{"manifest"}, code: 2},
		{name: "manifest unknown subcommand", args: []string{"manifest", "frob"}, code: 2},
		{name: "wrong argument count", args: []string{"tags"}, code: 2},
		{name: "bad range", args: []string{"pull-blob", "--range", "9-1", "files/a", d.String()}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := regkit(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if tt.contains == nil && tt.code == 0 && out != tt.out {
				t.Fatalf("stdout %q, want %q", out, tt.out)
			}
			for _, s := range tt.contains {
				if !strings.Contains(out, s) {
					t.Errorf("stdout %q lacks %q", out, s)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q lacks %q", errOut, s)
				}
			}
		})
	}
}

func TestClientNeedsURL(t *testing.T) {
	t.Setenv("REGKIT_URL", "")
	code, _, errOut := regkit(t, nil, "ping")
	if code != 2 || !strings.Contains(errOut, "--url") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
