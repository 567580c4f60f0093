package quota_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/boltmeta"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
	"github.com/regkit/regkit/server/quota"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

func newStore(t *testing.T, kind string) metadata.Store {
	t.Helper()
	var s metadata.Store
	switch kind {
	case "mem":
		s = memmeta.New()
	case "bolt":
		b, err := boltmeta.Open(t.TempDir()+"/meta.db", boltmeta.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		s = b
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { _ = c.Close() })
		s = redismeta.New(c)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func link(t *testing.T, s metadata.Store, repo, content string, size int64) metadata.Blob {
	t.Helper()
	b := metadata.Blob{Digest: digest.FromString(content), Size: size, Key: "k"}
	b, err := s.PutBlob(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBlob(t.Context(), repo, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChecker(t *testing.T) {
	for _, kind := range []string{"mem", "bolt", "redis"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := newStore(t, kind)
			link(t, s, "team/a", "a", 600*MiB)
			big := link(t, s, "team/b/c", "b", 300*MiB)
			link(t, s, "team", "c", 100*MiB)
			link(t, s, "teamster/x", "d", 5*GiB) // another namespace
			link(t, s, "free/x", "e", 50*GiB)
			link(t, s, "small/x", "f", 10*MiB)
			m := metadata.Manifest{Digest: digest.FromString("m"), Body: make([]byte, 1000)}
			if err := s.PutManifest(ctx, "team/a", m, "v1"); err != nil {
				t.Fatal(err)
			}

			c := quota.New(s,
				quota.WithDefault(20*MiB),
				quota.WithLimit("team", GiB),
				quota.WithLimits(map[string]int64{"free": 0, "teamster": 10 * GiB}))
			usage, err := c.Usage(ctx, "team")
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(1000*MiB + 1000); usage != want {
				t.Fatalf("Usage(team) = %d, want %d", usage, want)
			}

			room := int64(GiB) - usage
			for _, tc := range []struct {
				name       string
				repo       string
				additional int64
				wantErr    bool
			}{
				{name: "fits exactly", repo: "team/new", additional: room},
				{name: "one byte over", repo: "team/a", additional: room + 1, wantErr: true},
				{name: "namespace root", repo: "team", additional: 200 * MiB, wantErr: true},
				{name: "unknown size", repo: "team/a", additional: -1},
				{name: "other namespace with its own quota", repo: "teamster/y", additional: 4 * GiB},
				{name: "explicitly unlimited", repo: "free/x", additional: 1 << 50},
				{name: "default quota", repo: "small/x", additional: 11 * MiB, wantErr: true},
				{name: "default quota, fits", repo: "small/y/z", additional: 10 * MiB},
				{name: "default quota, empty namespace", repo: "nobody/x", additional: 20 * MiB},
			} {
				err := c.Check(ctx, tc.repo, tc.additional)
				if (err != nil) != tc.wantErr {
					t.Fatalf("%s: Check(%q, %d) = %v, want error %v", tc.name, tc.repo, tc.additional, err, tc.wantErr)
				}
				if err != nil && !errors.Is(err, quota.ErrExceeded) {
					t.Fatalf("%s: error %v does not match ErrExceeded", tc.name, err)
				}
			}

			err = c.Check(ctx, "team/a/b", 300*MiB)
			var qe *quota.ExceededError
			if !errors.As(err, &qe) || qe.Namespace != "team" || qe.Quota != GiB || qe.Usage != usage || qe.Additional != 300*MiB {
				t.Fatalf("Check error %#v", err)
			}
			if want := `namespace "team" would use 1.3 GiB of its 1 GiB quota (1000 MiB used)`; err.Error() != want {
				t.Fatalf("message %q, want %q", err.Error(), want)
			}
			if wrapped := fmt.Errorf("upload: %w", err); !errors.Is(wrapped, quota.ErrExceeded) {
				t.Fatal("a wrapped ExceededError does not match ErrExceeded")
			}

			// Unlinking frees space.
			if err := s.UnlinkBlob(ctx, "team/b/c", big.Digest); err != nil {
				t.Fatal(err)
			}
			if err := c.Check(ctx, "team/a", 300*MiB); err != nil {
				t.Fatalf("Check after unlinking: %v", err)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		err  quota.ExceededError
		want string
	}{
		{quota.ExceededError{Namespace: "team", Quota: GiB, Usage: GiB, Additional: GiB / 5},
			`namespace "team" would use 1.2 GiB of its 1 GiB quota (1 GiB used)`},
		{quota.ExceededError{Namespace: "x", Quota: GiB, Usage: GiB - 10, Additional: 11},
			`namespace "x" would use 1 GiB (1073741825 bytes) of its 1 GiB (1073741824 bytes) quota (1024 MiB used)`},
		{quota.ExceededError{Namespace: "y", Quota: 100, Usage: 0, Additional: 512},
			`namespace "y" would use 512 B of its 100 B quota (0 B used)`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", KiB: "1 KiB", 1536: "1.5 KiB", 5 * MiB: "5 MiB",
		GiB + GiB/5: "1.2 GiB", 3 << 40: "3 TiB", 1 << 62: "4 EiB",
	} {
		if got := quota.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// A server checks before it stores bytes, and answers 403 DENIED with
// the message.
func ExampleChecker_Check() {
	ctx := context.Background()
	meta := memmeta.New()
	b, _ := meta.PutBlob(ctx, metadata.Blob{Digest: digest.FromString("layer"), Size: 900 * MiB, Key: "k"})
	_ = meta.LinkBlob(ctx, "team/app", b)

	c := quota.New(meta, quota.WithLimit("team", GiB))
	err := c.Check(ctx, "team/web", 300*MiB)
	fmt.Println(errors.Is(err, quota.ErrExceeded))
	fmt.Println(err)
	// Output:
	// true
	// namespace "team" would use 1.2 GiB of its 1 GiB quota (900 MiB used)
}
