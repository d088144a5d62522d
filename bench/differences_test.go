package bench

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests in this file prove differences the README lists. They assert
// what each peer does today, so a peer release that closes a gap makes
// them fail, and the README must then be updated with them.

// testPeers are the peers plus go-oauth2 as shipped, without the client
// authentication the benchmarks add to its refresh grant.
var testPeers = append(slices.Clone(peers), peerSetup{"gooauth2-noclientauth", newGoOAuth2Stock})

// rendezvous holds the first n callers of wait until all n have arrived
// (or a timeout passes), so that n requests are all past the same point
// before any of them goes on.
type rendezvous struct {
	n       int
	arrived atomic.Int32
	all     chan struct{}
}

func newRendezvous(n int) *rendezvous { return &rendezvous{n: n, all: make(chan struct{})} }

func (r *rendezvous) wait() {
	switch k := int(r.arrived.Add(1)); {
	case k == r.n:
		close(r.all)
	case k > r.n:
		return
	}
	select {
	case <-r.all:
	case <-time.After(5 * time.Second):
	}
}

// TestPeerConcurrentRefresh sends n refreshes of one refresh token at once,
// and holds each inside the store until all n have read the token's record:
// the interleaving two retries of a client, or a client and an attacker,
// get whenever the store is a network hop away. Rotation is atomic only if
// exactly one of them succeeds.
func TestPeerConcurrentRefresh(t *testing.T) {
	const n = 4
	tests := []struct {
		name string
		want int // successful refreshes out of n
	}{
		// RotateRefreshToken is a compare-and-swap: the losers find the
		// token consumed (and treat it as reuse).
		{name: "oauth2kit", want: 1},
		// manage.Manager.RefreshAccessToken reads, creates, then deletes,
		// with nothing in between that fails if another request got there
		// first: every request succeeds and the grant forks into n chains.
		{name: "gooauth2", want: n},
		{name: "gooauth2-noclientauth", want: n},
		// RotateRefreshToken of storage.MemoryStore marks the token
		// inactive without checking it still was active, and MemoryStore
		// is not storage.Transactional.
		{name: "fosite", want: n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var armed atomic.Pointer[rendezvous]
			p := setupNamed(t, tt.name, options{afterRefreshRead: func() {
				if r := armed.Load(); r != nil {
					r.wait()
				}
			}})
			rt := p.passwordGrant(t).RefreshToken
			armed.Store(newRendezvous(n))
			var wg sync.WaitGroup
			statuses := make([]int, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					statuses[i], _, errs[i] = p.tryToken(clientID, clientSecret,
						url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				})
			}
			wg.Wait()
			ok := 0
			for i, s := range statuses {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if s == http.StatusOK {
					ok++
				}
			}
			if ok != tt.want {
				t.Errorf("Got %d of %d concurrent refreshes of one token succeeding (statuses %v), want %d", ok, n, statuses, tt.want)
			}
		})
	}
}

// TestPeerRefreshReuse rotates once (rt0 to rt1), presents rt0 again, and
// then checks whether what the rotation issued survives the replay. RFC 9700
// §4.14.2: the server cannot tell the legitimate client from an attacker,
// so it must revoke the grant's tokens.
func TestPeerRefreshReuse(t *testing.T) {
	tests := []struct {
		name               string
		wantRefreshRevoked bool // rt1 no longer refreshes
		wantAccessRevoked  bool // the access token issued with rt1 is refused
	}{
		{name: "oauth2kit", wantRefreshRevoked: true, wantAccessRevoked: true},
		// RefreshAccessToken deletes rt0's key and that is all: the replay
		// is an ordinary invalid_grant.
		{name: "gooauth2", wantRefreshRevoked: false, wantAccessRevoked: false},
		// handleRefreshTokenReuse in handler/oauth2/flow_refresh.go.
		{name: "fosite", wantRefreshRevoked: true, wantAccessRevoked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setupNamed(t, tt.name, options{})
			rt0 := p.passwordGrant(t).RefreshToken
			status, t1 := p.refresh(t, clientID, clientSecret, rt0)
			if status != http.StatusOK {
				t.Fatalf("first refresh: status %d, error %q", status, t1.Error)
			}
			if status, _ := p.refresh(t, clientID, clientSecret, rt0); status == http.StatusOK {
				t.Fatalf("replaying a rotated refresh token succeeded")
			}
			if got := p.mustGet(t, t1.AccessToken) != http.StatusOK; got != tt.wantAccessRevoked {
				t.Errorf("Got access token refused after the replay = %t, want %t", got, tt.wantAccessRevoked)
			}
			status, _ = p.refresh(t, clientID, clientSecret, t1.RefreshToken)
			if got := status != http.StatusOK; got != tt.wantRefreshRevoked {
				t.Errorf("Got successor refresh token refused after the replay = %t (status %d), want %t", got, status, tt.wantRefreshRevoked)
			}
		})
	}
}

// TestPeerRefreshClientAuth presents alice's refresh token with a wrong
// client secret, as a client id nobody registered, and as another
// registered client with its right secret. RFC 6749 §6: the server MUST
// authenticate a confidential client on the refresh grant and ensure the
// token was issued to it.
func TestPeerRefreshClientAuth(t *testing.T) {
	tests := []struct {
		name string
		// whether each attempt gets new tokens
		wantWrongSecret, wantUnknownClient, wantOtherClient bool
	}{
		{name: "oauth2kit"},
		// Even with the ClientInfoHandler the benchmarks add, the token is
		// not bound to its client: Manager.RefreshAccessToken takes the
		// client from the token (ti.GetClientID()), not from the request.
		{name: "gooauth2", wantOtherClient: true},
		// As shipped: server.ClientBasicHandler only reads the credentials
		// and Manager.RefreshAccessToken never checks them.
		{name: "gooauth2-noclientauth", wantWrongSecret: true, wantUnknownClient: true, wantOtherClient: true},
		{name: "fosite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setupNamed(t, tt.name, options{})
			for _, c := range []struct {
				id, secret string
				want       bool
			}{
				{clientID, "wrong-secret", tt.wantWrongSecret},
				{"mallory", clientSecret, tt.wantUnknownClient},
				{otherClientID, clientSecret, tt.wantOtherClient},
			} {
				rt := p.passwordGrant(t).RefreshToken
				status, resp := p.refresh(t, c.id, c.secret, rt)
				if got := status == http.StatusOK; got != c.want {
					t.Errorf("Got refresh as %s:%s accepted = %t (status %d, error %q), want %t", c.id, c.secret, got, status, resp.Error, c.want)
				}
			}
		})
	}
}

// TestPeerForeignReplay has another registered client present alice's
// rotated (consumed) refresh token, then checks whether alice's client can
// still refresh. A client that got hold of a stale token must not be able
// to end someone else's grant: the token is not its own, so it is not
// evidence that the owner's token leaked to it through reuse.
func TestPeerForeignReplay(t *testing.T) {
	tests := []struct {
		name              string
		wantOwnerSurvives bool
	}{
		// RefreshGrant compares the token's client before looking at
		// whether it was consumed.
		{name: "oauth2kit", wantOwnerSurvives: true},
		// No reuse detection at all: nothing to trigger.
		{name: "gooauth2", wantOwnerSurvives: true},
		// HandleTokenEndpointRequest (handler/oauth2/flow_refresh.go) runs
		// handleRefreshTokenReuse before comparing client ids.
		{name: "fosite", wantOwnerSurvives: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setupNamed(t, tt.name, options{})
			rt0 := p.passwordGrant(t).RefreshToken
			status, t1 := p.refresh(t, clientID, clientSecret, rt0)
			if status != http.StatusOK {
				t.Fatalf("first refresh: status %d, error %q", status, t1.Error)
			}
			if status, _ := p.refresh(t, otherClientID, clientSecret, rt0); status == http.StatusOK {
				t.Fatalf("another client redeemed alice's consumed refresh token")
			}
			status, _ = p.refresh(t, clientID, clientSecret, t1.RefreshToken)
			if got := status == http.StatusOK; got != tt.wantOwnerSurvives {
				t.Errorf("Got owner's refresh after the foreign replay accepted = %t (status %d), want %t", got, status, tt.wantOwnerSurvives)
			}
		})
	}
}

// TestPeerAccessTokenFormat decodes an access token of each peer and lists
// what RFC 9068 requires that it lacks: typ at+jwt (§2.1) and the claims of
// §2.2.
func TestPeerAccessTokenFormat(t *testing.T) {
	required := []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"}
	tests := []struct {
		name        string
		wantTyp     string
		wantMissing []string
	}{
		{name: "oauth2kit", wantTyp: "at+jwt", wantMissing: nil},
		{name: "gooauth2", wantTyp: "JWT", wantMissing: []string{"iss", "client_id", "iat", "jti"}},
		// fosite sends "aud":[] when no audience was granted, and the
		// scope as "scp" rather than RFC 9068's "scope".
		{name: "fosite", wantTyp: "JWT", wantMissing: []string{"client_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setupNamed(t, tt.name, options{})
			header, claims := decodeJWT(t, p.passwordGrant(t).AccessToken)
			if got := header["typ"]; got != tt.wantTyp {
				t.Errorf("Got typ %v, want %q", got, tt.wantTyp)
			}
			var missing []string
			for _, c := range required {
				if _, ok := claims[c]; !ok {
					missing = append(missing, c)
				}
			}
			if !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("Got missing claims %v, want %v (claims %v)", missing, tt.wantMissing, claims)
			}
		})
	}
}

// TestProtectedRouteRejects checks that every peer's protected route
// really verifies what the benchmarks send it: a token from another
// instance of the same peer, with its own key and store, is refused.
func TestProtectedRouteRejects(t *testing.T) {
	for _, ps := range routePeers {
		t.Run(ps.name, func(t *testing.T) {
			p := ps.new(t, options{})
			if status := p.mustGet(t, p.passwordGrant(t).AccessToken); status != http.StatusOK {
				t.Fatalf("Got status %d for a valid token, want 200", status)
			}
			foreign := ps.new(t, options{}).passwordGrant(t).AccessToken
			if status := p.mustGet(t, foreign); status != http.StatusUnauthorized {
				t.Errorf("Got status %d for another instance's token, want 401", status)
			}
		})
	}
}

// setupNamed builds the test peer called name.
func setupNamed(tb testing.TB, name string, o options) *peer {
	tb.Helper()
	for _, ps := range testPeers {
		if ps.name == name {
			return ps.new(tb, o)
		}
	}
	tb.Fatalf("no peer %q", name)
	return nil
}

// decodeJWT returns a compact JWS's header and claims, unverified.
func decodeJWT(tb testing.TB, tok string) (header, claims map[string]any) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("access token is not a compact JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			tb.Fatal(err)
		}
	}
	return header, claims
}
