package oauth2

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestCheckPassword(t *testing.T) {
	argon, err := HashPasswordWith("s3cret", cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		wantErr              error
		wantAnyErr           bool
	}{
		{name: "argon2id match", hash: argon, password: "s3cret"},
		{name: "argon2id mismatch", hash: argon, password: "S3cret", wantErr: ErrPasswordMismatch},
		{name: "bcrypt match", hash: string(bc), password: "s3cret"},
		{name: "bcrypt mismatch", hash: string(bc), password: "nope", wantErr: ErrPasswordMismatch},
		{name: "unknown format", hash: "plaintext", password: "plaintext", wantAnyErr: true},
		{name: "truncated argon2id", hash: argon[:len(argon)-50], password: "s3cret", wantAnyErr: true},
		{name: "huge argon2 memory", hash: "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantAnyErr: true},
		{name: "bad bcrypt", hash: "$2a$10$short", password: "x", wantAnyErr: true},
		// A day of CPU per check if it were honoured.
		{name: "hostile bcrypt cost", hash: strings.Replace(string(bc), "$04$", "$31$", 1), password: "s3cret", wantAnyErr: true},
		{name: "hostile argon2 threads", hash: "$argon2id$v=19$m=64,t=1,p=255$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantAnyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.hash, tt.password)
			switch {
			case tt.wantAnyErr:
				if err == nil || errors.Is(err, ErrPasswordMismatch) {
					t.Errorf("CheckPassword() error = %v, want a format error", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("CheckPassword() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHashPasswordFormat(t *testing.T) {
	h, err := HashPasswordWith("pw", Argon2Params{Memory: 64, Time: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=2,p=1$") {
		t.Errorf("HashPasswordWith() = %q, want PHC argon2id format", h)
	}
	if _, err := HashPasswordWith("pw", Argon2Params{}); err == nil {
		t.Errorf("HashPasswordWith(zero params) error = nil, want an error")
	}
}

func TestPasswordAuthenticator(t *testing.T) {
	lookups := 0
	hash := cheapHash(t, "pw")
	a, err := NewPasswordAuthenticator(func(_ context.Context, name string) (*User, string, error) {
		lookups++
		switch name {
		case "ann":
			return &User{Subject: "user-1"}, hash, nil
		case "broken":
			return nil, "", errors.New("db down")
		}
		return nil, "", ErrUserNotFound
	}, hash)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		wantSub        string
		wantErr        error
	}{
		{name: "ok", user: "ann", pw: "pw", wantSub: "user-1"},
		{name: "wrong password", user: "ann", pw: "px", wantErr: ErrInvalidCredentials},
		{name: "unknown user", user: "zed", pw: "pw", wantErr: ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := a.Authenticate(t.Context(), tt.user, tt.pw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && u.Subject != tt.wantSub {
				t.Errorf("Authenticate() = %q, want %q", u.Subject, tt.wantSub)
			}
		})
	}
	if _, err := a.Authenticate(t.Context(), "broken", "pw"); err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authenticate(lookup failure) error = %v, want a server error, not invalid credentials", err)
	}
}

// With every hashing slot taken, a password check sheds load instead of
// queueing without bound, and the token endpoint says 503, not 401 or 400.
func TestPasswordChecksShedLoad(t *testing.T) {
	f := newFixture(t)
	fillHashSlots(t)
	if _, err := f.issuer.PasswordGrant(t.Context(), f.public, aliceName, alicePassword, nil); !errors.Is(err, ErrTemporarilyUnavailable) || !errors.Is(err, ErrOverloaded) {
		t.Errorf("PasswordGrant() error = %v, want %v wrapping %v", err, ErrTemporarilyUnavailable, ErrOverloaded)
	}
	for _, id := range []string{confID, "ghost"} {
		if _, err := f.issuer.AuthenticateClient(t.Context(), id, confSecret); !errors.Is(err, ErrTemporarilyUnavailable) {
			t.Errorf("AuthenticateClient(%q) error = %v, want %v", id, err, ErrTemporarilyUnavailable)
		}
	}
}
