package peerreg

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GiteaVersions are the Gitea releases the peers run.
var GiteaVersions = []string{"v1.26.0", "v1.27.3"}

// giteaRootEnv lets Gitea run as root (CI machines run as root); Gitea
// refuses to start otherwise.
const giteaRootEnv = "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true"

// Gitea returns a Gitea build of version (e.g. "v1.26.0"), building it
// when missing: `go mod download` fetches code.gitea.io/gitea at that
// version from the Go module proxy into the module cache, and `go build
// -tags 'sqlite sqlite_unlock_notify'` builds it there (a few minutes; go
// install cannot, as Gitea's go.mod has replace directives). The binary is
// kept in the user cache directory, outside this repository.
func Gitea(ctx context.Context, version string) (GiteaBuild, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "regkit-peers")
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", "code.gitea.io/gitea@"+version).Output()
	if err != nil {
		return GiteaBuild{}, fmt.Errorf("go mod download code.gitea.io/gitea@%s: %w", version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return GiteaBuild{}, fmt.Errorf("go mod download code.gitea.io/gitea@%s: %s %v", version, mod.Error, err)
	}
	b := GiteaBuild{Bin: filepath.Join(dir, "gitea-"+version), Source: mod.Dir}
	if _, err := os.Stat(b.Bin); err == nil && strings.Contains(giteaOutput(ctx, b.Bin, "--version"), "version "+strings.TrimPrefix(version, "v")+" ") {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return GiteaBuild{}, err
	}
	bin := b.Bin
	fmt.Fprintf(os.Stderr, "building Gitea %s (a few minutes)\n", version)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "sqlite sqlite_unlock_notify",
		"-ldflags", "-s -w -X main.Version="+strings.TrimPrefix(version, "v"), "-o", bin+".tmp", ".")
	build.Dir = mod.Dir
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=mod")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return GiteaBuild{}, fmt.Errorf("go build gitea %s: %w", version, err)
	}
	return b, os.Rename(bin+".tmp", bin)
}

// GiteaBuild is a built Gitea and the module source it reads its options
// (locales, templates) from: a build without bindata serves them from
// STATIC_ROOT_PATH.
type GiteaBuild struct {
	Bin    string
	Source string
}

// GiteaServer is a running Gitea with one site admin and a token of it
// with every scope.
type GiteaServer struct {
	URL      string
	User     string
	Password string
	Token    string
	stop     func()
}

// Stop stops the server.
func (g *GiteaServer) Stop() { g.stop() }

// StartGitea starts Gitea bin on a free loopback port with sqlite and every
// file under dir, creates the admin user "conformance" and its token, and
// waits until the API answers.
func StartGitea(ctx context.Context, build GiteaBuild, dir string) (*GiteaServer, error) {
	bin := build.Bin
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(addr, ":")
	url := "http://" + addr
	config := filepath.Join(dir, "app.ini")
	ini := fmt.Sprintf(`APP_NAME = regkit peers
RUN_MODE = prod
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = %[2]s
HTTP_PORT = %[3]s
ROOT_URL = %[4]s/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
STATIC_ROOT_PATH = %[5]s

[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db

[repository]
ROOT = %[1]s/repos

[security]
INSTALL_LOCK = true
SECRET_KEY = regkit-peers-secret-key-not-a-secret
INTERNAL_TOKEN = eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjE3MDAwMDAwMDB9.regkit-peers-internal-token
PASSWORD_HASH_ALGO = pbkdf2_v2

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[packages]
ENABLED = true

[log]
MODE = console
LEVEL = warn
ROOT_PATH = %[1]s/log

[cron]
ENABLED = false

[indexer]
REPO_INDEXER_ENABLED = false
ISSUE_INDEXER_TYPE = db

[queue]
TYPE = immediate

[mailer]
ENABLED = false

[oauth2]
ENABLED = false
`, dir, host, port, url, build.Source)
	if err := os.WriteFile(config, []byte(ini), 0o600); err != nil {
		return nil, err
	}
	env := []string{giteaRootEnv, "GITEA_WORK_DIR=" + dir, "HOME=" + dir}
	admin := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--config", config, "--work-path", dir)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("gitea %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if _, err := admin("migrate"); err != nil {
		return nil, err
	}
	g := &GiteaServer{URL: url, User: "conformance", Password: "conformance-password-1"}
	if _, err := admin("admin", "user", "create", "--username", g.User, "--password", g.Password,
		"--email", "conformance@example.invalid", "--admin", "--must-change-password=false"); err != nil {
		return nil, err
	}
	out, err := admin("admin", "user", "generate-access-token", "--username", g.User, "--token-name", "suite", "--scopes", "all", "--raw")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Token = strings.TrimSpace(lines[len(lines)-1])
	stop, err := Start(ctx, []string{bin, "web", "--config", config, "--work-path", dir}, env, filepath.Join(dir, "gitea.log"), url+"/api/v1/version")
	if err != nil {
		return nil, err
	}
	g.stop = stop
	return g, nil
}

func giteaOutput(ctx context.Context, bin string, args ...string) string {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), giteaRootEnv)
	b, _ := cmd.CombinedOutput()
	return string(b)
}
