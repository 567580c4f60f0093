package generic_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/regkit/regkit/client/generic"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// Upload two versions of a package, ask for the latest, and download a
// file in parallel ranges.
func Example() {
	ctx := context.Background()
	// An in-process regkit; a Gitea URL works the same way (without
	// resumable sessions, Upload falls back to one PUT).
	meta := memmeta.New()
	store, _ := storage.Open(ctx, "mem://", meta)
	defer store.Close()
	ts := httptest.NewServer(server.New(meta, store, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	defer ts.Close()

	c := generic.NewClient(ts.URL) // generic.WithToken(...) for a server with auth
	for _, v := range []string{"1.2.0", "1.10.0"} {
		body := "tool " + v
		f := generic.FileRef{Owner: "alice", Name: "tool", Version: v, Filename: "tool.txt"}
		if err := c.Upload(ctx, f, strings.NewReader(body), int64(len(body)), nil); err != nil {
			fmt.Println(err)
			return
		}
	}
	latest, _ := c.Latest(ctx, "alice", "generic", "tool")
	fmt.Println("latest:", latest.Version)

	out, _ := os.CreateTemp("", "tool")
	defer os.Remove(out.Name())
	info, err := c.Download(ctx, generic.FileRef{Owner: "alice", Name: "tool", Version: latest.Version, Filename: "tool.txt"}, out, nil)
	got, _ := os.ReadFile(out.Name())
	fmt.Println(string(got), info.Size, err)
	// Output:
	// latest: 1.10.0
	// tool 1.10.0 11 <nil>
}
