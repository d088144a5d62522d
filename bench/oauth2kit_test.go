package bench

import (
	"context"
	"net/http"
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
	"github.com/oauth2kit/oauth2kit/store"
)

// hookedStore is memstore with the afterRefreshRead hook.
type hookedStore struct {
	*memstore.Store
	o options
}

func (s *hookedStore) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, hash)
	s.o.hook()
	return t, err
}

// newOAuth2kit serves oauth2kit with adapters/memstore, configured as the
// README's embedding example, with an ES256 key and bcrypt hashes.
func newOAuth2kit(tb testing.TB, o options) *peer { return oauth2kit(tb, o, 0) }

// newOAuth2kitNoCache is newOAuth2kit with the Verifier's cache of verified
// tokens disabled, so that every request parses the JWT and checks its
// signature as the first request of a token does.
func newOAuth2kitNoCache(tb testing.TB, o options) *peer { return oauth2kit(tb, o, -1) }

func oauth2kit(tb testing.TB, o options, cacheSize int) *peer {
	tb.Helper()
	key, err := oauth2.GenerateKey(oauth2.ES256)
	if err != nil {
		tb.Fatal(err)
	}
	keys := oauth2.NewKeySet(key)
	store := &hookedStore{Store: memstore.New(), o: o}
	clients, err := oauth2.NewStaticClients(oauth2.Client{
		ID:            clientID,
		SecretHash:    bcryptHash(tb, clientSecret),
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{scope},
		DefaultScopes: []string{scope},
	}, oauth2.Client{
		ID:            otherClientID,
		SecretHash:    bcryptHash(tb, clientSecret),
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{scope},
		DefaultScopes: []string{scope},
	}, oauth2.Client{
		ID:            publicClientID,
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{scope},
		DefaultScopes: []string{scope},
	})
	if err != nil {
		tb.Fatal(err)
	}
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{
		Username:     username,
		PasswordHash: bcryptHash(tb, password),
		Scopes:       []string{scope},
	})
	if err != nil {
		tb.Fatal(err)
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:          issuerURL,
		Keys:            keys,
		Store:           store,
		Clients:         clients,
		Users:           users,
		AccessTokenTTL:  accessTokenTTL,
		RefreshTokenTTL: refreshTTL,
	})
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := oauth2.NewVerifier(oauth2.VerifierConfig{
		Issuer:      issuerURL,
		Audience:    issuerURL,
		Keys:        keys,
		Revocations: store,
		CacheSize:   cacheSize,
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", issuer.Handler())
	mux.Handle("GET /api/me", verifier.RequireToken(scope)(http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) { protectedOK(w) })))
	return serve(tb, mux, oauth2.TokenPath, "/api/me")
}
