// Package testenv gives adapter tests a real Redis or PostgreSQL server: the
// one named by OAUTH2KIT_REDIS_URL or OAUTH2KIT_POSTGRES_URL when set, or else
// a container started with testcontainers-go from OAUTH2KIT_REDIS_IMAGE or
// OAUTH2KIT_POSTGRES_IMAGE (official images by default, so that a developer's
// machine just pulls them).
//
// RedisCluster starts a Redis Cluster of six containers from the same
// image; no URL replaces it.
//
// With no URL and no container engine a test is skipped, saying why, unless
// CI is set: in CI a missing server is a failure, never a skip.
//
// It is imported only by tests, and is a module of its own, so that
// testcontainers-go is never a requirement of the root module.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// Environment variables, and the images used when they are unset.
const (
	RedisURLEnv      = "OAUTH2KIT_REDIS_URL"
	PostgresURLEnv   = "OAUTH2KIT_POSTGRES_URL"
	RedisImageEnv    = "OAUTH2KIT_REDIS_IMAGE"
	PostgresImageEnv = "OAUTH2KIT_POSTGRES_IMAGE"

	DefaultRedisImage    = "redis:7-alpine"
	DefaultPostgresImage = "postgres:16-alpine"
)

// Server is a running server for a test.
type Server struct {
	// URL connects to it: redis://host:port/0 or postgres://user:pass@host:port/db.
	URL string
	// Container is nil when the server came from an environment URL.
	Container testcontainers.Container
}

// Stop stops the server's container, keeping its data; Start starts it again
// on the same host port, so clients reconnect to the same URL.
func (s *Server) Stop(ctx context.Context) error {
	timeout := 10 * time.Second
	return s.Container.Stop(ctx, &timeout)
}

// Start starts a stopped container again.
func (s *Server) Start(ctx context.Context) error { return s.Container.Start(ctx) }

// Options change how a server is obtained.
type Options struct {
	// Own asks for a container of the test's own even when a URL is set,
	// for tests that stop and restart the server.
	Own bool
}

// Redis returns a Redis server for t, started for it and removed when it
// ends unless OAUTH2KIT_REDIS_URL names one.
func Redis(t testing.TB, opts Options) *Server {
	t.Helper()
	if url := os.Getenv(RedisURLEnv); url != "" && !opts.Own {
		return &Server{URL: url}
	}
	requireEngine(t, RedisURLEnv)
	ctx := t.Context()
	port := fixedPort(t, "6379/tcp")
	ctr, err := tcredis.Run(ctx, image(RedisImageEnv, DefaultRedisImage), port)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("testenv: starting Redis container: %v", err)
	}
	url, err := ctr.ConnectionString(ctx)
	if err != nil {
		t.Fatalf("testenv: Redis connection string: %v", err)
	}
	return &Server{URL: url, Container: ctr}
}

// Postgres returns a PostgreSQL server for t, started for it and removed
// when it ends unless OAUTH2KIT_POSTGRES_URL names one.
func Postgres(t testing.TB, opts Options) *Server {
	t.Helper()
	if url := os.Getenv(PostgresURLEnv); url != "" && !opts.Own {
		return &Server{URL: url}
	}
	requireEngine(t, PostgresURLEnv)
	ctx := t.Context()
	port := fixedPort(t, "5432/tcp")
	ctr, err := tcpostgres.Run(ctx, image(PostgresImageEnv, DefaultPostgresImage),
		tcpostgres.WithDatabase("oauth2kit"),
		tcpostgres.WithUsername("oauth2kit"),
		tcpostgres.WithPassword("oauth2kit"),
		tcpostgres.BasicWaitStrategies(),
		port,
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("testenv: starting PostgreSQL container: %v", err)
	}
	url, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		t.Fatalf("testenv: PostgreSQL connection string: %v", err)
	}
	return &Server{URL: url, Container: ctr}
}

func image(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// requireEngine skips t when no container engine answers and CI is not
// set, and fails it in CI, where the adapters must really be exercised.
func requireEngine(t testing.TB, urlEnv string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	provider, err := testcontainers.NewDockerProvider()
	if err == nil {
		defer provider.Close()
		err = provider.Health(ctx)
	}
	switch verdict, msg := noEngine(err, urlEnv, os.Getenv("CI")); verdict {
	case fail:
		t.Fatal(msg)
	case skip:
		t.Skip(msg)
	}
}

type verdict int

const (
	proceed verdict = iota
	skip
	fail
)

// noEngine decides what a test does when probing the engine gave err:
// proceed if there was no error, else skip with the reason on a developer's
// machine, or fail when ci is set, where a skip would hide that the real
// servers were never exercised. urlEnv names the variable that would have
// given a server instead, or is empty when only containers will do.
func noEngine(err error, urlEnv, ci string) (verdict, string) {
	if err == nil {
		return proceed, ""
	}
	msg := fmt.Sprintf("testenv: no container engine answers (%v)", err)
	remedy := "start Docker"
	if urlEnv != "" {
		msg += fmt.Sprintf(" and %s is not set", urlEnv)
		remedy += " or set " + urlEnv
	} else {
		msg += ", and only containers will do"
	}
	if ci != "" {
		return fail, msg + "; CI is set, so this is a failure, not a skip"
	}
	return skip, msg + ": skipping; " + remedy + " to run this test"
}

// fixedPort binds the container port to a free host port chosen now, rather
// than letting the engine pick one at each start, so the URL stays valid
// when a test stops and restarts the container.
func fixedPort(t testing.TB, containerPort string) testcontainers.CustomizeRequestOption {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: finding a free port: %v", err)
	}
	hostPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.PortBindings = network.PortMap{network.MustParsePort(containerPort): {{HostPort: hostPort}}}
	})
}
