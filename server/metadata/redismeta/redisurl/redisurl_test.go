package redisurl

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseSentinel(t *testing.T) {
	c, err := NewClient("redis+sentinel://user:p%40ss@s1:26379,s2:26380/mymaster/2?sentinel_password=spw&dial_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o, err := parseSentinel("redis", "user:p%40ss@s1:26379,s2:26380/mymaster/2?sentinel_password=spw&dial_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "mymaster" || o.DB != 2 || o.Username != "user" || o.Password != "p@ss" ||
		o.SentinelPassword != "spw" || len(o.SentinelAddrs) != 2 || o.SentinelAddrs[0] != "s1:26379" ||
		o.SentinelAddrs[1] != "s2:26380" || o.DialTimeout.String() != "3s" || o.TLSConfig != nil {
		t.Fatalf("options %+v", o)
	}
	o, err = parseSentinel("rediss", "h:1/m")
	if err != nil || o.TLSConfig == nil || o.MasterName != "m" || o.DB != 0 {
		t.Fatalf("rediss: %+v, %v", o, err)
	}
	for _, bad := range []string{"h:1", "h:1/", "h:1/m/1/2", "/m", "h:1/m/x"} {
		if _, err := parseSentinel("redis", bad); err == nil {
			t.Errorf("parseSentinel(%q) succeeded", bad)
		}
	}
}

func TestParseCluster(t *testing.T) {
	o, err := parseCluster("redis", "u:pw@a:7000,b:7001,c:7002?read_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Addrs) != 3 || o.Addrs[0] != "a:7000" || o.Addrs[2] != "c:7002" || o.Username != "u" ||
		o.Password != "pw" || o.ReadTimeout.String() != "2s" || o.TLSConfig != nil {
		t.Fatalf("options %+v", o)
	}
	if o, err := parseCluster("rediss", "a:7000"); err != nil || o.TLSConfig == nil {
		t.Fatalf("rediss: %+v, %v", o, err)
	}
	if _, err := parseCluster("redis", "a:7000/1"); err == nil {
		t.Error("cluster with db 1 accepted")
	}
	c, err := NewClient("redis+cluster://a:7000,b:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("client %T", c)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://u:secret@h:1/0":            "redis://u:xxxxx@h:1/0",
		"redis+cluster://:secret@a:1,b:2?x": "redis+cluster://:xxxxx@a:1,b:2?x",
		"redis://h:1":                       "redis://h:1",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenBounds: Open's client waits a bounded time for an unreachable
// Redis unless the URL says otherwise, on every kind of URL.
func TestOpenBounds(t *testing.T) {
	type got struct {
		dial, read, write, pool time.Duration
		retries, dialerRetries  int
	}
	of := func(t *testing.T, c redis.UniversalClient) got {
		t.Helper()
		switch c := c.(type) {
		case *redis.Client:
			o := c.Options()
			return got{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries}
		case *redis.ClusterClient:
			o := c.Options()
			return got{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries}
		}
		t.Fatalf("client %T", c)
		return got{}
	}
	bounded := got{DefaultDialTimeout, DefaultReadTimeout, DefaultReadTimeout, DefaultPoolTimeout, DefaultMaxRetries, DefaultDialerRetries}
	tests := []struct {
		name, url string
		want      got
	}{
		{"standalone", "redis://127.0.0.1:1/0", bounded},
		{"unix", "unix:///tmp/none.sock?db=1", bounded},
		{"sentinel", "redis+sentinel://127.0.0.1:1/m", bounded},
		{"cluster", "redis+cluster://127.0.0.1:1,127.0.0.1:2", bounded},
		{"explicit", "redis://127.0.0.1:1/0?dial_timeout=7s&read_timeout=4s&pool_timeout=9s&max_retries=5",
			got{7 * time.Second, 4 * time.Second, 4 * time.Second, 9 * time.Second, 5, DefaultDialerRetries}},
		{"explicit cluster", "redis+cluster://127.0.0.1:1?dialer_retries=3&write_timeout=6s&max_retries=-1",
			got{DefaultDialTimeout, DefaultReadTimeout, 6 * time.Second, DefaultPoolTimeout, -1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if g := of(t, c); g != tt.want {
				t.Fatalf("options %+v, want %+v", g, tt.want)
			}
		})
	}
}
