package oauth2_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// An issuer for a password login: one signing key, an in-memory store, one
// public client and one user. Its Handler serves the token endpoint and the
// rest; here a request is sent to it directly.
func ExampleNewIssuer() {
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	if err != nil {
		log.Fatal(err)
	}
	clients, err := oauth2.NewStaticClients(oauth2.Client{
		ID:            "mobile-app", // public: no secret
		GrantTypes:    []string{oauth2.GrantPassword, oauth2.GrantRefreshToken},
		Scopes:        []string{"profile", "email"},
		DefaultScopes: []string{"profile"},
	})
	if err != nil {
		log.Fatal(err)
	}
	hash, err := oauth2.HashPasswordWith("correct horse battery staple", fastArgon2)
	if err != nil {
		log.Fatal(err)
	}
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{Username: "alice", PasswordHash: hash})
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:  "https://auth.example.com",
		Keys:    oauth2.NewKeySet(key),
		Store:   memstore.New(),
		Clients: clients,
		Users:   users,
	})
	if err != nil {
		log.Fatal(err)
	}

	form := url.Values{
		"grant_type": {"password"},
		"client_id":  {"mobile-app"},
		"username":   {"alice"},
		"password":   {"correct horse battery staple"},
	}
	req := httptest.NewRequest(http.MethodPost, "https://auth.example.com"+oauth2.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	issuer.Handler().ServeHTTP(rec, req)

	var tok oauth2.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", rec.Code)
	fmt.Println("token_type:", tok.TokenType)
	fmt.Println("scope:", tok.Scope)
	fmt.Println("refresh token issued:", tok.RefreshToken != "")
	// Output:
	// status: 200
	// token_type: Bearer
	// scope: profile
	// refresh token issued: true
}

// A route that needs the "profile" scope. A request without a bearer token
// gets a bare challenge (RFC 6750 §3.1): no error code, since the client
// sent no credentials to be wrong.
func ExampleVerifier_RequireToken() {
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := oauth2.NewVerifier(oauth2.VerifierConfig{
		Issuer:      "https://auth.example.com",
		Audience:    "https://api.example.com",
		Keys:        oauth2.NewKeySet(key), // or oauth2.NewRemoteKeySet(jwksURI, ...)
		Revocations: memstore.New(),        // the issuer's store
		Realm:       "api",
	})
	if err != nil {
		log.Fatal(err)
	}
	profile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oauth2.ClaimsFromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /profile", verifier.RequireToken("profile")(profile))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/profile", nil))
	fmt.Println(rec.Code)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401
	// Bearer realm="api"
}

func ExampleParseScope() {
	for _, s := range []string{"profile email profile", "", "profile  email", `say"hi"`} {
		scope, ok := oauth2.ParseScope(s)
		fmt.Printf("%q -> %q %v\n", s, scope, ok)
	}
	// Output:
	// "profile email profile" -> ["profile" "email"] true
	// "" -> [] true
	// "profile  email" -> [] false
	// "say\"hi\"" -> [] false
}

// Store only the hash of a password or client secret, and check candidates
// against it. HashPassword uses DefaultArgon2Params; HashPasswordWith takes
// other costs, as this example does to stay fast.
func ExampleHashPassword() {
	hash, err := oauth2.HashPasswordWith("correct horse battery staple", fastArgon2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(hash, "$argon2id$"))
	fmt.Println(oauth2.CheckPassword(hash, "correct horse battery staple") == nil)
	err = oauth2.CheckPassword(hash, "Tr0ub4dor&3")
	fmt.Println(errors.Is(err, oauth2.ErrPasswordMismatch))
	// Output:
	// true
	// true
	// true
}
