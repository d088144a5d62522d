package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// The shape of the cluster RedisCluster starts: the fewest masters Redis
// Cluster accepts, each with one replica, so that any master can fail over.
const (
	clusterMasters  = 3
	clusterReplicas = 1
	clusterNodes    = clusterMasters * (1 + clusterReplicas)
)

// clusterNodeTimeout is how long the cluster's nodes wait before they deem
// an unresponsive node failed; a failover completes a few of these after a
// master stops. It is short, to keep failover tests quick, but long enough
// that two busy cores never make a live node look failed.
const clusterNodeTimeout = 2 * time.Second

// Cluster is a running Redis Cluster of three masters with one replica each,
// every node a container of the test's own on a Docker network of its own.
//
// Its nodes announce their addresses on that network, in CLUSTER SLOTS and
// in MOVED replies, which the test process on the host cannot reach (on
// Docker Desktop not even the network's IPs are routable). So a client is
// built with a dialer that maps each announced address to the node's
// published host port, or to whatever address the caller puts in front of
// the node, such as a proxy. Announcing host addresses instead
// (cluster-announce-ip/port) would break replication and the cluster bus,
// which use the same announced addresses between the nodes.
type Cluster struct {
	// Addrs are the nodes' addresses as the host dials them (host:port),
	// in the order the nodes were started; which of them are masters now,
	// Masters says.
	Addrs []string

	announced []string // Addrs[i] is where node i announces itself as announced[i]
	ids       []string // container IDs
}

// RedisCluster starts a Redis Cluster for t from OAUTH2KIT_REDIS_IMAGE and
// removes it when t ends. It returns once every node reports the cluster
// ok, with three masters, and every replica is in sync with its master.
//
// It skips or fails t as Redis does when no container engine answers, but
// OAUTH2KIT_REDIS_URL does not replace it: one node is no cluster.
func RedisCluster(t testing.TB) *Cluster {
	t.Helper()
	requireEngine(t, "")
	ctx := t.Context()
	nw, err := tcnetwork.New(ctx)
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("testenv: creating the cluster's network: %v", err)
	}

	ctrs := make([]*tcredis.RedisContainer, clusterNodes)
	errs := make([]error, clusterNodes)
	var wg sync.WaitGroup
	for i := range clusterNodes {
		port := fixedPort(t, "6379/tcp")
		wg.Go(func() {
			var ctr *tcredis.RedisContainer
			ctr, errs[i] = tcredis.Run(ctx, image(RedisImageEnv, DefaultRedisImage), port,
				tcnetwork.WithNetwork([]string{"node" + strconv.Itoa(i)}, nw),
				testcontainers.WithCmd("redis-server",
					"--protected-mode", "no",
					"--cluster-enabled", "yes",
					"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
					// A replica takes over however long its master has
					// been gone: the tests decide what may be lost.
					"--cluster-replica-validity-factor", "0",
					"--save", "", "--appendonly", "no"))
			testcontainers.CleanupContainer(t, ctr) // Cleanup may be called from any goroutine
			ctrs[i] = ctr
		})
	}
	wg.Wait()
	for i := range ctrs {
		if errs[i] != nil {
			t.Fatalf("testenv: starting Redis Cluster node %d: %v", i, errs[i])
		}
	}

	c := &Cluster{}
	for i, ctr := range ctrs {
		ip, err := ctr.ContainerIP(ctx)
		if err != nil || ip == "" {
			t.Fatalf("testenv: IP of Redis Cluster node %d on its network = %q, %v", i, ip, err)
		}
		host, err := ctr.Host(ctx)
		if err != nil {
			t.Fatalf("testenv: host of Redis Cluster node %d: %v", i, err)
		}
		port, err := ctr.MappedPort(ctx, "6379/tcp")
		if err != nil {
			t.Fatalf("testenv: host port of Redis Cluster node %d: %v", i, err)
		}
		c.Addrs = append(c.Addrs, net.JoinHostPort(host, strconv.Itoa(int(port.Num()))))
		c.announced = append(c.announced, net.JoinHostPort(ip, "6379"))
		c.ids = append(c.ids, ctr.GetContainerID())
	}

	// redis-cli picks three masters and makes each other node a replica
	// of one of them, in another container.
	create := append([]string{"redis-cli", "--cluster", "create"}, c.announced...)
	create = append(create, "--cluster-replicas", strconv.Itoa(clusterReplicas), "--cluster-yes")
	code, out, err := ctrs[0].Exec(ctx, create, tcexec.Multiplexed())
	if err != nil || code != 0 {
		text, _ := io.ReadAll(out)
		t.Fatalf("testenv: redis-cli --cluster create = exit %d, %v:\n%s", code, err, text)
	}
	if err := c.WaitHealthy(ctx, clusterMasters); err != nil {
		t.Fatalf("testenv: Redis Cluster never became healthy: %v", err)
	}
	return c
}

// NewClient returns a client of the cluster, closed when t ends, that dials
// node i at addrs[i] whatever address the node announces; nil addrs means
// c.Addrs. opts may be nil; its Addrs and Dialer are replaced.
func (c *Cluster) NewClient(t testing.TB, addrs []string, opts *redis.ClusterOptions) *redis.ClusterClient {
	t.Helper()
	if addrs == nil {
		addrs = c.Addrs
	}
	if len(addrs) != len(c.announced) {
		t.Fatalf("testenv: NewClient got %d addresses for %d nodes", len(addrs), len(c.announced))
	}
	var o redis.ClusterOptions
	if opts != nil {
		o = *opts
	}
	o.Addrs = addrs
	via := make(map[string]string, len(addrs))
	for i, a := range c.announced {
		via[a] = addrs[i]
	}
	var d net.Dialer
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := via[addr]; ok {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
	client := redis.NewClusterClient(&o)
	t.Cleanup(func() { client.Close() })
	return client
}

// Masters returns the addresses (from c.Addrs) of the nodes that are
// masters now, as the nodes themselves report it.
func (c *Cluster) Masters(ctx context.Context) ([]string, error) {
	var masters []string
	for _, addr := range c.Addrs {
		role, err := c.role(ctx, addr)
		if err != nil {
			return nil, err
		}
		if role == "master" {
			masters = append(masters, addr)
		}
	}
	return masters, nil
}

// Kill kills the node dialed at addr at once (docker kill, SIGKILL), as a
// crash would: it gets no chance to hand anything over to its replica.
func (c *Cluster) Kill(ctx context.Context, addr string) error {
	i := c.index(addr)
	if i < 0 {
		return fmt.Errorf("testenv: no cluster node at %s", addr)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.ContainerKill(ctx, c.ids[i], client.ContainerKillOptions{Signal: "SIGKILL"})
	return err
}

// WaitHealthy waits until, on every node that answers, the cluster state is
// ok, there are want masters each with every slot assigned, and every
// replica's link to its master is up; or until ctx ends. Nodes that do not
// answer, such as one killed, are left out.
func (c *Cluster) WaitHealthy(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*clusterNodeTimeout)
	defer cancel()
	var last error
	for {
		if last = c.healthy(ctx, want); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last: %w", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context, want int) error {
	masters, answered := 0, 0
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			node.Close()
			continue // a node that is down has no say
		}
		answered++
		if !strings.Contains(info, "cluster_state:ok") {
			node.Close()
			return fmt.Errorf("node %s: cluster state not ok", addr)
		}
		repl, err := node.Info(ctx, "replication").Result()
		node.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", addr, err)
		}
		switch {
		case strings.Contains(repl, "role:master"):
			masters++
		case !strings.Contains(repl, "master_link_status:up"):
			return fmt.Errorf("node %s: replica not in sync with its master", addr)
		}
	}
	if masters != want {
		return fmt.Errorf("%d of %d answering nodes are masters, want %d", masters, answered, want)
	}
	return nil
}

func (c *Cluster) role(ctx context.Context, addr string) (string, error) {
	node := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer node.Close()
	role, err := node.Do(ctx, "role").Slice()
	if err != nil {
		return "", fmt.Errorf("testenv: ROLE of %s: %w", addr, err)
	}
	s, _ := role[0].(string)
	return s, nil
}

func (c *Cluster) index(addr string) int {
	for i, a := range c.Addrs {
		if a == addr {
			return i
		}
	}
	return -1
}

// RedisClusterNode starts, for t, one Redis node in cluster mode that serves
// every slot by itself, as a managed "cluster mode" service with one shard
// does: a client of one node (redis.Client) reaches it, but its scripts
// may not touch keys of several slots. It is removed when t ends.
func RedisClusterNode(t testing.TB) *Server {
	t.Helper()
	requireEngine(t, "")
	ctx := t.Context()
	ctr, err := tcredis.Run(ctx, image(RedisImageEnv, DefaultRedisImage), fixedPort(t, "6379/tcp"),
		testcontainers.WithCmd("redis-server", "--protected-mode", "no", "--cluster-enabled", "yes",
			"--save", "", "--appendonly", "no"))
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("testenv: starting a Redis node in cluster mode: %v", err)
	}
	url, err := ctr.ConnectionString(ctx)
	if err != nil {
		t.Fatalf("testenv: Redis connection string: %v", err)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testenv: redis.ParseURL(%q): %v", url, err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.Do(ctx, "cluster", "addslotsrange", 0, 16383).Err(); err != nil {
		t.Fatalf("testenv: CLUSTER ADDSLOTSRANGE 0 16383: %v", err)
	}
	for {
		info, err := client.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return &Server{URL: url, Container: ctr}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: the Redis node in cluster mode never became ok: %v, %v", info, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
