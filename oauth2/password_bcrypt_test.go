package oauth2

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// password72 is as long as a password bcrypt reads in full.
var password72 = strings.Repeat("0123456789", 7) + "ab"

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("GenerateFromPassword() error = %v", err)
	}
	return string(h)
}

// bcrypt reads only the first 72 bytes of a password, so without a length
// check every extension of a 72-byte password would match its hash.
func TestCheckPasswordBcryptLongPassword(t *testing.T) {
	hash := bcryptHash(t, password72)
	tests := []struct {
		name     string
		password string
		wantErr  error
	}{
		{name: "exactly 72 bytes", password: password72},
		{name: "72 bytes and more", password: password72 + "extra", wantErr: ErrPasswordMismatch},
		{name: "73 bytes", password: password72 + "a", wantErr: ErrPasswordMismatch},
		{name: "71 bytes", password: password72[:71], wantErr: ErrPasswordMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckPassword(hash, tt.password); !errors.Is(err, tt.wantErr) {
				t.Errorf("Got(CheckPassword(hash, %d bytes)) = %v, want %v", len(tt.password), err, tt.wantErr)
			}
		})
	}
}

// User passwords and client secrets go through the same check.
func TestBcryptLongPasswordRefusedForUsersAndClients(t *testing.T) {
	hash := bcryptHash(t, password72)
	f := newFixture(t, func(c *IssuerConfig) {
		clients, err := NewStaticClients(Client{ID: "legacy", SecretHash: hash, GrantTypes: []string{GrantPassword}, Scopes: []string{"profile"}})
		if err != nil {
			t.Fatal(err)
		}
		// The first user's hash sets the dummy's cost: bcrypt, like the
		// known user's, so an unknown user takes the same path.
		users, err := NewStaticUsers(StaticUser{Username: "carol", PasswordHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		c.Clients, c.Users = clients, users
	})
	long := password72 + "extra"
	tests := []struct {
		name     string
		user, pw string
		wantErr  error
	}{
		{name: "user, exactly 72 bytes", user: "carol", pw: password72},
		{name: "user, longer", user: "carol", pw: long, wantErr: ErrInvalidGrant},
		{name: "unknown user, longer", user: "nobody", pw: long, wantErr: ErrInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.issuer.PasswordGrant(t.Context(), f.public, tt.user, tt.pw, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Got(PasswordGrant(%s, %d bytes)) error = %v, want %v", tt.user, len(tt.pw), err, tt.wantErr)
			}
		})
	}
	// Longer first: a verified secret is remembered, and the cache must not
	// be what answers.
	for _, tt := range []struct {
		name    string
		secret  string
		wantErr error
	}{
		{name: "client, longer", secret: long, wantErr: ErrInvalidClient},
		{name: "client, exactly 72 bytes", secret: password72},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.issuer.AuthenticateClient(t.Context(), "legacy", tt.secret)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Got(AuthenticateClient(legacy, %d bytes)) error = %v, want %v", len(tt.secret), err, tt.wantErr)
			}
		})
	}
}
