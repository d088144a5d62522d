package oauth2_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	xoauth2 "golang.org/x/oauth2"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// These tests check the SDK against an independent JOSE implementation,
// github.com/lestrrat-go/jwx, in both directions: what the issuer publishes
// and signs must verify there, and what jwx signs must verify here, or be
// rejected for the right reason.

func jwaAlg(tb testing.TB, alg string) jwa.SignatureAlgorithm {
	tb.Helper()
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		tb.Fatalf("jwa.LookupSignatureAlgorithm(%q) found nothing", alg)
	}
	return a
}

func TestInterop_JWXVerifiesIssuedTokens(t *testing.T) {
	for _, alg := range []string{oauth2.EdDSA, oauth2.ES256, oauth2.RS256} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, withAlg(alg))
			tok := f.passwordToken(t, f.config(confID, confSecret, xoauth2.AuthStyleInHeader))

			set, err := jwk.Fetch(t.Context(), f.url+oauth2.JWKSPath, jwk.WithHTTPClient(f.srv.Client()))
			if err != nil {
				t.Fatalf("jwk.Fetch() error = %v", err)
			}
			active, err := f.keys.SigningKey(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			kid := active.ID()
			key, ok := set.LookupKeyID(kid)
			if !ok {
				t.Fatalf("Got(JWKS) without kid %q, want the active key", kid)
			}
			if got, _ := key.Algorithm(); got.String() != alg {
				t.Errorf("Got(JWK alg) = %q, want %q", got, alg)
			}
			if got, _ := key.KeyUsage(); got != "sig" {
				t.Errorf("Got(JWK use) = %q, want %q", got, "sig")
			}
			var raw any
			if err := jwk.Export(key, &raw); err != nil {
				t.Errorf("jwk.Export() error = %v", err)
			} else if isPrivate(raw) {
				t.Errorf("Got(JWKS key) = %T, want a public key only", raw)
			}

			msg, err := jws.Parse([]byte(tok.AccessToken))
			if err != nil {
				t.Fatalf("jws.Parse() error = %v", err)
			}
			hdr := msg.Signatures()[0].ProtectedHeaders()
			if got, _ := hdr.Type(); got != "at+jwt" {
				t.Errorf("Got(typ) = %q, want %q", got, "at+jwt")
			}
			if got, _ := hdr.KeyID(); got != kid {
				t.Errorf("Got(kid) = %q, want %q", got, kid)
			}
			if got, _ := hdr.Algorithm(); got.String() != alg {
				t.Errorf("Got(alg) = %q, want %q", got, alg)
			}

			parsed := parseWithJWX(t, f, tok.AccessToken, set)
			for _, claim := range []string{"iss", "aud", "sub", "client_id", "scope", "jti", "iat", "exp"} {
				if !parsed.Has(claim) {
					t.Errorf("Got(claims) = %v, want %q present", parsed.Keys(), claim)
				}
			}
			var clientID, scope string
			if err := parsed.Get("client_id", &clientID); err != nil || clientID != confID {
				t.Errorf("Got(client_id) = %q, %v, want %q", clientID, err, confID)
			}
			if err := parsed.Get("scope", &scope); err != nil || scope != "profile email" {
				t.Errorf("Got(scope) = %q, %v, want %q", scope, err, "profile email")
			}
		})
	}
}

// parseWithJWX verifies and validates an access token of f with jwx,
// against the JWKS set f publishes, and checks its subject.
func parseWithJWX(t *testing.T, f *fixture, token string, set jwk.Set) jwt.Token {
	t.Helper()
	parsed, err := jwt.Parse([]byte(token),
		jwt.WithKeySet(set),
		jwt.WithValidate(true),
		jwt.WithIssuer(f.url),
		jwt.WithAudience(f.url),
	)
	if err != nil {
		t.Fatalf("jwt.Parse() with the published JWKS error = %v", err)
	}
	if got, _ := parsed.Subject(); got != aliceSubject {
		t.Errorf("Got(sub) = %q, want %q", got, aliceSubject)
	}
	return parsed
}

func isPrivate(k any) bool {
	switch k.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey, []byte:
		return true
	}
	return false
}

// TestInterop_JWKSNeverPublishesHMACSecrets checks that an HS256 issuer
// publishes an empty key set, which jwx reads as such.
func TestInterop_JWKSNeverPublishesHMACSecrets(t *testing.T) {
	f := newFixture(t, withAlg(oauth2.HS256))
	r := f.request(t, http.MethodGet, oauth2.JWKSPath, "", "")
	set, err := jwk.Parse(r.body)
	if err != nil {
		t.Fatalf("jwk.Parse(%s) error = %v", r.body, err)
	}
	if set.Len() != 0 {
		t.Errorf("Got(JWKS of an HS256 issuer) = %s, want no keys", r.body)
	}
}

// jwxSigner is a private key held by jwx, with its public half served as a
// JWKS by a test server.
type jwxSigner struct {
	alg     jwa.SignatureAlgorithm
	private jwk.Key
	raw     crypto.Signer // the same private key, without the JWK's kid
	public  any           // the raw public key
	jwksURL string
	srv     *httptest.Server
}

// newJWXSigner generates a key for alg and serves its public half, with kid
// and alg set, from a new test server.
func newJWXSigner(tb testing.TB, alg string) *jwxSigner {
	tb.Helper()
	raw := generatePrivateKey(tb, alg)
	priv, err := jwk.Import(raw)
	if err != nil {
		tb.Fatalf("jwk.Import() error = %v", err)
	}
	s := &jwxSigner{alg: jwaAlg(tb, alg), private: priv, raw: raw, public: raw.Public()}
	for k, v := range map[string]any{jwk.KeyIDKey: "jwx-" + alg, jwk.AlgorithmKey: s.alg, jwk.KeyUsageKey: "sig"} {
		if err := priv.Set(k, v); err != nil {
			tb.Fatalf("jwk Set(%s) error = %v", k, err)
		}
	}
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		tb.Fatalf("jwk.PublicKeyOf() error = %v", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		tb.Fatalf("AddKey() error = %v", err)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		tb.Fatalf("marshalling the JWKS: %v", err)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	tb.Cleanup(s.srv.Close)
	s.jwksURL = s.srv.URL + "/jwks.json"
	return s
}

func (s *jwxSigner) kid() string { k, _ := s.private.KeyID(); return k }

const (
	remoteIssuer   = "https://issuer.example"
	remoteAudience = "https://api.example"
)

// claims returns a valid RFC 9068 claim set for the remote issuer.
func remoteClaims(tb testing.TB) jwt.Token {
	tb.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().
		Issuer(remoteIssuer).
		Subject("user-42").
		Audience([]string{remoteAudience}).
		IssuedAt(now).
		Expiration(now.Add(5*time.Minute)).
		JwtID("jti-42").
		Claim("client_id", "some-client").
		Claim("scope", "profile email").
		Build()
	if err != nil {
		tb.Fatalf("jwt.Builder.Build() error = %v", err)
	}
	return tok
}

// headers returns protected headers with typ and kid set as given; empty
// values are left out.
func headers(tb testing.TB, typ, kid string) jws.Headers {
	tb.Helper()
	h := jws.NewHeaders()
	if typ != "" {
		if err := h.Set(jws.TypeKey, typ); err != nil {
			tb.Fatalf("Set(typ) error = %v", err)
		}
	}
	if kid != "" {
		if err := h.Set(jws.KeyIDKey, kid); err != nil {
			tb.Fatalf("Set(kid) error = %v", err)
		}
	}
	return h
}

// sign signs the remote claims with alg and key under the headers given.
func sign(tb testing.TB, alg jwa.SignatureAlgorithm, key any, h jws.Headers) string {
	tb.Helper()
	b, err := jwt.Sign(remoteClaims(tb), jwt.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		tb.Fatalf("jwt.Sign(%s) error = %v", alg, err)
	}
	return string(b)
}

// remoteVerifier verifies the remote issuer's tokens with keys from url.
func remoteVerifier(tb testing.TB, url string, client *http.Client) *oauth2.Verifier {
	tb.Helper()
	v, err := oauth2.NewVerifier(oauth2.VerifierConfig{
		Issuer:     remoteIssuer,
		Audience:   remoteAudience,
		Keys:       newRemote(tb, url, oauth2.RemoteKeySetOptions{Client: client}),
		Revocation: oauth2.RevocationUnchecked, // a third-party issuer: no shared store
	})
	if err != nil {
		tb.Fatalf("NewVerifier() error = %v", err)
	}
	return v
}

func TestInterop_VerifierAcceptsJWXTokens(t *testing.T) {
	for _, alg := range []string{oauth2.EdDSA, oauth2.ES256, oauth2.RS256} {
		t.Run(alg, func(t *testing.T) {
			s := newJWXSigner(t, alg)
			v := remoteVerifier(t, s.jwksURL, s.srv.Client())
			for _, typ := range []string{"at+jwt", "application/at+jwt"} {
				raw := sign(t, s.alg, s.private, headers(t, typ, s.kid()))
				c, err := v.Verify(t.Context(), raw)
				if err != nil {
					t.Fatalf("Verify(jwx token, typ %q) error = %v", typ, err)
				}
				if c.Subject != "user-42" || c.ID != "jti-42" || c.ClientID != "some-client" || !c.HasScope("profile", "email") {
					t.Errorf("Got(Verify claims) = %+v, want sub user-42, jti jti-42, client some-client, scope profile email", c)
				}
			}
		})
	}
}

func TestInterop_VerifierRejectsForgedJWXTokens(t *testing.T) {
	rs := newJWXSigner(t, oauth2.RS256)
	v := remoteVerifier(t, rs.jwksURL, rs.srv.Client())
	// Warm the key cache with a good token, so the cases below are judged
	// with the key set in hand.
	if _, err := v.Verify(t.Context(), sign(t, rs.alg, rs.private, headers(t, "at+jwt", rs.kid()))); err != nil {
		t.Fatalf("Verify(good token) error = %v", err)
	}

	pubDER, err := x509.MarshalPKIXPublicKey(rs.public)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey() error = %v", err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa.GenerateKey() error = %v", err)
	}

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		wantErr error
	}{
		{
			name:    "TypJWT",
			token:   func(t *testing.T) string { return sign(t, rs.alg, rs.private, headers(t, "JWT", rs.kid())) },
			wantErr: oauth2.ErrTokenType,
		},
		{
			name:    "NoTyp",
			token:   func(t *testing.T) string { return sign(t, rs.alg, rs.private, headers(t, "", rs.kid())) },
			wantErr: oauth2.ErrTokenType,
		},
		{
			name: "AlgNone",
			token: func(t *testing.T) string {
				b, err := jws.Sign(mustJSON(t, remoteClaims(t)), jws.WithInsecureNoSignature(jws.WithProtectedHeaders(headers(t, "at+jwt", rs.kid()))))
				if err != nil {
					t.Fatalf("jws.Sign(none) error = %v", err)
				}
				return string(b)
			},
			wantErr: oauth2.ErrInvalidToken,
		},
		{
			name: "AlgNoneHandMade",
			token: func(t *testing.T) string {
				hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + rs.kid() + `"}`))
				return hdr + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, remoteClaims(t))) + "."
			},
			wantErr: oauth2.ErrInvalidToken,
		},
		{
			// The classic HS/RS confusion: the public key, which anyone has,
			// used as an HMAC secret under the RSA key's kid.
			name:    "HS256WithPublicKeyPEM",
			token:   func(t *testing.T) string { return sign(t, jwa.HS256(), pubPEM, headers(t, "at+jwt", rs.kid())) },
			wantErr: oauth2.ErrAlgorithmMismatch,
		},
		{
			name:    "HS256WithPublicKeyDER",
			token:   func(t *testing.T) string { return sign(t, jwa.HS256(), pubDER, headers(t, "at+jwt", rs.kid())) },
			wantErr: oauth2.ErrAlgorithmMismatch,
		},
		{
			// Signed with the raw key: jwx would replace the kid header with
			// the JWK's own.
			name:    "KidNotInSet",
			token:   func(t *testing.T) string { return sign(t, rs.alg, rs.raw, headers(t, "at+jwt", "no-such-kid")) },
			wantErr: oauth2.ErrUnknownKey,
		},
		{
			name:    "NoKid",
			token:   func(t *testing.T) string { return sign(t, rs.alg, other, headers(t, "at+jwt", "")) },
			wantErr: oauth2.ErrUnknownKey,
		},
		{
			name:    "OtherKeySameKid",
			token:   func(t *testing.T) string { return sign(t, rs.alg, other, headers(t, "at+jwt", rs.kid())) },
			wantErr: oauth2.ErrInvalidSignature,
		},
		{
			name:    "PS256SameKey",
			token:   func(t *testing.T) string { return sign(t, jwa.PS256(), rs.private, headers(t, "at+jwt", rs.kid())) },
			wantErr: oauth2.ErrInvalidToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			c, err := v.Verify(t.Context(), raw)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify() = %+v, %v, want error %v", c, err, tt.wantErr)
			}
			if !errors.Is(err, oauth2.ErrInvalidToken) {
				t.Errorf("Verify() error = %v, want it to match ErrInvalidToken", err)
			}
		})
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json.Marshal() error = %v", err)
	}
	return b
}

// TestInterop_Metadata checks the RFC 8414 document: where it is served,
// that its issuer is the identifier it was fetched under (§3.3), and that
// the endpoints it names are the ones that work.
func TestInterop_Metadata(t *testing.T) {
	tests := []struct {
		name       string
		issuerPath string
	}{
		{name: "RootIssuer"},
		// §3.1: the well-known segment goes between host and issuer path.
		{name: "IssuerWithPath", issuerPath: "/tenants/acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withIssuerPath(tt.issuerPath))
			r := f.getWithAuthorization(t, oauth2.MetadataPath+tt.issuerPath, "")
			if r.status != http.StatusOK {
				t.Fatalf("Got(GET %s status) = %d, want 200", oauth2.MetadataPath+tt.issuerPath, r.status)
			}
			var md map[string]any
			if err := json.Unmarshal(r.body, &md); err != nil {
				t.Fatalf("decoding %s: %v", r.body, err)
			}
			want := map[string]string{
				"issuer":                 f.url,
				"token_endpoint":         f.url + oauth2.TokenPath,
				"jwks_uri":               f.url + oauth2.JWKSPath,
				"revocation_endpoint":    f.url + oauth2.RevocationPath,
				"introspection_endpoint": f.url + oauth2.IntrospectionPath,
			}
			for k, v := range want {
				if md[k] != v {
					t.Errorf("Got(metadata %s) = %v, want %q", k, md[k], v)
				}
			}
			// §3.2 omits zero-element claims, and with no authorization
			// endpoint there are no response types.
			if v, ok := md["response_types_supported"]; ok {
				t.Errorf("Got(response_types_supported) = %v, want it omitted", v)
			}
			grants, _ := md["grant_types_supported"].([]any)
			for _, g := range []string{"password", "refresh_token"} {
				if !slices.Contains(grants, any(g)) {
					t.Errorf("Got(grant_types_supported) = %v, want %q", grants, g)
				}
			}

			// The endpoints named are live.
			tok := f.passwordToken(t, &xoauth2.Config{
				ClientID:     confID,
				ClientSecret: confSecret,
				Endpoint:     xoauth2.Endpoint{TokenURL: md["token_endpoint"].(string), AuthStyle: xoauth2.AuthStyleInHeader},
			})
			set, err := jwk.Fetch(t.Context(), md["jwks_uri"].(string), jwk.WithHTTPClient(f.srv.Client()))
			if err != nil {
				t.Fatalf("jwk.Fetch(jwks_uri) error = %v", err)
			}
			if _, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(f.url)); err != nil {
				t.Errorf("jwt.Parse() with the keys at jwks_uri error = %v", err)
			}
		})
	}
}
