package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

// fositeStore is fosite's storage.MemoryStore with bcrypt-hashed user
// passwords (MemoryStore.Authenticate compares plaintext with !=, in
// storage/memory.go, which would make the password grant cheaper than on
// the other peers) and the afterRefreshRead hook.
type fositeStore struct {
	*storage.MemoryStore
	passwordHash []byte
	o            options
}

func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetRefreshTokenSession(ctx, signature, session)
	s.o.hook()
	return r, err
}

func (s *fositeStore) Authenticate(_ context.Context, name, secret string) (string, error) {
	if name != username || bcrypt.CompareHashAndPassword(s.passwordHash, []byte(secret)) != nil {
		return "", fosite.ErrNotFound
	}
	return name, nil
}

// newFosite serves fosite composed with the password grant, the refresh
// token grant and token introspection, with its JWT access token strategy
// (ES256; fosite's jwt.DefaultSigner has no EdDSA) over HMAC refresh tokens,
// on storage.MemoryStore. The protected route calls IntrospectToken, which
// is how fosite validates an access token: the core validator looks the
// token's signature up in the store, then checks the JWT.
func newFosite(tb testing.TB, o options) *peer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		tb.Fatal(err)
	}
	config := &fosite.Config{
		AccessTokenLifespan:  accessTokenTTL,
		RefreshTokenLifespan: refreshTTL,
		AccessTokenIssuer:    issuerURL,
		GlobalSecret:         secret,
		// Issue a refresh token on every password grant, as the other
		// peers do, instead of only when scope offline is granted.
		RefreshTokenScopes: []string{},
	}
	store := &fositeStore{MemoryStore: storage.NewMemoryStore(), passwordHash: []byte(bcryptHash(tb, password)), o: o}
	store.Clients[clientID] = &fosite.DefaultClient{
		ID:         clientID,
		Secret:     []byte(bcryptHash(tb, clientSecret)),
		GrantTypes: []string{"password", "refresh_token"},
		Scopes:     []string{scope},
	}
	store.Clients[otherClientID] = &fosite.DefaultClient{
		ID:         otherClientID,
		Secret:     []byte(bcryptHash(tb, clientSecret)),
		GrantTypes: []string{"password", "refresh_token"},
		Scopes:     []string{scope},
	}
	store.Clients[publicClientID] = &fosite.DefaultClient{
		ID:         publicClientID,
		Public:     true,
		GrantTypes: []string{"password", "refresh_token"},
		Scopes:     []string{scope},
	}
	keyGetter := func(context.Context) (any, error) { return key, nil }
	strategy := compose.NewOAuth2JWTStrategy(keyGetter, compose.NewOAuth2HMACStrategy(config), config)
	provider := compose.Compose(config, store, strategy,
		compose.OAuth2ResourceOwnerPasswordCredentialsFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
	)

	newSession := func() *oauth2.JWTSession {
		return &oauth2.JWTSession{JWTClaims: &jwt.JWTClaims{}, JWTHeader: &jwt.Headers{}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		session := newSession()
		ar, err := provider.NewAccessRequest(ctx, r, session)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		if ar.GetGrantTypes().ExactOne("password") {
			// fosite leaves granting to the application; grant what the
			// password handler already checked the client may ask for.
			for _, s := range ar.GetRequestedScopes() {
				ar.GrantScope(s)
			}
			session.JWTClaims.Subject = session.Subject
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_, _, err := provider.IntrospectToken(ctx, fosite.AccessTokenFromRequest(r), fosite.AccessToken, newSession(), scope)
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			http.Error(w, rfc.ErrorField, rfc.CodeField)
			return
		}
		protectedOK(w)
	})
	return serve(tb, mux, "/token", "/api/me")
}
