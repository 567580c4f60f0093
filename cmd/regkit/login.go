package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"

	"github.com/regkit/regkit/client/oci"
)

// loginServer is the key docker's config.json uses for host.
func loginServer(host string) string {
	if host == oci.DockerHub || host == "docker.io" || host == "index.docker.io" {
		return "https://index.docker.io/v1/"
	}
	return host
}

// loginHost parses the argument of login and logout: a host[:port] or a
// URL.
func loginHost(arg string) (host, base string) {
	host = arg
	scheme := ""
	if s, rest, ok := strings.Cut(arg, "://"); ok {
		scheme, host = s, rest
	}
	host = strings.TrimSuffix(host, "/")
	if scheme == "" {
		l, err := oci.ParseLocation(host + "/x")
		if err == nil {
			scheme = l.Scheme
		} else {
			scheme = "https"
		}
	}
	return host, scheme + "://" + host
}

func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("login", "<registry>", stderr, &f)
	fs.StringVar(&f.username, "u", "", "short for --username")
	fs.StringVar(&f.password, "p", "", "short for --password")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	host, base := loginHost(pos[0])
	if *stdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		f.password = strings.TrimRight(line, "\r\n")
	}
	if f.username == "" || f.password == "" {
		return usagef(fs, "give --username and --password (or --password-stdin)")
	}
	// Prove the credentials before storing them.
	c := oci.NewClient(base, oci.WithBasicAuth(f.username, f.password), oci.WithUserAgent("regkit/"+version))
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return err
	}
	key := loginServer(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: f.username, Password: f.password, ServerAddress: key}); err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	if err := cf.Save(); err != nil {
		return err
	}
	return output(stdout, f.json, map[string]any{"registry": host, "username": f.username, "config": cf.Filename}, "Login Succeeded: "+host+"\n")
}

func runLogout(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var f imageFlags
	fs := newImageFlagSet("logout", "<registry>", stderr, &f)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	host, _ := loginHost(pos[0])
	cf, err := config.Load(config.Dir())
	if err != nil {
		return err
	}
	key := loginServer(host)
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return err
	}
	if err := cf.Save(); err != nil {
		return err
	}
	return output(stdout, f.json, map[string]any{"registry": host, "loggedOut": true}, "Removed credentials for "+host+"\n")
}
