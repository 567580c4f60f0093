package main

import (
	"bufio"
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

	"github.com/regkit/regkit/client/accounts"
)

// regkit admin talks to a running server's /api/v1 (the embedded store is
// locked by the server), with the credentials of a site admin (or, for
// tokens and organizations, of the user concerned):
//
//	regkit admin [-url U] [-user admin] [-password P] users list
//	regkit admin whoami | users get NAME | orgs get NAME
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

  whoami  the account of the credentials
  users   list | get NAME | create NAME -new-password P [-email E] [-private] [-admin] | passwd NAME -new-password P | delete NAME [-purge]
  orgs    list | get NAME | create NAME [-private] | delete NAME [-purge]
  members list ORG | set ORG USER [-role read|write|admin] | remove ORG USER
  tokens  list USER | create USER NAME -scopes S[,S] [-expires D] | delete USER ID|NAME
          list -deploy OWNER | create -deploy OWNER NAME -scopes S [-types T[,T]] [-expires D] | delete -deploy OWNER ID|NAME

-url, -user and -password default to $REGKIT_URL, $REGKIT_ADMIN_USER (else admin) and
$REGKIT_ADMIN_PASSWORD; -new-password to $REGKIT_NEW_PASSWORD ("-" reads stdin).
A user or organization that still owns repositories or packages is deleted only with -purge,
which deletes them too.`

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
	var (
		base, user, pass                                string
		newPassword, email, role, scopes, types, deploy string
		private, admin, purge                           bool
		expires                                         time.Duration
	)
	fs := flag.NewFlagSet("regkit admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, adminUsage) }
	fs.StringVar(&base, "url", os.Getenv("REGKIT_URL"), "registry base URL (env REGKIT_URL)")
	fs.StringVar(&user, "user", envOr("REGKIT_ADMIN_USER", "admin"), "user name (env REGKIT_ADMIN_USER)")
	fs.StringVar(&pass, "password", os.Getenv(adminPasswordEnv), "password (env "+adminPasswordEnv+")")
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
	if base == "" {
		return fmt.Errorf("%w: -url (or REGKIT_URL) is required", usageError(stderr))
	}
	if _, err := url.Parse(base); err != nil {
		return fmt.Errorf("%w: -url: %w", errUsage, err)
	}
	if len(pos) == 1 && pos[0] == "whoami" {
		pos = append(pos, "")
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
	needPassword := func() error {
		if err := want(3); err != nil {
			return err
		}
		if newPassword == "" {
			return fmt.Errorf("%w: -new-password is required", errUsage)
		}
		return nil
	}
	var opts []accounts.Option
	if user != "" || pass != "" {
		opts = append(opts, accounts.WithBasicAuth(user, pass))
	}
	c := accounts.NewClient(base, append(opts, accounts.WithHTTPClient(&http.Client{Timeout: time.Minute}))...)
	arg := func(i int) string { return safe(pos, i) }
	var out any // the answer to print; nil prints "ok"
	switch pos[0] + " " + pos[1] {
	case "whoami ":
		out, err = c.CurrentUser(ctx)
	case "users get":
		if err = want(3); err == nil {
			out, err = c.User(ctx, arg(2))
		}
	case "orgs get":
		if err = want(3); err == nil {
			out, err = c.Org(ctx, arg(2))
		}
	case "users list":
		if err = want(2); err == nil {
			out, err = c.Users(ctx)
		}
	case "users create":
		if err = needPassword(); err == nil {
			out, err = c.CreateUser(ctx, accounts.AccountOptions{Username: arg(2), Password: &newPassword, Email: &email, Visibility: &visibility, Admin: &admin})
		}
	case "users passwd":
		if err = needPassword(); err == nil {
			out, err = c.EditUser(ctx, arg(2), accounts.AccountOptions{Password: &newPassword})
		}
	case "users delete":
		if err = want(3); err == nil {
			err = c.DeleteUser(ctx, arg(2), purge)
		}
	case "orgs list":
		if err = want(2); err == nil {
			out, err = c.Orgs(ctx)
		}
	case "orgs create":
		if err = want(3); err == nil {
			out, err = c.CreateOrg(ctx, accounts.AccountOptions{Username: arg(2), Visibility: &visibility})
		}
	case "orgs delete":
		if err = want(3); err == nil {
			err = c.DeleteOrg(ctx, arg(2), purge)
		}
	case "members list":
		if err = want(3); err == nil {
			out, err = c.Members(ctx, arg(2))
		}
	case "members set":
		if err = want(4); err == nil {
			err = c.SetMember(ctx, arg(2), arg(3), role)
		}
	case "members remove":
		if err = want(4); err == nil {
			err = c.RemoveMember(ctx, arg(2), arg(3))
		}
	case "tokens list", "tokens create", "tokens delete":
		first := 3 // index of the first argument after the owner
		if deploy != "" {
			first = 2
		}
		switch pos[1] {
		case "list":
			if err = want(first); err != nil {
				break
			}
			if deploy != "" {
				out, err = c.DeployTokens(ctx, deploy)
			} else {
				out, err = c.Tokens(ctx, arg(2))
			}
		case "create":
			if err = want(first + 1); err == nil && scopes == "" {
				err = fmt.Errorf("%w: -scopes is required", errUsage)
			}
			if err != nil {
				break
			}
			o := accounts.TokenOptions{Name: arg(first), Scopes: splitList(scopes), ExpiresAt: expiresAt}
			if deploy != "" {
				o.PackageTypes = splitList(types)
				out, err = c.CreateDeployToken(ctx, deploy, o)
			} else {
				out, err = c.CreateToken(ctx, arg(2), o)
			}
		case "delete":
			if err = want(first + 1); err != nil {
				break
			}
			if deploy != "" {
				err = c.DeleteDeployToken(ctx, deploy, arg(first))
			} else {
				err = c.DeleteToken(ctx, arg(2), arg(first))
			}
		}
	default:
		return usageError(stderr)
	}
	if err != nil {
		return err
	}
	if out == nil {
		fmt.Fprintln(stdout, "ok")
		return nil
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
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
