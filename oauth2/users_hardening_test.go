package oauth2

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// unusableHashes are stored hashes CheckPassword cannot check: an
// operator's mistake, which a client must not be able to tell from a wrong
// password.
func unusableHashes(t *testing.T) map[string]string {
	t.Helper()
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"empty":          "",
		"unknown format": "$unknown$v=1$c2FsdA$aGFzaA",
		"plaintext":      alicePassword,
		"argon2 threads": "$argon2id$v=19$m=64,t=1,p=255$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"short bcrypt":   "$2a$10$short",
		"bcrypt cost":    strings.Replace(string(bc), "$04$", "$31$", 1),
		"bcrypt salt":    string(bc[:10]) + "!" + string(bc[11:]),
	}
}

func TestPasswordGrantUnusableHashAnswersLikeBadCredentials(t *testing.T) {
	const password = "the-password-must-not-be-logged"
	hashes := unusableHashes(t)
	var logs bytes.Buffer
	f := newFixture(t, func(c *IssuerConfig) {
		good := cheapHash(t, alicePassword)
		users, err := NewPasswordAuthenticator(func(_ context.Context, name string) (*User, string, error) {
			if name == aliceName {
				return &User{Subject: aliceName}, good, nil
			}
			if h, ok := hashes[name]; ok {
				return &User{Subject: name}, h, nil
			}
			return nil, "", ErrUserNotFound
		}, good)
		if err != nil {
			t.Fatal(err)
		}
		c.Users = users
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	h := f.issuer.TokenHandler()
	grant := func(t *testing.T, username, password string) (int, string, string) {
		t.Helper()
		logs.Reset()
		form := url.Values{"grant_type": {"password"}, "client_id": {pubID}, "username": {username}, "password": {password}}
		w, body := post(t, h, form)
		code, _ := body["error"].(string)
		return w.Code, w.Body.String(), code
	}
	wantStatus, wantBody, wantCode := grant(t, "nobody", password)
	if wantStatus != 400 || wantCode != "invalid_grant" {
		t.Fatalf("Got(unknown user) = %d %s, want 400 invalid_grant", wantStatus, wantBody)
	}
	// Only the login_failed event: an unknown user is no server failure.
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("Got(log for an unknown user) = %q, want no error", logs.String())
	}
	if status, body, _ := grant(t, aliceName, password); status != wantStatus || body != wantBody {
		t.Errorf("Got(wrong password) = %d %s, want %d %s", status, body, wantStatus, wantBody)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("Got(log for a wrong password) = %q, want no error", logs.String())
	}
	for name := range hashes {
		t.Run(name, func(t *testing.T) {
			status, body, _ := grant(t, name, password)
			if status != wantStatus || body != wantBody {
				t.Errorf("Got(user with an unusable hash) = %d %s, want %d %s as for an unknown user", status, body, wantStatus, wantBody)
			}
			log := logs.String()
			if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, name) || !strings.Contains(log, "hash") {
				t.Errorf("Got(log) = %q, want an error naming the user %q and the hash problem", log, name)
			}
			if strings.Contains(log, password) {
				t.Errorf("Got(log) = %q, want no password in it", log)
			}
		})
	}
}

func TestPasswordAuthenticatorUnusableHash(t *testing.T) {
	good := cheapHash(t, "pw")
	for name, hash := range unusableHashes(t) {
		t.Run(name, func(t *testing.T) {
			a, err := NewPasswordAuthenticator(func(context.Context, string) (*User, string, error) {
				return &User{Subject: "ann"}, hash, nil
			}, good)
			if err != nil {
				t.Fatal(err)
			}
			u, err := a.Authenticate(t.Context(), "ann", "pw")
			if u != nil || !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("Got(Authenticate()) = %v, %v, want nil, %v", u, err, ErrInvalidCredentials)
			}
			if !strings.Contains(err.Error(), `"ann"`) {
				t.Errorf("Got(Authenticate() error) = %v, want it to name the user and the cause", err)
			}
		})
	}
}

func TestNewStaticUsersRejectsUnusableHash(t *testing.T) {
	good := cheapHash(t, "pw")
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, hash := range unusableHashes(t) {
		for _, tt := range []struct {
			name  string
			users []StaticUser
		}{
			{name: "first", users: []StaticUser{{Username: "bad-user", PasswordHash: hash}, {Username: "ok", PasswordHash: good}}},
			{name: "second", users: []StaticUser{{Username: "ok", PasswordHash: good}, {Username: "bad-user", PasswordHash: hash}}},
		} {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				_, err := NewStaticUsers(tt.users...)
				if err == nil || !strings.Contains(err.Error(), `"bad-user"`) {
					t.Errorf("Got(NewStaticUsers()) error = %v, want an error naming %q", err, "bad-user")
				}
			})
		}
	}
	t.Run("usable argon2id and bcrypt", func(t *testing.T) {
		_, err := NewStaticUsers(StaticUser{Username: "a", PasswordHash: good}, StaticUser{Username: "b", PasswordHash: string(bc)})
		if err != nil {
			t.Errorf("Got(NewStaticUsers()) error = %v, want nil", err)
		}
	})
}

// clientMap is a ClientRegistry that, unlike NewStaticClients, accepts
// whatever it is given, as a registry over a database would.
type clientMap map[string]*Client

func (m clientMap) LookupClient(_ context.Context, id string) (*Client, error) {
	if c, ok := m[id]; ok {
		cp := *c
		return &cp, nil
	}
	return nil, ErrClientNotFound
}

// A confidential client whose stored secret hash cannot be used is answered
// as an unknown client is, and the operator learns of it from the log.
func TestClientUnusableSecretHashAnswersLikeUnknownClient(t *testing.T) {
	const secret = "the-secret-must-not-be-logged"
	for name, hash := range unusableHashes(t) {
		if hash == "" {
			continue // an empty hash is a public client
		}
		t.Run(name, func(t *testing.T) {
			if _, err := NewStaticClients(Client{ID: "broken", SecretHash: hash, GrantTypes: []string{GrantPassword}}); err == nil ||
				!strings.Contains(err.Error(), `"broken"`) {
				t.Errorf("Got(NewStaticClients(unusable hash)) error = %v, want an error naming \"broken\"", err)
			}
			var logs bytes.Buffer
			f := newFixture(t, func(c *IssuerConfig) {
				c.Clients = clientMap{"broken": {ID: "broken", SecretHash: hash, GrantTypes: []string{GrantPassword}}}
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			h := f.issuer.TokenHandler()
			answer := func(id string) (int, string) {
				t.Helper()
				form := url.Values{"grant_type": {"password"}, "client_id": {id}, "client_secret": {secret},
					"username": {aliceName}, "password": {alicePassword}}
				w, _ := post(t, h, form)
				return w.Code, w.Body.String()
			}
			wantStatus, wantBody := answer("ghost")
			logs.Reset()
			if status, body := answer("broken"); status != wantStatus || body != wantBody {
				t.Errorf("Got(client with an unusable hash) = %d %s, want %d %s as for an unknown client", status, body, wantStatus, wantBody)
			}
			if got := logs.String(); !strings.Contains(got, "client_id=broken") || strings.Contains(got, secret) {
				t.Errorf("Got(log) = %q, want the client named and the secret absent", got)
			}
		})
	}
}

// An unusable stored hash costs the same password check as an unknown user
// or client: with every check slot taken, all of them shed load alike,
// which an early answer for the unusable hash would not.
func TestUnusableHashStillCostsACheck(t *testing.T) {
	hash := unusableHashes(t)["unknown format"]
	users, err := NewPasswordAuthenticator(func(_ context.Context, name string) (*User, string, error) {
		if name == "broken" {
			return &User{Subject: name}, hash, nil
		}
		return nil, "", ErrUserNotFound
	}, cheapHash(t, "sample"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *IssuerConfig) {
		c.Clients = clientMap{"broken": {ID: "broken", SecretHash: hash, GrantTypes: []string{GrantPassword}}}
	})
	fillHashSlots(t)
	for _, name := range []string{"nobody", "broken"} {
		if _, err := users.Authenticate(t.Context(), name, "pw"); !errors.Is(err, ErrOverloaded) {
			t.Errorf("Got(Authenticate(%s) with no check slot free) error = %v, want %v", name, err, ErrOverloaded)
		}
	}
	for _, id := range []string{"ghost", "broken"} {
		if _, err := f.issuer.AuthenticateClient(t.Context(), id, "secret"); !errors.Is(err, ErrTemporarilyUnavailable) {
			t.Errorf("Got(AuthenticateClient(%s) with no check slot free) error = %v, want %v", id, err, ErrTemporarilyUnavailable)
		}
	}
}
