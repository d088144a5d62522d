package oauth2_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// A resource server that cannot reach the authorization server's store
// checks revocation through the introspection endpoint instead, as a client
// registered there with ResourceServer set. It fetches the signing keys
// from the JWKS, so the store is not needed at all.
func ExampleNewIntrospectionChecker() {
	// The authorization server, with a client for the resource server.
	srv := httptest.NewUnstartedServer(nil)
	issuerURL := "http://" + srv.Listener.Addr().String()
	apiSecretHash, err := oauth2.HashPasswordWith("orders-api-secret", fastArgon2)
	if err != nil {
		log.Fatal(err)
	}
	clients, err := oauth2.NewStaticClients(
		oauth2.Client{ID: "mobile-app", GrantTypes: []string{oauth2.GrantPassword}},
		oauth2.Client{ID: "orders-api", SecretHash: apiSecretHash, ResourceServer: true},
	)
	if err != nil {
		log.Fatal(err)
	}
	aliceHash, err := oauth2.HashPasswordWith("wonderland", fastArgon2)
	if err != nil {
		log.Fatal(err)
	}
	users, err := oauth2.NewStaticUsers(oauth2.StaticUser{Username: "alice", PasswordHash: aliceHash})
	if err != nil {
		log.Fatal(err)
	}
	key, err := oauth2.GenerateKey(oauth2.EdDSA)
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer: issuerURL, Keys: oauth2.NewKeySet(key), Store: memstore.New(), Clients: clients, Users: users,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Config.Handler = issuer.Handler()
	srv.Start()
	defer srv.Close()

	// The resource server: keys from the JWKS, revocation by introspection.
	// A token revoked at the authorization server is refused at most
	// DefaultIntrospectionCacheTTL later; when the endpoint cannot answer,
	// the token is refused with 503 (RevocationFailClosed).
	checker, err := oauth2.NewIntrospectionChecker(oauth2.IntrospectionCheckerConfig{
		URL:          issuer.Metadata().IntrospectionEndpoint,
		ClientID:     "orders-api",
		ClientSecret: "orders-api-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	keys, err := oauth2.NewRemoteKeySet(issuer.Metadata().JWKSURI, oauth2.RemoteKeySetOptions{})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := oauth2.NewVerifier(oauth2.VerifierConfig{
		Issuer:      issuerURL,
		Audience:    issuerURL, // the issuer's default audience
		Keys:        keys,
		Revocations: checker,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	app, err := clients.LookupClient(ctx, "mobile-app")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := issuer.PasswordGrant(ctx, app, "alice", "wonderland", nil)
	if err != nil {
		log.Fatal(err)
	}
	claims, err := verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted:", claims.Subject)
	// Output:
	// accepted: alice
}
