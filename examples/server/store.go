package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/adapters/pgstore"
	"github.com/oauth2kit/oauth2kit/adapters/redisstore"
	"github.com/oauth2kit/oauth2kit/adapters/sqlitestore"
	"github.com/oauth2kit/oauth2kit/oauth2"
	"github.com/oauth2kit/oauth2kit/store"
)

// kekEnv names the environment variable holding the key-encryption key
// (32 bytes, base64) that seals signing keys kept in Redis, PostgreSQL or SQLite.
const kekEnv = "OAUTH2KIT_KEY_ENCRYPTION_KEY"

// openStore opens the storage the -store URL names (parseFlags has already
// checked its form) and returns it with a function that releases it. The
// PostgreSQL and SQLite schemas are migrated here, so a fresh database just works.
func openStore(ctx context.Context, rawURL string) (store.Store, func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("store URL: %w", err)
	}
	switch u.Scheme {
	case "memory":
		return memstore.New(), func() {}, nil
	case "redis", "rediss":
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("store URL: %w", err)
		}
		client := redis.NewClient(opts)
		if err := client.Ping(ctx).Err(); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("connecting to Redis: %w", err)
		}
		st := redisstore.New(client)
		if err := st.Check(ctx); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("%w (set maxmemory-policy noeviction)", err)
		}
		return st, func() { client.Close() }, nil
	case "postgres", "postgresql":
		cfg, err := pgxpool.ParseConfig(rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("store URL: %w", err)
		}
		// When a store call times out, have the server cancel the statement
		// rather than let it commit after the caller gave up: a rotation
		// committed so would make the client's retry look like reuse.
		cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
		}
		st := pgstore.New(pool)
		if err := st.Migrate(ctx); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		return st, pool.Close, nil
	case "sqlite":
		path, err := sqlitePath(rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("store URL: %w", err)
		}
		db, err := sql.Open("sqlite", sqlitestore.DSN(path))
		if err != nil {
			return nil, nil, fmt.Errorf("opening SQLite: %w", err)
		}
		st := sqlitestore.New(db)
		if err := st.Migrate(ctx); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("opening SQLite: %w", err)
		}
		return st, func() { db.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("unsupported store %q", rawURL)
	}
}

// signingKeys returns the key set, shared through the store so that every
// instance on the same store signs and verifies alike and a restart keeps
// the keys (and so the access tokens issued before it).
func signingKeys(ctx context.Context, st store.Store, cfg config, logger *slog.Logger, meters metric.MeterProvider) (oauth2.Signer, error) {
	alg := cfg.alg
	if alg == "" {
		alg = oauth2.EdDSA
	}
	ks, ok := st.(store.KeyStore)
	if !ok {
		key, err := oauth2.GenerateKey(alg)
		if err != nil {
			return nil, err
		}
		return oauth2.NewKeySet(key), nil
	}
	// The memory store's keys never leave the process; any other store's
	// do, and parseFlags refused those without a KEK or the explicit flag.
	_, inProcess := st.(*memstore.Store)
	if cfg.kek == nil && !inProcess {
		logger.Warn("signing keys are stored unencrypted (-allow-unencrypted-keys); set " + kekEnv + " to 32 random bytes, base64-encoded, to seal them")
	}
	keys, err := oauth2.NewSharedKeySet(ctx, oauth2.SharedKeysConfig{
		Store:                ks,
		Algorithm:            alg,
		KeyEncryptionKey:     cfg.kek,
		AllowUnencryptedKeys: inProcess || cfg.allowUnencryptedKeys,
		RetainFor:            cfg.accessTTL + cfg.leeway + oauth2.DefaultKeyReloadInterval + oauth2.DefaultRetireGrace,
		Logger:               logger, // oauth2.key_rotated, from the instance that rotates
		MeterProvider:        meters,
	})
	if err != nil {
		return nil, err
	}
	// The algorithm only applies to keys generated from now on: for an
	// empty store, or at the next rotation (DefaultKeyRotateAfter). A
	// client that needs -alg would otherwise fail with no hint why.
	if active, err := keys.SigningKey(ctx); err == nil && active.Algorithm() != alg {
		logger.Warn("the store already holds a signing key of another algorithm, which keeps signing until the next rotation",
			"store_alg", active.Algorithm(), "alg", alg, "kid", active.ID())
	}
	return keys, nil
}

func keyEncryptionKey() ([]byte, error) {
	v := os.Getenv(kekEnv)
	if v == "" {
		return nil, nil
	}
	kek, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(kek) != 32 {
		return nil, errors.New(kekEnv + " must be 32 bytes, base64-encoded")
	}
	return kek, nil
}
