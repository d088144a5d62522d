package oauth2

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []string
		wantOK bool
	}{
		{name: "empty", in: "", want: nil, wantOK: true},
		{name: "one", in: "profile", want: []string{"profile"}, wantOK: true},
		{name: "several", in: "profile email admin", want: []string{"profile", "email", "admin"}, wantOK: true},
		{name: "duplicates keep the first occurrence", in: "b a b c a", want: []string{"b", "a", "c"}, wantOK: true},
		{name: "NQCHAR edges", in: "! # [ ] ~", want: []string{"!", "#", "[", "]", "~"}, wantOK: true},
		{name: "double space", in: "profile  email"},
		{name: "leading space", in: " profile"},
		{name: "trailing space", in: "profile "},
		{name: "only a space", in: " "},
		{name: "quote", in: `pro"file`},
		{name: "backslash", in: `pro\file`},
		{name: "tab", in: "profile\temail"},
		{name: "DEL", in: "profile\x7f"},
		{name: "non-ASCII", in: "profilé"},
		{name: "malformed after many duplicates", in: strings.Repeat("a ", 100) + " "},
		{name: "many distinct with duplicates",
			in:   strings.Join(append(scopeTokens(40), scopeTokens(40)...), " "),
			want: scopeTokens(40), wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseScope(tt.in)
			if ok != tt.wantOK || !slices.Equal(got, tt.want) {
				t.Errorf("Got(ParseScope(%q)) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseScopeLimit(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
		wantR scopeResult
	}{
		{name: "at the limit", in: "a b c", limit: 3, want: []string{"a", "b", "c"}, wantR: scopeOK},
		{name: "duplicates do not count", in: "a b a c b c", limit: 3, want: []string{"a", "b", "c"}, wantR: scopeOK},
		{name: "one past the limit", in: "a b c d", limit: 3, wantR: scopeTooMany},
		{name: "past the limit before a malformed token", in: "a b c d  e", limit: 3, wantR: scopeTooMany},
		{name: "malformed within the limit", in: "a  b", limit: 3, wantR: scopeMalformed},
		{name: "zero limit, empty scope", in: "", limit: 0, wantR: scopeOK},
		{name: "zero limit", in: "a", limit: 0, wantR: scopeTooMany},
		{name: "past the limit with a set", in: strings.Join(scopeTokens(41), " "), limit: 40, wantR: scopeTooMany},
		{name: "at the limit with a set", in: strings.Join(append(scopeTokens(40), scopeTokens(40)...), " "), limit: 40,
			want: scopeTokens(40), wantR: scopeOK},
		{name: "no limit", in: strings.Join(scopeTokens(1000), " "), limit: -1, want: scopeTokens(1000), wantR: scopeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, r := parseScope(tt.in, tt.limit)
			if r != tt.wantR || !slices.Equal(got, tt.want) {
				t.Errorf("Got(parseScope(%.40q, %d)) = %.80q, %v, want %.80q, %v", tt.in, tt.limit, got, r, tt.want, tt.wantR)
			}
		})
	}
}

func TestSubsetIntersect(t *testing.T) {
	long := scopeTokens(100)
	tests := []struct {
		name          string
		a, b          []string
		wantSubset    bool
		wantIntersect []string
	}{
		{name: "empty a", a: nil, b: []string{"x"}, wantSubset: true},
		{name: "small subset", a: []string{"b", "a"}, b: []string{"a", "b", "c"}, wantSubset: true, wantIntersect: []string{"b", "a"}},
		{name: "small not subset", a: []string{"a", "z"}, b: []string{"a", "b"}, wantIntersect: []string{"a"}},
		{name: "long subset", a: long[10:60], b: long, wantSubset: true, wantIntersect: long[10:60]},
		{name: "long not subset", a: append(slices.Clone(long[:50]), "zz"), b: long, wantIntersect: long[:50]},
		{name: "long a, short b", a: long, b: []string{"5", "zz"}, wantIntersect: []string{"5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := subset(tt.a, tt.b); got != tt.wantSubset {
				t.Errorf("Got(subset()) = %v, want %v", got, tt.wantSubset)
			}
			if got := intersect(tt.a, tt.b); !slices.Equal(got, tt.wantIntersect) {
				t.Errorf("Got(intersect()) = %q, want %q", got, tt.wantIntersect)
			}
		})
	}
}

// countingClients and countingUsers record whether the token endpoint got
// as far as authenticating anyone: both run slow password hashes.
type countingClients struct {
	ClientRegistry
	lookups atomic.Int32
}

func (c *countingClients) LookupClient(ctx context.Context, id string) (*Client, error) {
	c.lookups.Add(1)
	return c.ClientRegistry.LookupClient(ctx, id)
}

type countingUsers struct {
	UserAuthenticator
	calls atomic.Int32
}

func (u *countingUsers) Authenticate(ctx context.Context, username, password string) (*User, error) {
	u.calls.Add(1)
	return u.UserAuthenticator.Authenticate(ctx, username, password)
}

// A scope with more tokens than could ever be granted is refused before the
// client or the user is authenticated, so that it cannot buy password hashes
// or a large parse with one cheap request.
func TestTokenEndpointCapsScopeBeforeAuthentication(t *testing.T) {
	supported := []string{"profile", "email", "admin"}
	tests := []struct {
		name      string
		supported []string
		scope     string
		wantAuth  bool   // whether the client and user get authenticated
		wantError string // "" for success
	}{
		{name: "no ScopesSupported, 257 distinct", scope: strings.Join(scopeTokens(257), " "), wantError: "invalid_scope"},
		{name: "no ScopesSupported, 256 distinct and duplicates",
			scope:    strings.Join(append(scopeTokens(256), scopeTokens(256)...), " "),
			wantAuth: true, wantError: "invalid_scope"}, // the client may not have them
		{name: "no ScopesSupported, 257 distinct and malformed", scope: strings.Join(scopeTokens(257), " ") + " ", wantError: "invalid_scope"},
		{name: "no ScopesSupported, allowed scope", scope: "profile email", wantAuth: true},
		{name: "ScopesSupported, one more than supported", supported: supported, scope: "profile email admin billing", wantError: "invalid_scope"},
		{name: "ScopesSupported, all supported and a duplicate", supported: supported, scope: "profile email admin profile",
			wantAuth: true, wantError: "invalid_scope"}, // alice may not have admin
		{name: "ScopesSupported listing a duplicate", supported: []string{"profile", "profile", "email"}, scope: "profile email admin", wantError: "invalid_scope"},
		{name: "ScopesSupported, allowed scope", supported: supported, scope: "email profile email", wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clients *countingClients
			var users *countingUsers
			f := newFixture(t, func(c *IssuerConfig) {
				c.ScopesSupported = tt.supported
				clients = &countingClients{ClientRegistry: c.Clients}
				users = &countingUsers{UserAuthenticator: c.Users}
				c.Clients, c.Users = clients, users
			})
			form := url.Values{"grant_type": {"password"}, "username": {aliceName}, "password": {alicePassword}, "scope": {tt.scope}}
			w, body := post(t, f.issuer.TokenHandler(), form, basic(confID, confSecret))
			if got, _ := body["error"].(string); got != tt.wantError {
				t.Errorf("Got(error) = %q (status %d, body %v), want %q", got, w.Code, body, tt.wantError)
			}
			gotAuth := clients.lookups.Load() > 0 || users.calls.Load() > 0
			if gotAuth != tt.wantAuth {
				t.Errorf("Got(authenticated) = %v (%d client lookups, %d user checks), want %v",
					gotAuth, clients.lookups.Load(), users.calls.Load(), tt.wantAuth)
			}
		})
	}
}

// scopeTokens returns n distinct short scope tokens.
func scopeTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.FormatInt(int64(i), 36)
	}
	return out
}

// BenchmarkParseScope measures a typical scope and the worst a public
// client can send in one form body: about 9,000 distinct tokens.
func BenchmarkParseScope(b *testing.B) {
	for _, in := range []struct{ name, scope string }{
		{"typical", "openid profile email"},
		{"distinct-9000", strings.Join(scopeTokens(9000), " ")},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.scope)))
			for b.Loop() {
				if _, ok := ParseScope(in.scope); !ok {
					b.Fatalf("Got(ParseScope(%s)) not ok, want ok", in.name)
				}
			}
		})
	}
}
