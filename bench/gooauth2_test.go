package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/generates"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// bcryptClient is a go-oauth2 client whose Secret holds a bcrypt hash, or
// a public client with no secret. The manager checks it through
// oauth2.ClientPasswordVerifier on the password grant; without it go-oauth2
// compares plaintext secrets with !=.
type bcryptClient struct{ models.Client }

func (c *bcryptClient) VerifyPassword(secret string) bool {
	if c.Public {
		return secret == ""
	}
	return secret != "" && bcrypt.CompareHashAndPassword([]byte(c.Secret), []byte(secret)) == nil
}

var _ oauth2.ClientPasswordVerifier = (*bcryptClient)(nil)

// newGoOAuth2 serves go-oauth2 with its memory token store and its JWT
// access token generator (ES256), plus the one addition that makes the
// refresh grant authenticate the client: go-oauth2's Manager never checks
// the client secret on a refresh (manage/manager.go, RefreshAccessToken), so
// without it the refresh workload would skip the bcrypt check the other
// peers pay for. newGoOAuth2Stock is the configuration as shipped.
func newGoOAuth2(tb testing.TB, o options) *peer { return goOAuth2(tb, o, true) }

// newGoOAuth2Stock is newGoOAuth2 without client authentication on the
// refresh grant: go-oauth2's default server.ClientBasicHandler only reads
// the Basic credentials.
func newGoOAuth2Stock(tb testing.TB, o options) *peer { return goOAuth2(tb, o, false) }

// hookedTokenStore is go-oauth2's token store with the afterRefreshRead hook.
type hookedTokenStore struct {
	oauth2.TokenStore
	o options
}

func (s *hookedTokenStore) GetByRefresh(ctx context.Context, refresh string) (oauth2.TokenInfo, error) {
	ti, err := s.TokenStore.GetByRefresh(ctx, refresh)
	s.o.hook()
	return ti, err
}

func goOAuth2(tb testing.TB, o options, authenticateClients bool) *peer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})

	manager := manage.NewDefaultManager()
	manager.SetPasswordTokenCfg(&manage.Config{
		AccessTokenExp: accessTokenTTL, RefreshTokenExp: refreshTTL, IsGenerateRefresh: true,
	})
	manager.SetRefreshTokenCfg(&manage.RefreshingConfig{
		AccessTokenExp:     accessTokenTTL,
		RefreshTokenExp:    refreshTTL,
		IsGenerateRefresh:  true,
		IsResetRefreshTime: true,
		IsRemoveAccess:     true,
		IsRemoveRefreshing: true,
	})
	tokens, err := store.NewMemoryTokenStore()
	if err != nil {
		tb.Fatal(err)
	}
	manager.MapTokenStorage(&hookedTokenStore{TokenStore: tokens, o: o})
	manager.MapAccessGenerate(generates.NewJWTAccessGenerate("bench-key", keyPEM, jwt.SigningMethodES256))
	clients := store.NewClientStore()
	if err := clients.Set(clientID, &bcryptClient{models.Client{ID: clientID, Secret: bcryptHash(tb, clientSecret)}}); err != nil {
		tb.Fatal(err)
	}
	if err := clients.Set(otherClientID, &bcryptClient{models.Client{ID: otherClientID, Secret: bcryptHash(tb, clientSecret)}}); err != nil {
		tb.Fatal(err)
	}
	if err := clients.Set(publicClientID, &bcryptClient{models.Client{ID: publicClientID, Public: true}}); err != nil {
		tb.Fatal(err)
	}
	manager.MapClientStorage(clients)

	srv := server.NewDefaultServer(manager)
	srv.SetAllowedGrantType(oauth2.PasswordCredentials, oauth2.Refreshing)
	passwordHash := []byte(bcryptHash(tb, password))
	srv.SetPasswordAuthorizationHandler(func(_ context.Context, _, user, pass string) (string, error) {
		if user != username || bcrypt.CompareHashAndPassword(passwordHash, []byte(pass)) != nil {
			return "", errors.ErrInvalidGrant
		}
		return user, nil
	})
	if authenticateClients {
		srv.SetClientInfoHandler(func(r *http.Request) (string, string, error) {
			id, secret, err := server.ClientBasicHandler(r)
			if err != nil {
				// A public client names itself in the body.
				if id, secret, err = server.ClientFormHandler(r); err != nil {
					return "", "", err
				}
			}
			c, err := manager.GetClient(r.Context(), id)
			if err != nil {
				return "", "", errors.ErrInvalidClient
			}
			if v, ok := c.(oauth2.ClientPasswordVerifier); !ok || !v.VerifyPassword(secret) {
				return "", "", errors.ErrInvalidClient
			}
			return id, secret, nil
		})
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = srv.HandleTokenRequest(w, r) // it has written the error response already
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		ti, err := srv.ValidationBearerToken(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if !hasScope(ti.GetScope(), scope) {
			http.Error(w, "insufficient_scope", http.StatusForbidden)
			return
		}
		protectedOK(w)
	})
	return serve(tb, mux, "/token", "/api/me")
}
