// Package redisurl opens go-redis clients from URLs: standalone
// (redis://, rediss://, unix://), Sentinel (redis+sentinel://) and Cluster
// (redis+cluster://), with the timeouts and retries bounded so that an
// unreachable Redis fails fast. See redismeta.Open for the URL forms.
package redisurl

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redact hides the password of rawURL for error messages.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, _ := strings.Cut(authority[:at], ":")
		authority = user + ":xxxxx" + authority[at:]
	}
	return scheme + "://" + authority + tail
}

// Bounds on the client of Open, each used unless the URL sets its option.
const (
	// DefaultDialTimeout bounds one connection attempt (dial_timeout),
	// TLS handshake included.
	DefaultDialTimeout = time.Second
	// DefaultReadTimeout bounds waiting for a reply (read_timeout), and
	// sending a command (write_timeout).
	DefaultReadTimeout = 3 * time.Second
	// DefaultPoolTimeout bounds waiting for a free connection when all
	// are busy (pool_timeout).
	DefaultPoolTimeout = 2 * time.Second
	// DefaultMaxRetries is how often a failed command is retried
	// (max_retries): once, so that a connection broken by a Redis restart
	// costs no error, but an outage is reported at once.
	DefaultMaxRetries = 1
	// DefaultDialerRetries is how many connection attempts one try makes
	// (dialer_retries).
	DefaultDialerRetries = 1
)

// bounds points at the timeout and retry fields of one kind of go-redis
// options.
type bounds struct {
	dial, read, write, pool *time.Duration
	retries, dialerRetries  *int
}

// apply sets every field whose option q does not name to its default.
func (b bounds) apply(q url.Values) {
	set := func(name string) bool { return q.Has(name) }
	if !set("dial_timeout") {
		*b.dial = DefaultDialTimeout
	}
	if !set("read_timeout") {
		*b.read = DefaultReadTimeout
	}
	if !set("write_timeout") && !set("read_timeout") {
		*b.write = DefaultReadTimeout
	}
	if !set("pool_timeout") {
		*b.pool = DefaultPoolTimeout
	}
	if !set("max_retries") {
		*b.retries = DefaultMaxRetries
	}
	if !set("dialer_retries") {
		*b.dialerRetries = DefaultDialerRetries
	}
}

// NewClient builds the client for rawURL without connecting.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("not a URL")
	}
	_, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("bad query: %w", err)
	}
	switch scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		bounds{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries}.apply(q)
		return redis.NewClient(o), nil
	case "redis+sentinel", "rediss+sentinel":
		o, err := parseSentinel(strings.TrimSuffix(scheme, "+sentinel"), rest)
		if err != nil {
			return nil, err
		}
		bounds{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries}.apply(q)
		return redis.NewFailoverClient(o), nil
	case "redis+cluster", "rediss+cluster":
		o, err := parseCluster(strings.TrimSuffix(scheme, "+cluster"), rest)
		if err != nil {
			return nil, err
		}
		bounds{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries}.apply(q)
		return redis.NewClusterClient(o), nil
	default:
		return nil, fmt.Errorf("unknown scheme %q (want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster)", scheme)
	}
}

// multiHost splits "[userinfo@]h1:p1,h2:p2[/path][?query]".
type multiHost struct {
	userinfo string // with the trailing "@", or ""
	hosts    []string
	path     string
	query    url.Values
}

func splitMultiHost(rest string) (multiHost, error) {
	var m multiHost
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return m, fmt.Errorf("bad query: %w", err)
	}
	m.query = q
	authority := rest
	if i := strings.Index(rest, "/"); i >= 0 {
		authority, m.path = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		m.userinfo, authority = authority[:at+1], authority[at+1:]
	}
	for _, h := range strings.Split(authority, ",") {
		if h = strings.TrimSpace(h); h != "" {
			m.hosts = append(m.hosts, h)
		}
	}
	if len(m.hosts) == 0 {
		return m, fmt.Errorf("no hosts")
	}
	return m, nil
}

// userPassword decodes userinfo ("user:password@") like net/url does.
func userPassword(userinfo string) (user, password string, err error) {
	if userinfo == "" {
		return "", "", nil
	}
	u, err := url.Parse("redis://" + userinfo + "host")
	if err != nil {
		return "", "", fmt.Errorf("bad user info: %w", err)
	}
	password, _ = u.User.Password()
	return u.User.Username(), password, nil
}

// parseSentinel translates redis+sentinel://[user:password@]hosts/master[/db]
// into go-redis's failover URL, whose user info is Sentinel's and whose
// master is a query option.
func parseSentinel(scheme, rest string) (*redis.FailoverOptions, error) {
	m, err := splitMultiHost(rest)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.Trim(m.path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return nil, fmt.Errorf("want /mastername[/db] after the Sentinel hosts, got %q", m.path)
	}
	q := m.query
	q.Set("master_name", parts[0])
	user, password, err := userPassword(m.userinfo)
	if err != nil {
		return nil, err
	}
	if user != "" {
		q.Set("username", user)
	}
	if password != "" {
		q.Set("password", password)
	}
	sentinelInfo := ""
	if su, sp := q.Get("sentinel_username"), q.Get("sentinel_password"); su != "" || sp != "" {
		sentinelInfo = url.UserPassword(su, sp).String() + "@"
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	path := ""
	if len(parts) == 2 {
		path = "/" + parts[1]
	}
	return redis.ParseFailoverURL(scheme + "://" + sentinelInfo + m.hosts[0] + path + "?" + q.Encode())
}

// parseCluster translates redis+cluster://[user:password@]hosts into
// go-redis's cluster URL, which names further hosts in addr options.
func parseCluster(scheme, rest string) (*redis.ClusterOptions, error) {
	m, err := splitMultiHost(rest)
	if err != nil {
		return nil, err
	}
	if p := strings.Trim(m.path, "/"); p != "" && p != "0" {
		return nil, fmt.Errorf("a cluster has only database 0, got path %q", m.path)
	}
	q := m.query
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	return redis.ParseClusterURL(scheme + "://" + m.userinfo + m.hosts[0] + "?" + q.Encode())
}
