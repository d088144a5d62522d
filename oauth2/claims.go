package oauth2

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Claims are the claims of a verified access token (RFC 9068 §2.2).
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub
	Audience  []string  // aud
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero if absent
	ID        string    // jti
	ClientID  string    // client_id
	Scope     []string  // scope, split on spaces
	GrantID   string    // grant_id: the refresh-token family the token was issued under
}

// HasScope reports whether the token grants every scope given.
func (c *Claims) HasScope(scope ...string) bool {
	for _, s := range scope {
		if !slices.Contains(c.Scope, s) {
			return false
		}
	}
	return true
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	ExpiresAt *numeric `json:"exp"`
	IssuedAt  *numeric `json:"iat"`
	NotBefore *numeric `json:"nbf,omitempty"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	GrantID   string   `json:"grant_id,omitempty"`
}

// numeric is a JWT NumericDate: seconds since the epoch, possibly
// fractional on input; whole seconds on output.
type numeric float64

func (n numeric) time() time.Time {
	sec := float64(n)
	whole := int64(sec)
	return time.Unix(whole, int64((sec-float64(whole))*1e9))
}

func newNumeric(t time.Time) *numeric {
	n := numeric(t.Unix())
	return &n
}

// audience accepts both forms RFC 7519 §4.1.3 allows: a string or an array
// of strings. It is written as a string when it has one element.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (w *wireClaims) claims() *Claims {
	c := &Claims{
		Issuer:   w.Issuer,
		Subject:  w.Subject,
		Audience: w.Audience,
		ID:       w.ID,
		ClientID: w.ClientID,
		GrantID:  w.GrantID,
	}
	if w.Scope != "" {
		c.Scope = strings.Fields(w.Scope)
	}
	if w.ExpiresAt != nil {
		c.ExpiresAt = w.ExpiresAt.time()
	}
	if w.IssuedAt != nil {
		c.IssuedAt = w.IssuedAt.time()
	}
	if w.NotBefore != nil {
		c.NotBefore = w.NotBefore.time()
	}
	return c
}
