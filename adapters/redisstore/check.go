package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrUnsafeConfig reports a Redis configuration under which the Store
// cannot keep its promises.
const ErrUnsafeConfig constError = "redisstore: unsafe Redis configuration"

// constError is the type of the package's sentinel error: a string
// constant, so that no importer can change what it matches.
type constError string

func (e constError) Error() string { return string(e) }

// Check verifies that the server will not silently drop what the Store
// writes. Every key the Store writes has a TTL, so under any maxmemory
// policy but noeviction (volatile-lru is the default of several managed
// services) Redis may evict revocations and consumed refresh tokens when
// memory runs short: revoked tokens would be accepted again and refresh
// token reuse would go unnoticed, with no error anywhere. Check reads the
// policy from INFO (allowed where CONFIG is not) on every master and fails
// with ErrUnsafeConfig unless it is noeviction. Call it at start-up.
//
// Durability is the operator's part: with snapshots only, or asynchronous
// replication and a failover, a crash can roll back revocations and
// rotations. Production deployments want appendonly yes and, with replicas,
// min-replicas-to-write.
func (s *Store) Check(ctx context.Context) error {
	check := func(ctx context.Context, c redis.Cmdable) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("redisstore: reading INFO memory: %w", err)
		}
		policy := infoField(info, "maxmemory_policy")
		if policy != "noeviction" {
			return fmt.Errorf("%w: maxmemory-policy is %q, want noeviction: Redis could evict revocations", ErrUnsafeConfig, policy)
		}
		return nil
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return check(ctx, c) })
	}
	return check(ctx, s.client)
}

// infoField returns the value of name in an INFO reply ("name:value" lines).
func infoField(info, name string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), name+":"); ok {
			return v
		}
	}
	return ""
}
