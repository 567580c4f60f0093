package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// regkit admin talks to a running server's /api/v1 (the embedded store is
// locked by the server), with the credentials of a site admin (or, for
// tokens and organizations, of the user concerned):
//
//	regkit admin [-url U] [-user admin] [-password P] users list
//	regkit admin users create NAME -new-password P [-email E] [-private] [-admin]
//	regkit admin users passwd NAME -new-password P
//	regkit admin users delete NAME [-purge]
//	regkit admin orgs list | orgs create NAME [-private] | orgs delete NAME [-purge]
//	regkit admin members list ORG | members set ORG USER [-role read|write|admin] | members remove ORG USER
//	regkit admin tokens list USER | tokens create USER NAME -scopes S[,S] [-expires 720h] | tokens delete USER ID|NAME
//	regkit admin tokens list -deploy OWNER | tokens create -deploy OWNER NAME -scopes S [-types container,generic] | tokens delete -deploy OWNER ID
//
// -url, -user and -password default to $REGKIT_URL, $REGKIT_ADMIN_USER
// (else "admin") and $REGKIT_ADMIN_PASSWORD; -new-password to
// $REGKIT_NEW_PASSWORD, or "-" to read it from stdin. Answers are printed
// as JSON; a created token's secret is in its "sha1" field, shown once.

const adminUsage = `usage: regkit admin [-url URL] [-user NAME] [-password P] <users|orgs|members|tokens> <verb> [args] [flags]

  users   list | create NAME -new-password P [-email E] [-private] [-admin] | passwd NAME -new-password P | delete NAME [-purge]
  orgs    list | create NAME [-private] | delete NAME [-purge]
  members list ORG | set ORG USER [-role read|write|admin] | remove ORG USER
  tokens  list USER | create USER NAME -scopes S[,S] [-expires D] | delete USER ID|NAME
          list -deploy OWNER | create -deploy OWNER NAME -scopes S [-types T[,T]] [-expires D] | delete -deploy OWNER ID|NAME

-url, -user and -password default to $REGKIT_URL, $REGKIT_ADMIN_USER (else admin) and
$REGKIT_ADMIN_PASSWORD; -new-password to $REGKIT_NEW_PASSWORD ("-" reads stdin).
A user or organization that still owns repositories or packages is deleted only with -purge,
which deletes them too.`

// adminClient sends authenticated API requests.
type adminClient struct {
	base       string
	user, pass string
	hc         *http.Client
}

// do sends method path with body (JSON-encoded unless nil) and returns the
// response body; a non-2xx answer is an error quoting the API's message.
func (c *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, http.StatusText(resp.StatusCode), e.Message)
		}
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return b, nil
}

// parseInterspersed parses fs from args allowing flags after positional
// arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &adminClient{hc: &http.Client{Timeout: time.Minute}}
	var (
		newPassword, email, role, scopes, types, deploy string
		private, admin, purge                           bool
		expires                                         time.Duration
	)
	fs := flag.NewFlagSet("regkit admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, adminUsage) }
	fs.StringVar(&c.base, "url", os.Getenv("REGKIT_URL"), "registry base URL (env REGKIT_URL)")
	fs.StringVar(&c.user, "user", envOr("REGKIT_ADMIN_USER", "admin"), "user name (env REGKIT_ADMIN_USER)")
	fs.StringVar(&c.pass, "password", os.Getenv(adminPasswordEnv), "password (env "+adminPasswordEnv+")")
	fs.StringVar(&newPassword, "new-password", os.Getenv("REGKIT_NEW_PASSWORD"), "password of the user created or changed; - reads stdin (env REGKIT_NEW_PASSWORD)")
	fs.StringVar(&email, "email", "", "email of a new user")
	fs.BoolVar(&private, "private", false, "make the new user or organization private")
	fs.BoolVar(&admin, "admin", false, "make the new user a site admin")
	fs.BoolVar(&purge, "purge", false, "delete the user's or organization's repositories and packages with it")
	fs.StringVar(&role, "role", "read", "member role: read, write or admin")
	fs.StringVar(&scopes, "scopes", "", "token scopes, comma-separated: read:packages, write:packages, delete:packages")
	fs.StringVar(&types, "types", "", "package types of a deploy token, comma-separated: container, generic (default all)")
	fs.StringVar(&deploy, "deploy", "", "manage the deploy tokens of this owner instead of a user's personal tokens")
	fs.DurationVar(&expires, "expires", 0, "token lifetime (0: never expires)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if c.base == "" {
		return fmt.Errorf("%w: -url (or REGKIT_URL) is required", usageError(stderr))
	}
	c.base = strings.TrimRight(c.base, "/")
	if _, err := url.Parse(c.base); err != nil {
		return fmt.Errorf("%w: -url: %w", errUsage, err)
	}
	if len(pos) < 2 {
		return usageError(stderr)
	}
	if newPassword == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the new password from stdin: %w", err)
		}
		newPassword = strings.TrimRight(line, "\r\n")
	}
	visibility := "public"
	if private {
		visibility = "private"
	}
	esc := url.PathEscape
	var expiresAt *time.Time
	if expires > 0 {
		t := time.Now().Add(expires).UTC()
		expiresAt = &t
	}
	want := func(n int) error {
		if len(pos) != n {
			return usageError(stderr)
		}
		return nil
	}
	var (
		method, path string
		body         any
	)
	switch pos[0] + " " + pos[1] {
	case "users list":
		method, path, err = http.MethodGet, "/api/v1/admin/users", want(2)
	case "users create":
		if err = want(3); err == nil && newPassword == "" {
			err = fmt.Errorf("%w: -new-password is required", errUsage)
		}
		method, path = http.MethodPost, "/api/v1/admin/users"
		body = map[string]any{"username": safe(pos, 2), "password": newPassword, "email": email, "visibility": visibility, "admin": admin}
	case "users passwd":
		if err = want(3); err == nil && newPassword == "" {
			err = fmt.Errorf("%w: -new-password is required", errUsage)
		}
		method, path, body = http.MethodPatch, "/api/v1/admin/users/"+esc(safe(pos, 2)), map[string]any{"password": newPassword}
	case "users delete":
		method, path, err = http.MethodDelete, "/api/v1/admin/users/"+esc(safe(pos, 2))+purgeQuery(purge), want(3)
	case "orgs list":
		method, path, err = http.MethodGet, "/api/v1/admin/orgs", want(2)
	case "orgs create":
		method, path, err = http.MethodPost, "/api/v1/orgs", want(3)
		body = map[string]any{"username": safe(pos, 2), "visibility": visibility}
	case "orgs delete":
		method, path, err = http.MethodDelete, "/api/v1/orgs/"+esc(safe(pos, 2))+purgeQuery(purge), want(3)
	case "members list":
		method, path, err = http.MethodGet, "/api/v1/orgs/"+esc(safe(pos, 2))+"/members", want(3)
	case "members set":
		method, path, err = http.MethodPut, "/api/v1/orgs/"+esc(safe(pos, 2))+"/members/"+esc(safe(pos, 3)), want(4)
		body = map[string]any{"role": role}
	case "members remove":
		method, path, err = http.MethodDelete, "/api/v1/orgs/"+esc(safe(pos, 2))+"/members/"+esc(safe(pos, 3)), want(4)
	case "tokens list", "tokens create", "tokens delete":
		base := "/api/v1/users/" + esc(safe(pos, 2)) + "/tokens"
		first := 3 // index of the first argument after the owner
		if deploy != "" {
			base, first = "/api/v1/owners/"+esc(deploy)+"/deploy_tokens", 2
		}
		switch pos[1] {
		case "list":
			method, path, err = http.MethodGet, base, want(first)
		case "create":
			method, path, err = http.MethodPost, base, want(first+1)
			if err == nil && scopes == "" {
				err = fmt.Errorf("%w: -scopes is required", errUsage)
			}
			tb := map[string]any{"name": safe(pos, first), "scopes": splitList(scopes)}
			if deploy != "" {
				tb["package_types"] = splitList(types)
			}
			if expiresAt != nil {
				tb["expires_at"] = expiresAt
			}
			body = tb
		case "delete":
			method, path, err = http.MethodDelete, base+"/"+esc(safe(pos, first)), want(first+1)
		}
	default:
		return usageError(stderr)
	}
	if err != nil {
		return err
	}
	out, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		fmt.Fprintln(stdout, "ok")
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		_, err = stdout.Write(out)
		return err
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// usageError prints the usage and returns errUsage.
func usageError(stderr io.Writer) error {
	fmt.Fprintln(stderr, adminUsage)
	return errUsage
}

func safe(pos []string, i int) string {
	if i < len(pos) {
		return pos[i]
	}
	return ""
}

func splitList(s string) []string {
	out := []string{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// purgeQuery is the query of a delete with -purge.
func purgeQuery(purge bool) string {
	if purge {
		return "?purge=true"
	}
	return ""
}
