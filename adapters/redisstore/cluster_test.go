package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/internal/testenv"
	"github.com/oauth2kit/oauth2kit/store"
	"github.com/oauth2kit/oauth2kit/storetest"
)

// TestCluster runs the storage contract's suite on a real Redis Cluster of
// three masters with a replica each, plain and with WithReplicaAcks, and its
// fault tier, then fails a master over under load. Each store has a prefix without a hash
// tag of its own, so that its keys spread over every master, as an
// application's do: the suite's pipelines, scripts and SCANs then cross
// nodes, which a single node never shows.
//
// The failover runs last: it leaves the cluster with a master that has no
// replica.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := testenv.RedisCluster(t)
	client := c.NewClient(t, nil, nil)
	slots := &slotChecker{}
	client.AddHook(slots)
	t.Cleanup(func() { slots.report(t) })

	// Each suite in a group of its own, so that its parallel subtests
	// are done before the failover.
	t.Run("Contract", func(t *testing.T) {
		newStore := func(*testing.T) store.Store {
			return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
		}
		storetest.Run(t, newStore)
		storetest.RunConcurrency(t, newStore)
	})
	t.Run("ContractWithReplicaAcks", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) store.Store {
			return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()), redisstore.WithReplicaAcks(1, 2*time.Second))
		})
	})
	// A proxy of the suite's in front of every node; each store on a
	// client of its own, since the suite breaks its connections.
	t.Run("FaultTier", func(t *testing.T) {
		storetest.RunFaults(t, c.Addrs, func(t *testing.T, addrs []string) store.Store {
			client := c.NewClient(t, addrs, &redis.ClusterOptions{ContextTimeoutEnabled: true})
			return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
		})
	})
	t.Run("redisstore/ReplicaAcksShortfall", func(t *testing.T) { testReplicaAcksShortfall(t, client) })
	t.Run("redisstore/FailoverLosesNoAcknowledgedWrite", func(t *testing.T) { testFailover(t, c) })
}

// A master has one replica, so a write asking for two is never acknowledged:
// the caller gets an error, never success. A rejected call writes nothing
// and keeps its sentinel.
func testReplicaAcksShortfall(t *testing.T, client *redis.ClusterClient) {
	ctx := t.Context()
	prefix := newPrefix()
	s := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithReplicaAcks(2, 50*time.Millisecond))
	plain := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	base := oauth2test.Now()
	if err := s.CreateRefreshToken(ctx, oauth2test.NewToken(base)); err == nil || errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateRefreshToken() with 2 replica acks of 1 replica = %v, want an error", err)
	}
	jti := oauth2test.NewID("jti")
	if err := s.RevokeAccessToken(ctx, jti, base.Add(time.Hour)); err == nil {
		t.Error("RevokeAccessToken() with 2 replica acks of 1 replica = nil, want an error")
	}
	// The revocation reached its master all the same: the error says it
	// was not confirmed, not that it did not happen.
	if revoked, err := plain.IsRevoked(ctx, jti, ""); err != nil || !revoked {
		t.Errorf("IsRevoked(jti whose revocation failed on acks) = %v, %v, want true", revoked, err)
	}

	tok := oauth2test.NewToken(base)
	mustCreate(ctx, t, plain, tok)
	next := oauth2test.Successor(tok, base.Add(time.Minute))
	mustRotate(ctx, t, plain, tok.Hash, next)
	err := s.RotateRefreshToken(ctx, tok.Hash, oauth2test.Successor(tok, base.Add(2*time.Minute)))
	wantErr(t, "RotateRefreshToken(consumed) with 2 replica acks", err, store.ErrReused)
}

// rotation is one RotateRefreshToken a caller was told succeeded.
type rotation struct {
	old  []byte
	next store.RefreshToken
}

// acknowledged collects the writes callers were told succeeded.
type acknowledged struct {
	mu        sync.Mutex
	rotations []rotation
	jtis      []string
	grants    []string
	reissued  []string // tokens presented again and accepted: must stay empty
	failures  int
	lastErr   error
}

// failed counts err, if any, the failure of a write.
func (a *acknowledged) failed(err error) {
	if err == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures++
	a.lastErr = err
}

// testFailover kills a master while workers rotate refresh tokens and revoke
// access tokens and grants through a store with WithReplicaAcks(1), waits
// for the master's replica to take over, keeps the load going, then checks
// every write a caller was told succeeded: a revocation is still there, a
// rotation's old token is consumed and its successor found, and no token
// is redeemed twice, neither by the workers, which present each token they
// rotated once more, nor afterwards.
//
// With one replica per master, the replica that takes over is the one that
// acknowledged, so the documented bound is that nothing acknowledged is lost.
func testFailover(t *testing.T, c *testenv.Cluster) {
	ctx := t.Context()
	// Short timeouts, so that calls to the killed master fail fast rather
	// than hold the workers up for the whole failover; and a short reload
	// interval, as the package doc advises, so that the client learns of
	// the new master soon after the failover.
	client := c.NewClient(t, nil, &redis.ClusterOptions{
		DialTimeout:                300 * time.Millisecond,
		ReadTimeout:                time.Second,
		WriteTimeout:               time.Second,
		ClusterStateReloadInterval: time.Second,
	})
	prefix := newPrefix()
	s := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithReplicaAcks(1, 500*time.Millisecond))

	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters() = %v, %v, want 3", masters, err)
	}
	slotsOf := make(map[string]map[int]bool, len(masters))
	for _, m := range masters {
		slotsOf[m] = ownSlots(t, m)
	}

	var acked acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 6
	for range workers {
		wg.Go(func() { rotateAndRevoke(ctx, s, &acked, stop) })
	}

	// The victim is the master of the most grants rotated so far, once
	// it has ten: a kill of a master holding none would prove nothing.
	onMaster := func() map[string]int {
		acked.mu.Lock()
		defer acked.mu.Unlock()
		n := map[string]int{}
		for _, r := range acked.rotations {
			sl := slot("{rt:" + r.next.GrantID + "}")
			for m, own := range slotsOf {
				if own[sl] {
					n[m]++
				}
			}
		}
		return n
	}
	var victim string
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts := onMaster()
		for m, n := range counts {
			if n >= 10 && n >= counts[victim] {
				victim = m
			}
		}
		if victim != "" {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("after 30s, acknowledged rotations per master %v of %d, masters %v; %d writes failed, the last with %v",
				counts, len(acked.rotations), masters, acked.failures, acked.lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	onVictim := func() int { return onMaster()[victim] }
	before := onVictim()
	if err := c.Kill(ctx, victim); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("Kill(%s) error = %v", victim, err)
	}
	killed := time.Now()
	if err := c.WaitHealthy(ctx, 3); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("no replica took over from the killed master: %v", err)
	}
	took := time.Since(killed)
	time.Sleep(time.Second) // load on the new master too
	close(stop)
	wg.Wait()
	t.Logf("failover took %v; %d acknowledged rotations on the killed master before it died; in all %d rotations, %d access token and %d grant revocations acknowledged, %d writes failed",
		took.Round(time.Millisecond), before, len(acked.rotations), len(acked.jtis), len(acked.grants), acked.failures)

	for _, tok := range acked.reissued {
		t.Errorf("a consumed refresh token was rotated again: %s", tok)
	}
	// Checks go through a store without WithReplicaAcks: the promoted
	// master has no replica left to acknowledge anything.
	check := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	for _, jti := range acked.jtis {
		if revoked, err := check.IsRevoked(ctx, jti, ""); err != nil || !revoked {
			t.Errorf("IsRevoked(acknowledged jti %s) = %v, %v, want true", jti, revoked, err)
		}
	}
	for _, g := range acked.grants {
		if revoked, err := check.IsRevoked(ctx, "", g); err != nil || !revoked {
			t.Errorf("IsRevoked(acknowledged grant %s) = %v, %v, want true", g, revoked, err)
		}
	}
	for _, r := range acked.rotations {
		old, err := check.GetRefreshToken(ctx, r.old)
		if err != nil || !old.Consumed() {
			t.Errorf("GetRefreshToken(old token of an acknowledged rotation, grant %s) = consumed %v, %v, want consumed", r.next.GrantID, old.Consumed(), err)
		}
		if _, err := check.GetRefreshToken(ctx, r.next.Hash); err != nil {
			t.Errorf("GetRefreshToken(successor of an acknowledged rotation, grant %s) = %v, want found", r.next.GrantID, err)
		}
		again := oauth2test.Successor(r.next, oauth2test.Now())
		if err := check.RotateRefreshToken(ctx, r.old, again); !errors.Is(err, store.ErrReused) {
			t.Errorf("RotateRefreshToken(old token of an acknowledged rotation, grant %s) = %v, want %v", r.next.GrantID, err, store.ErrReused)
		}
	}
}

// rotateAndRevoke runs chains of rotations until stop is closed, recording
// in acked each rotation and revocation its call acknowledged. After each
// acknowledged rotation it presents the old token again, which must never
// succeed. A call that fails has an unknown outcome, so the chain it was on
// is dropped for a new one.
func rotateAndRevoke(ctx context.Context, s *redisstore.Store, acked *acknowledged, stop <-chan struct{}) {
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 3*time.Second) }
	var cur store.RefreshToken
	live := false
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := call()
		if !live {
			cur = oauth2test.NewToken(oauth2test.Now())
			err := s.CreateRefreshToken(cctx, cur)
			acked.failed(err)
			live = err == nil
			cancel()
			continue
		}
		next := oauth2test.Successor(cur, oauth2test.Now())
		if err := s.RotateRefreshToken(cctx, cur.Hash, next); err != nil {
			acked.failed(err)
			cancel()
			live = false
			continue
		}
		acked.mu.Lock()
		acked.rotations = append(acked.rotations, rotation{old: cur.Hash, next: next})
		acked.mu.Unlock()
		if err := s.RotateRefreshToken(cctx, cur.Hash, oauth2test.Successor(cur, oauth2test.Now())); err == nil {
			acked.mu.Lock()
			acked.reissued = append(acked.reissued, hexOf(cur.Hash))
			acked.mu.Unlock()
		}
		cur = next
		jti := oauth2test.NewID("jti")
		if s.RevokeAccessToken(cctx, jti, oauth2test.Now().Add(time.Hour)) == nil {
			acked.mu.Lock()
			acked.jtis = append(acked.jtis, jti)
			acked.mu.Unlock()
		}
		if i%5 == 0 && s.RevokeGrant(cctx, cur.GrantID, oauth2test.Now().Add(time.Hour)) == nil {
			acked.mu.Lock()
			acked.grants = append(acked.grants, cur.GrantID)
			acked.mu.Unlock()
		}
		cancel()
	}
}

// ownSlots returns the slots the node at addr serves, from its own line
// ("myself") of CLUSTER NODES.
func ownSlots(t *testing.T, addr string) map[int]bool {
	t.Helper()
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer node.Close()
	nodes, err := node.ClusterNodes(t.Context()).Result()
	if err != nil {
		t.Fatalf("CLUSTER NODES on %s: %v", addr, err)
	}
	own := map[int]bool{}
	sc := bufio.NewScanner(strings.NewReader(nodes))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !strings.Contains(fields[2], "myself") {
			continue
		}
		for _, r := range fields[8:] {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			from, err1 := strconv.Atoi(lo)
			to, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				continue // a slot being migrated, "[...]"
			}
			for s := from; s <= to; s++ {
				own[s] = true
			}
		}
	}
	if len(own) == 0 {
		t.Fatalf("CLUSTER NODES on %s shows no slots of its own:\n%s", addr, nodes)
	}
	return own
}

// TestOneNodeInClusterMode runs the contract's suite through a client of
// one node (redis.Client) on a node in cluster mode that serves every slot,
// as a managed one-shard "cluster mode" service does. Such a node refuses
// the single-node scripts, which touch keys of several slots: the Store
// must notice at its first call and keep to one slot per script.
func TestOneNodeInClusterMode(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisClusterNode(t)
	client := newClient(t, srv.URL)
	newStore := func(*testing.T) store.Store {
		return redisstore.New(client, redisstore.WithKeyPrefix(newPrefix()))
	}
	storetest.Run(t, newStore)
	storetest.RunConcurrency(t, newStore)
}
