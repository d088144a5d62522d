package oauth2

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
)

// The verification benchmarks put every variant of Verify beside bare
// go-jose (parse, verify, decode the claims) on the same token, so each
// overhead reads as a ratio from one run:
//
//	go test -run '^$' -bench 'Verify' -count 10 ./oauth2 | benchstat -
var benchAlgorithms = []string{EdDSA, ES256, RS256, HS256}

type benchSetup struct {
	keys   *KeySet
	issuer *Issuer
	store  *memstore.Store
	token  string
}

func newBenchSetup(b *testing.B, alg string) *benchSetup {
	b.Helper()
	key, err := GenerateKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	keys := NewKeySet(key)
	st := memstore.New()
	clients, err := NewStaticClients(Client{ID: "spa", GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"profile"}, DefaultScopes: []string{"profile"}})
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := HashPasswordWith("pw", cheapArgon2)
	users, _ := NewStaticUsers(StaticUser{Username: "alice", PasswordHash: hash})
	iss, err := NewIssuer(IssuerConfig{Issuer: testIssuer, Keys: keys, Store: st, Clients: clients, Users: users})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := clients.LookupClient(context.Background(), "spa")
	resp, err := iss.PasswordGrant(context.Background(), c, "alice", "pw", nil)
	if err != nil {
		b.Fatal(err)
	}
	return &benchSetup{keys: keys, issuer: iss, store: st, token: resp.AccessToken}
}

func (s *benchSetup) verifier(b *testing.B, cfg VerifierConfig) *Verifier {
	b.Helper()
	cfg.Issuer, cfg.Audience, cfg.Keys = testIssuer, testIssuer, s.keys
	v, err := NewVerifier(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgorithms {
		s := newBenchSetup(b, alg)
		b.Run(alg+"/bare-go-jose", func(b *testing.B) {
			key := activeKey(b, s.keys).public
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
			for b.Loop() {
				tok, err := josejwt.ParseSigned(s.token, algs)
				if err != nil {
					b.Fatal(err)
				}
				var c wireClaims
				if err := tok.Claims(key, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
		view, err := NewRevocationView(RevocationViewConfig{Store: s.store})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(view.Close)
		for !view.Trusted() {
			time.Sleep(time.Millisecond)
		}
		variants := []struct {
			name string
			cfg  VerifierConfig
		}{
			{"cold/no-revocation", VerifierConfig{Revocation: RevocationUnchecked, CacheSize: -1}},
			{"cold/memstore", VerifierConfig{Revocations: s.store, CacheSize: -1}},
			{"cold/view", VerifierConfig{Revocations: view, CacheSize: -1}},
			{"cached/no-revocation", VerifierConfig{Revocation: RevocationUnchecked}},
			{"cached/memstore", VerifierConfig{Revocations: s.store}},
			{"cached/view", VerifierConfig{Revocations: view}},
		}
		for _, vt := range variants {
			v := s.verifier(b, vt.cfg)
			b.Run(alg+"/"+vt.name, func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					if _, err := v.Verify(ctx, s.token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSign is the cost of issuing one access token, signature included.
func BenchmarkSign(b *testing.B) {
	for _, alg := range benchAlgorithms {
		s := newBenchSetup(b, alg)
		b.Run(alg, func(b *testing.B) {
			var resp TokenResponse
			now := time.Now()
			for b.Loop() {
				if err := s.issuer.issueAccessToken(context.Background(), &resp, now, AccessTokenInfo{GrantType: GrantPassword, ClientID: "spa", Subject: "alice", Scope: []string{"profile"}, GrantID: "grant"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefreshGrant is the refresh grant on memstore, rotation chain
// and all, without HTTP; the adapters' store calls are benchmarked in
// storetest.Benchmark.
func BenchmarkRefreshGrant(b *testing.B) {
	s := newBenchSetup(b, EdDSA)
	c, _ := s.issuer.cfg.Clients.LookupClient(context.Background(), "spa")
	resp, err := s.issuer.PasswordGrant(context.Background(), c, "alice", "pw", nil)
	if err != nil {
		b.Fatal(err)
	}
	rt := resp.RefreshToken
	for b.Loop() {
		next, err := s.issuer.RefreshGrant(context.Background(), c, rt, nil)
		if err != nil {
			b.Fatal(err)
		}
		rt = next.RefreshToken
	}
}

// BenchmarkProtectedRoute compares a handler behind the middleware with the
// same handler unguarded, in parallel, in process (no network): the ratio
// of their ns/op is the middleware's share of a trivial request.
func BenchmarkProtectedRoute(b *testing.B) {
	s := newBenchSetup(b, EdDSA)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, h := range []struct {
		name    string
		handler http.Handler
	}{
		{"no-auth", ok},
		{"cold", s.verifier(b, VerifierConfig{Revocations: s.store, CacheSize: -1}).RequireToken("profile")(ok)},
		{"cached", s.verifier(b, VerifierConfig{Revocations: s.store}).RequireToken("profile")(ok)},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
				r.Header.Set("Authorization", "Bearer "+s.token)
				for pb.Next() {
					w := httptest.NewRecorder()
					h.handler.ServeHTTP(w, r)
					if w.Code != http.StatusNoContent {
						b.Fatalf("Got status %d", w.Code)
					}
				}
			})
		})
	}
}

// BenchmarkRevocationPropagation measures how long a revocation made
// through one store takes to reach another instance's RevocationView (two
// views on one memstore here; the adapters' packages measure it through
// their servers). It reports the p50 and p99 in µs.
func BenchmarkRevocationPropagation(b *testing.B) {
	st := memstore.New()
	view, err := NewRevocationView(RevocationViewConfig{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer view.Close()
	for !view.Trusted() {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		jti := fmt.Sprint("prop-", i)
		start := time.Now()
		if err := st.RevokeAccessToken(ctx, jti, start.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		for {
			if r, _ := view.IsRevoked(ctx, jti, ""); r {
				break
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
