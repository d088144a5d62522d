package main

import (
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// clientID is the demo's one client, a public one (no secret), as a
// first-party app that cannot keep a secret is.
const clientID = "demo-app"

// newHandler serves the issuer's endpoints (the token endpoint among them)
// for the users in db, and GET /api/me to requests whose access token has
// scope profile. st keeps refresh tokens and revocations.
func newHandler(db *sql.DB, st oauth2.Store, issuerURL string, logger *slog.Logger) (http.Handler, error) {
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	if err != nil {
		return nil, err
	}
	keys := oauth2.NewKeySet(key)
	clients, err := oauth2.NewStaticClients(oauth2.Client{
		ID:            clientID,
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{"profile", "email"},
		DefaultScopes: []string{"profile"},
	})
	if err != nil {
		return nil, err
	}
	// The sample gives the cost of the dummy check for unknown usernames:
	// the cost the table's hashes have, as addUser makes them.
	sample, err := oauth2.HashPassword("any password")
	if err != nil {
		return nil, err
	}
	users, err := oauth2.NewPasswordAuthenticator(lookupUser(db), sample)
	if err != nil {
		return nil, err
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:  issuerURL,
		Keys:    keys,
		Store:   st,
		Clients: clients,
		Users:   users,
		Logger:  logger, // where a failed lookup's cause goes
	})
	if err != nil {
		return nil, err
	}
	verifier, err := oauth2.NewVerifier(issuer.VerifierConfig())
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/me", verifier.RequireToken("profile")(http.HandlerFunc(me)))
	mux.Handle("/", issuer.Handler())
	return mux, nil
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
