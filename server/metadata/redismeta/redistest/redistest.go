// Package redistest starts real redis-server processes for tests: a
// standalone server (Start), one that can be killed and restarted
// (StartProcess), a cluster (StartCluster) or a master with a Sentinel
// (StartSentinel), each on free 127.0.0.1 ports in a temporary
// directory, stopped when the test ends.
// Tests never assume that a Redis is already running.
//
// The redis-server binary comes from $REGKIT_REDIS_SERVER, $PATH or
// /usr/bin/redis-server. When it is missing the test fails (it is never
// skipped) with instructions to install it.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	startAttempts = 5
	startTimeout  = 15 * time.Second
	stopTimeout   = 5 * time.Second
	clusterSlots  = 16384
)

// Start starts a standalone redis-server without persistence on a free
// port of 127.0.0.1 and returns its address ("127.0.0.1:port"). The server
// is stopped in t.Cleanup.
func Start(t testing.TB) (addr string) {
	t.Helper()
	bin := serverBinary(t)
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s, err := startServer(t, bin, port)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return s.addr
	}
	t.Fatalf("redistest: redis-server did not start after %d attempts: %v", startAttempts, errors.Join(errs...))
	return ""
}

// StartCluster starts a Redis Cluster of n masters (no replicas) on free
// ports of 127.0.0.1, assigns the 16384 slots evenly, joins the nodes and
// waits until every node reports cluster_state:ok. It returns the nodes'
// addresses; the nodes are stopped in t.Cleanup.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: StartCluster(%d): need at least one node", n)
	}
	nodes := startClusterNodes(t, n, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clients := nodeClients(t, nodes)
	joinCluster(ctx, t, nodes, clients, n)
	addrs := make([]string, n)
	for i, s := range nodes {
		addrs[i] = s.addr
	}
	for {
		ready, why := true, ""
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				ready, why = false, fmt.Sprintf("%s: CLUSTER INFO: %v", addrs[i], err)
				break
			}
			if !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_assigned:16384") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				ready, why = false, fmt.Sprintf("%s:\n%s", addrs[i], info)
				break
			}
		}
		if ready {
			return addrs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: cluster did not become ready: %s", why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartSentinel starts a standalone redis-server as the master "mymaster"
// and one Redis Sentinel (quorum 1) monitoring it, on free ports of
// 127.0.0.1, and waits until the Sentinel names the master. It returns
// the Sentinel's address and the master's name; both are stopped in
// t.Cleanup.
func StartSentinel(t testing.TB) (sentinelAddr, masterName string) {
	t.Helper()
	const name = "mymaster"
	master := Start(t)
	bin := serverBinary(t)
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		dir, err := os.MkdirTemp(t.TempDir(), "sentinel-")
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		host, mport, _ := net.SplitHostPort(master)
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte("sentinel monitor "+name+" "+host+" "+mport+" 1\n"), 0o644); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s, err := launchWith(t, bin, dir, port, []string{conf, "--sentinel"})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: s.addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		for {
			addr, err := c.GetMasterAddrByName(ctx, name).Result()
			if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == master {
				return s.addr, name
			}
			select {
			case <-ctx.Done():
				t.Fatalf("redistest: the Sentinel on %s does not name the master %s: %v, %v", s.addr, master, addr, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	t.Fatalf("redistest: redis-server --sentinel did not start after %d attempts: %v", startAttempts, errors.Join(errs...))
	return "", ""
}

type server struct {
	addr    string
	port    int
	busPort int
	kill    func() // SIGKILL, and wait for the exit
}

// Process is a standalone redis-server that a test can kill and start
// again on the same port and data directory, as in an outage.
type Process struct {
	// Addr is the server's address, "127.0.0.1:port"; it stays the same
	// across Restart.
	Addr string

	t     testing.TB
	bin   string
	dir   string
	port  int
	mu    sync.Mutex
	alive *server // nil while killed
}

// StartProcess starts a standalone redis-server like Start, but with an
// append-only file fsynced on every write, so that everything it
// acknowledged survives Kill and Restart. It is stopped in t.Cleanup.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	p := &Process{t: t, bin: serverBinary(t)}
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		dir, err := os.MkdirTemp(t.TempDir(), "redis-")
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s, err := launch(t, p.bin, dir, port, persistent...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Addr, p.dir, p.port, p.alive = s.addr, dir, port, s
		return p
	}
	t.Fatalf("redistest: redis-server did not start after %d attempts: %v", startAttempts, errors.Join(errs...))
	return nil
}

// persistent are the redis-server options of StartProcess.
var persistent = []string{"--appendonly", "yes", "--appendfsync", "always"}

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited: connections to it are refused from then on. Killing a
// killed server does nothing.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.alive != nil {
		p.alive.kill()
		p.alive = nil
	}
}

// Restart starts a killed server again on the same port and data
// directory and waits until it answers PING, failing the test when it
// does not. Restarting a running server does nothing.
func (p *Process) Restart() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.alive != nil {
		return
	}
	s, err := launch(p.t, p.bin, p.dir, p.port, persistent...)
	if err != nil {
		p.t.Fatalf("redistest: restart: %v", err)
	}
	p.alive = s
}

// serverBinary finds redis-server or fails the test.
func serverBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REGKIT_REDIS_SERVER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	t.Fatalf("redistest: redis-server not found in $PATH or /usr/bin. Install it with " +
		"`apt-get install -y redis-server` (`make test` installs it), or set $REGKIT_REDIS_SERVER " +
		"to its path. Tests that need Redis are never skipped.")
	return ""
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts redis-server on port and waits until it answers
// PING. On success the process is stopped in t.Cleanup; on failure it is
// stopped already and the error quotes the server's log.
func startServer(t testing.TB, bin string, port int, extra ...string) (*server, error) {
	dir, err := os.MkdirTemp(t.TempDir(), "redis-")
	if err != nil {
		return nil, err
	}
	return launch(t, bin, dir, port, extra...)
}

// launch starts redis-server on port in dir (see startServer); options
// in extra override the defaults.
func launch(t testing.TB, bin, dir string, port int, extra ...string) (*server, error) {
	return launchWith(t, bin, dir, port, nil, extra...)
}

// launchWith is launch with arguments before the options (a config file
// and --sentinel).
func launchWith(t testing.TB, bin, dir string, port int, pre []string, extra ...string) (*server, error) {
	logFile := filepath.Join(dir, "redis.log")
	args := append(slices.Clone(pre), []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", logFile,
	}...)
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	failure := func(why string) error {
		stop()
		logText, _ := os.ReadFile(logFile)
		return fmt.Errorf("redis-server on %s %s; output: %s; log: %s", addr, why, bytes.TrimSpace(out.Bytes()), bytes.TrimSpace(logText))
	}

	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return nil, failure("exited")
		default:
		}
		if time.Now().After(deadline) {
			return nil, failure(fmt.Sprintf("did not answer PING within %v (%v)", startTimeout, err))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(stop)
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	return &server{addr: addr, port: port, kill: kill}, nil
}

// startClusterNodes starts count cluster-enabled redis-servers on free
// ports (retrying a port taken meanwhile) with cluster-node-timeout
// nodeTimeout, and extra arguments.
func startClusterNodes(t testing.TB, count int, nodeTimeout time.Duration, extra ...string) []*server {
	t.Helper()
	bin := serverBinary(t)
	nodes := make([]*server, count)
	for i := range nodes {
		var errs []error
		for range startAttempts {
			port, err := freePort()
			if err != nil {
				t.Fatalf("redistest: %v", err)
			}
			bus, err := freePort()
			if err != nil {
				t.Fatalf("redistest: %v", err)
			}
			args := append([]string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
			}, extra...)
			s, err := startServer(t, bin, port, args...)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.busPort = bus
			nodes[i] = s
			break
		}
		if nodes[i] == nil {
			t.Fatalf("redistest: cluster node %d did not start after %d attempts: %v", i, startAttempts, errors.Join(errs...))
		}
	}
	return nodes
}

// nodeClients opens a client on each node, closed in t.Cleanup.
func nodeClients(t testing.TB, nodes []*server) []*redis.Client {
	clients := make([]*redis.Client, len(nodes))
	for i, s := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.addr})
		t.Cleanup(func() { _ = clients[i].Close() })
	}
	return clients
}

// joinCluster spreads the slots evenly over the first masters nodes and
// has the first node meet every other.
func joinCluster(ctx context.Context, t testing.TB, nodes []*server, clients []*redis.Client, masters int) {
	t.Helper()
	for i := range masters {
		lo, hi := i*clusterSlots/masters, (i+1)*clusterSlots/masters-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, nodes[i].addr, err)
		}
	}
	for _, s := range nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", s.port, s.busPort).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER MEET %s: %v", s.addr, err)
		}
	}
}
