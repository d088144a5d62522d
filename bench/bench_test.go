package bench

import (
	"net/http"
	"slices"
	"testing"
)

// BenchmarkRefreshGrant follows a rotation chain: each iteration redeems
// the refresh token the previous response returned, authenticating the
// client with its bcrypt-hashed secret.
func BenchmarkRefreshGrant(b *testing.B) {
	for _, ps := range append(slices.Clone(peers), peerSetup{"gooauth2-noclientauth", newGoOAuth2Stock}) {
		b.Run("peer="+ps.name, func(b *testing.B) {
			p := ps.new(b, options{})
			rt := p.passwordGrant(b).RefreshToken
			for b.Loop() {
				status, t := p.refresh(b, clientID, clientSecret, rt)
				if status != http.StatusOK || t.RefreshToken == "" {
					b.Fatalf("refresh: status %d, error %q", status, t.Error)
				}
				rt = t.RefreshToken
			}
		})
	}
}

// routePeers are the peers plus oauth2kit with its verified-token cache
// off: the workload presents one token over and over, which is the cache's
// best case.
var routePeers = append(slices.Clone(peers), peerSetup{"oauth2kit-nocache", newOAuth2kitNoCache})

// BenchmarkRefreshGrantPublicClient is BenchmarkRefreshGrant for a public
// client, which sends its client_id and no secret: the refresh grant
// without the bcrypt check that dominates BenchmarkRefreshGrant, so what
// remains is each library's own work.
func BenchmarkRefreshGrantPublicClient(b *testing.B) {
	for _, ps := range peers {
		b.Run("peer="+ps.name, func(b *testing.B) {
			p := ps.new(b, options{})
			rt := p.passwordGrantAs(b, publicClientID, "").RefreshToken
			for b.Loop() {
				status, t := p.refresh(b, publicClientID, "", rt)
				if status != http.StatusOK || t.RefreshToken == "" {
					b.Fatalf("refresh: status %d, error %q", status, t.Error)
				}
				rt = t.RefreshToken
			}
		})
	}
}

// BenchmarkProtectedRoute calls a route that verifies the access token and
// requires scope "profile", one request at a time.
func BenchmarkProtectedRoute(b *testing.B) {
	for _, ps := range routePeers {
		b.Run("peer="+ps.name, func(b *testing.B) {
			p := ps.new(b, options{})
			at := p.passwordGrant(b).AccessToken
			for b.Loop() {
				if status := p.mustGet(b, at); status != http.StatusOK {
					b.Fatalf("protected route: status %d", status)
				}
			}
		})
	}
}

// BenchmarkProtectedRouteParallel is BenchmarkProtectedRoute from
// GOMAXPROCS goroutines at once, for a throughput figure (req/s).
func BenchmarkProtectedRouteParallel(b *testing.B) {
	for _, ps := range routePeers {
		b.Run("peer="+ps.name, func(b *testing.B) {
			p := ps.new(b, options{})
			at := p.passwordGrant(b).AccessToken
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if status, err := p.get(at); err != nil || status != http.StatusOK {
						b.Errorf("protected route: status %d, error %v", status, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
