package main

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// issuerPath is the path of the issuer URL, under which the router mounts
// the issuer's endpoints.
const issuerPath = "/auth"

// metadataPath is where the metadata of an issuer with a path is asked for
// (RFC 8414 §3.1): the well-known segment goes before the issuer's path,
// not after it, so it lies outside issuerPath and needs a route of its own.
const metadataPath = oauth2.MetadataPath + issuerPath

// The demo's client and user.
const (
	demoClientID     = "demo-client"
	demoClientSecret = "demo-secret"
	demoUsername     = "alice"
	demoPassword     = "wonderland"
)

// newRouter returns the router of a server reached at baseURL (scheme and
// host, no path): the issuer at baseURL+issuerPath, and GET /api/me, which
// needs a token with scope profile.
func newRouter(baseURL string) (http.Handler, error) {
	issuerURL := baseURL + issuerPath
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	if err != nil {
		return nil, err
	}
	keys := oauth2.NewKeySet(key)
	store := memstore.New()
	secretHash, err := oauth2.HashPassword(demoClientSecret)
	if err != nil {
		return nil, err
	}
	clients, err := oauth2.NewStaticClients(oauth2.Client{
		ID:            demoClientID,
		SecretHash:    secretHash,
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{"profile"},
		DefaultScopes: []string{"profile"},
	})
	if err != nil {
		return nil, err
	}
	passwordHash, err := oauth2.HashPassword(demoPassword)
	if err != nil {
		return nil, err
	}
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{Username: demoUsername, PasswordHash: passwordHash})
	if err != nil {
		return nil, err
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:  issuerURL,
		Keys:    keys,
		Store:   store,
		Clients: clients,
		Users:   users,
	})
	if err != nil {
		return nil, err
	}
	verifier, err := oauth2.NewVerifier(issuer.VerifierConfig())
	if err != nil {
		return nil, err
	}

	r := chi.NewRouter()
	// Mount hands the issuer the request with its path whole, which is
	// what Handler routes on: /auth/oauth2/token and the rest. Do not wrap
	// it in http.StripPrefix, which would leave Handler nothing to match.
	auth := issuer.Handler()
	r.Mount(issuerPath, auth)
	r.Handle(metadataPath, auth)

	r.Group(func(r chi.Router) {
		r.Use(verifier.Middleware)
		r.With(verifier.RequireScope("profile")).Get("/api/me", me)
	})
	return r, nil
}

// me answers who the caller is, from the claims the verifier checked.
func me(w http.ResponseWriter, r *http.Request) {
	c, ok := oauth2.ClaimsFromContext(r.Context())
	if !ok { // only reachable if the route loses its middleware
		http.Error(w, "no verified claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Sub   string `json:"sub"`
		Scope string `json:"scope"`
	}{c.Subject, oauth2.FormatScope(c.Scope)})
}
