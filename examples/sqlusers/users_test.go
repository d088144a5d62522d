package main

import (
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// newUsersDB returns a users table in a new SQLite file with alice in it,
// closed when the test ends.
func newUsersDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := openUsers(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := addUser(t.Context(), db, demoUsername, demoPassword, demoSubject, []string{"profile", "email"}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLookupUser(t *testing.T) {
	db := newUsersDB(t)
	// Rows written directly, to reach scopes values addUser never writes.
	for _, row := range [][]any{
		{"bob", "user-2", nil},
		{"carol", "user-3", ""},
		{"dave", "user-4", `say"hi"`},
	} {
		if _, err := db.ExecContext(t.Context(),
			`INSERT INTO users (username, password_hash, subject, scopes) VALUES (?, 'hash', ?, ?)`,
			row...); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		username string
		want     *oauth2.User
		wantErr  error
		// wantServerErr: an error, but not ErrUserNotFound, which would
		// answer the client as for a wrong password.
		wantServerErr bool
	}{
		{name: "scopes listed", username: "alice", want: &oauth2.User{Subject: "user-1", Scopes: []string{"profile", "email"}}},
		{name: "NULL scopes: the client decides", username: "bob", want: &oauth2.User{Subject: "user-2"}},
		{name: "empty scopes: none", username: "carol", want: &oauth2.User{Subject: "user-3", Scopes: []string{}}},
		{name: "malformed scopes", username: "dave", wantServerErr: true},
		{name: "unknown user", username: "mallory", wantErr: oauth2.ErrUserNotFound},
		{name: "username compared exactly", username: "Alice", wantErr: oauth2.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hash, err := lookupUser(db)(t.Context(), tt.username)
			switch {
			case tt.wantServerErr:
				if err == nil || errors.Is(err, oauth2.ErrUserNotFound) {
					t.Fatalf("Got(lookup(%q)) error = %v, want a server error", tt.username, err)
				}
				return
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("Got(lookup(%q)) error = %v, want %v", tt.username, err, tt.wantErr)
			case tt.wantErr != nil:
				return
			}
			if got.Subject != tt.want.Subject || !slices.Equal(got.Scopes, tt.want.Scopes) ||
				(got.Scopes == nil) != (tt.want.Scopes == nil) {
				t.Errorf("Got(lookup(%q)) = %#v, want %#v", tt.username, got, tt.want)
			}
			if hash == "" {
				t.Errorf("Got(lookup(%q)) hash = %q, want the stored hash", tt.username, hash)
			}
		})
	}
}

// A database failure must not read as an unknown user: that would answer
// invalid_grant and hide the outage.
func TestLookupUserDatabaseError(t *testing.T) {
	db := newUsersDB(t)
	db.Close()
	_, _, err := lookupUser(db)(t.Context(), demoUsername)
	if err == nil || errors.Is(err, oauth2.ErrUserNotFound) {
		t.Fatalf("Got(lookup on a closed database) error = %v, want a server error", err)
	}
	if !strings.Contains(err.Error(), "database is closed") {
		t.Errorf("Got(lookup on a closed database) error = %v, want database/sql's cause in it", err)
	}
}

func TestAddUserKeepsExisting(t *testing.T) {
	db := newUsersDB(t)
	added, err := addUser(t.Context(), db, demoUsername, "another password", "user-9", nil)
	if err != nil {
		t.Fatal(err)
	}
	if added {
		t.Errorf("Got(addUser(existing)) = true, want false")
	}
	u, hash, err := lookupUser(db)(t.Context(), demoUsername)
	if err != nil {
		t.Fatal(err)
	}
	if u.Subject != demoSubject || oauth2.CheckPassword(hash, demoPassword) != nil {
		t.Errorf("Got(lookup after addUser(existing)) = %q and a hash of another password, want %q unchanged", u.Subject, demoSubject)
	}
}
