package oauth2

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// rawVerifier returns a verifier over one RS256 key, the key, and the
// current time of its clock, for tokens whose bytes a test writes itself.
func rawVerifier(t *testing.T) (*Verifier, *rsa.PrivateKey, int64) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey("rsa-1", RS256, rsaKey)
	if err != nil {
		t.Fatalf("NewKey() error = %v", err)
	}
	clock := newFakeClock()
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: NewKeySet(k),
		Revocation: RevocationUnchecked, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	return v, rsaKey, clock.Now().Unix()
}

// payload is a valid claims object with extra members appended verbatim,
// so that a test can repeat a name or vary its case.
func payload(now int64, extra string) []byte {
	return fmt.Appendf(nil, `{"iss":%q,"sub":"alice","aud":%q,"client_id":"app","exp":%d,"iat":%d,"jti":"j1"%s}`,
		testIssuer, testIssuer, now+60, now, extra)
}

// Claim names compare exactly (RFC 7519 §4: names are case-sensitive), and a
// name given twice makes the token malformed: otherwise this verifier and
// another JWT library could read different claims from one signed token.
func TestVerifyClaimNamesExact(t *testing.T) {
	v, key, now := rawVerifier(t)
	hdr := map[string]any{"kid": "rsa-1", "typ": "at+jwt"}
	tests := []struct {
		name      string
		payload   []byte
		wantScope []string
		wantErr   error
	}{
		{name: "upper-case twin is another claim", payload: payload(now, `,"scope":"profile","SCOPE":"profile admin"`), wantScope: []string{"profile"}},
		{name: "upper-case twin alone grants nothing", payload: payload(now, `,"SCOPE":"admin"`)},
		{name: "duplicate scope", payload: payload(now, `,"scope":"profile","scope":"profile admin"`), wantErr: ErrTokenMalformed},
		{name: "duplicate sub", payload: payload(now, `,"sub":"mallory"`), wantErr: ErrTokenMalformed},
		{name: "duplicate exp", payload: payload(now, fmt.Sprintf(`,"exp":%d`, now+3600)), wantErr: ErrTokenMalformed},
		{name: "required claim only in another case", payload: []byte(fmt.Sprintf(`{"ISS":%q,"sub":"alice","aud":%q,"client_id":"app","exp":%d,"iat":%d,"jti":"j1"}`,
			testIssuer, testIssuer, now+60, now)), wantErr: ErrMissingClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), forgeRaw(t, key, hdr, tt.payload))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(c.Scope, tt.wantScope) {
				t.Errorf("Verify().Scope = %q, want %q", c.Scope, tt.wantScope)
			}
		})
	}
}

// go-jose already refuses a protected header with a repeated or
// differently-cased name; this pins it, since the header chooses the key.
func TestVerifyHeaderNamesExact(t *testing.T) {
	v, key, now := rawVerifier(t)
	good := forgeRaw(t, key, map[string]any{"kid": "rsa-1", "typ": "at+jwt"}, payload(now, ""))
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatalf("Verify(good) error = %v", err)
	}
	for _, hdr := range []string{
		`{"alg":"RS256","kid":"rsa-1","typ":"at+jwt","typ":"JWT"}`,
		`{"alg":"RS256","kid":"rsa-1","kid":"other","typ":"at+jwt"}`,
		`{"alg":"RS256","KID":"rsa-1","typ":"at+jwt"}`,
	} {
		t.Run(hdr, func(t *testing.T) {
			// Sign the doctored header properly, so that only its names can
			// be what the verifier refuses.
			h := base64.RawURLEncoding.EncodeToString([]byte(hdr))
			p := base64.RawURLEncoding.EncodeToString(payload(now, ""))
			digest := sha256.Sum256([]byte(h + "." + p))
			sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(t.Context(), h+"."+p+"."+base64.RawURLEncoding.EncodeToString(sig)); err == nil {
				t.Errorf("Verify() with header %s succeeded, want an error", hdr)
			}
		})
	}
}

// NumericDate values that do not fit an int64 of seconds would wrap when
// converted and could land in the past (nbf, iat) or the future (exp): they
// are malformed, as are negative ones.
func TestVerifyNumericDateRange(t *testing.T) {
	v, key, now := rawVerifier(t)
	hdr := map[string]any{"kid": "rsa-1", "typ": "at+jwt"}
	base := func(exp, iat, nbf string) []byte {
		if nbf != "" {
			nbf = `,"nbf":` + nbf
		}
		return fmt.Appendf(nil, `{"iss":%q,"sub":"alice","aud":%q,"client_id":"app","exp":%s,"iat":%s,"jti":"j1"%s}`,
			testIssuer, testIssuer, exp, iat, nbf)
	}
	exp, iat := fmt.Sprint(now+60), fmt.Sprint(now)
	tests := []struct {
		name    string
		payload []byte
		wantErr error
	}{
		{name: "fractional dates", payload: base(exp+".5", fmt.Sprint(now-1)+".25", fmt.Sprint(now-1)+".75")},
		{name: "nbf 1e19", payload: base(exp, iat, "1e19"), wantErr: ErrTokenMalformed},
		{name: "iat 1e19", payload: base(exp, "1e19", ""), wantErr: ErrTokenMalformed},
		{name: "exp 1e19", payload: base("1e19", iat, ""), wantErr: ErrTokenMalformed},
		{name: "exp past year 9999", payload: base("253402300800", iat, ""), wantErr: ErrTokenMalformed},
		{name: "exp 1e308", payload: base("1e308", iat, ""), wantErr: ErrTokenMalformed},
		{name: "exp beyond float64", payload: base("1e400", iat, ""), wantErr: ErrTokenMalformed},
		{name: "negative nbf", payload: base(exp, iat, "-1e19"), wantErr: ErrTokenMalformed},
		{name: "negative iat", payload: base(exp, "-1", ""), wantErr: ErrTokenMalformed},
		{name: "date as a string", payload: base(exp, `"`+iat+`"`, ""), wantErr: ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), forgeRaw(t, key, hdr, tt.payload))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestClaimsClone(t *testing.T) {
	many := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	tests := []struct {
		name     string
		aud, scp []string
	}{
		{name: "nil both"},
		{name: "empty scope", aud: []string{"x"}, scp: []string{}},
		{name: "few", aud: []string{"x"}, scp: []string{"profile", "email"}},
		{name: "room exactly full", aud: []string{"x", "y"}, scp: many[:4]},
		{name: "more than the room", aud: many[:3], scp: many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := &Claims{Subject: "alice", Audience: tt.aud, Scope: tt.scp}
			want := &Claims{Subject: "alice", Audience: slices.Clone(tt.aud), Scope: slices.Clone(tt.scp)}
			c := orig.clone()
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("clone() = %+v, want %+v", c, want)
			}
			c.Audience = append(c.Audience, "appended")
			for i := range c.Audience {
				c.Audience[i] = "changed"
			}
			for i := range c.Scope {
				c.Scope[i] = "changed"
			}
			c.Scope = append(c.Scope, "appended")
			if !reflect.DeepEqual(orig, want) {
				t.Errorf("after changing the clone, original = %+v, want %+v", orig, want)
			}
		})
	}
}
