package testenv_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/internal/testenv"
)

// The servers testenv hands out answer, and a container of the test's own
// survives a stop and start on the same URL.
func TestRedisRestartKeepsURL(t *testing.T) {
	srv := testenv.Redis(t, testenv.Options{Own: true})
	opts, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatalf("ParseURL(%q) error = %v", srv.URL, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET error = %v", err)
	}
	if err := srv.Stop(t.Context()); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Fatalf("PING while stopped succeeded, want an error")
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if got, err := c.Get(t.Context(), "k").Result(); err != nil || got != "v" {
		t.Errorf("GET after restart = %q, %v, want \"v\"", got, err)
	}
}

func TestPostgres(t *testing.T) {
	srv := testenv.Postgres(t, testenv.Options{})
	conn, err := pgx.Connect(t.Context(), srv.URL)
	if err != nil {
		t.Fatalf("Connect(%q) error = %v", srv.URL, err)
	}
	defer conn.Close(t.Context())
	var one int
	if err := conn.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("SELECT 1 = %d, %v", one, err)
	}
}
