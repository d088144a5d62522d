package pgstore

import (
	"strings"
	"testing"
)

// The embedded migrations are numbered 1, 2, 3, ... and each is non-empty,
// so a misnamed or lost file fails here rather than at a user's Migrate.
func TestMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v, want nil", err)
	}
	if len(ms) == 0 {
		t.Fatalf("migrations() = none, want at least one")
	}
	for _, m := range ms {
		if strings.TrimSpace(m.sql) == "" {
			t.Errorf("migration %s is empty", m.name)
		}
	}
}
