package oauth2

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"
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

// clone returns a deep copy of c, so that what one caller does to its Claims
// never reaches another. Audience and Scope share one backing array, capped
// so that appending to either reallocates instead of overwriting the other;
// for the usual few elements it is allocated with the Claims, in one go.
func (c *Claims) clone() *Claims {
	na, ns := len(c.Audience), len(c.Scope)
	var out *Claims
	var buf []string
	if na+ns <= len(claimsWithRoom{}.room) {
		b := new(claimsWithRoom)
		out, buf = &b.Claims, b.room[:]
	} else {
		out, buf = new(Claims), make([]string, na+ns)
	}
	*out = *c
	if c.Audience != nil {
		out.Audience = buf[:na:na]
		copy(out.Audience, c.Audience)
	}
	if c.Scope != nil {
		out.Scope = buf[na : na+ns : na+ns]
		copy(out.Scope, c.Scope)
	}
	return out
}

// claimsWithRoom is Claims with room for a few audiences and scopes.
type claimsWithRoom struct {
	Claims
	room [6]string
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

// parseClaims decodes a verified payload. Member names compare exactly and a
// name may appear once (RFC 7519 §4, RFC 8259 §4): encoding/json would match
// "SCOPE" to scope and let the last duplicate win, so that a payload could
// mean one thing to this verifier and another to every other JWT library.
// go-jose's fork of encoding/json has exactly these rules, and is what it
// uses for JOSE headers.
func parseClaims(payload []byte) (*wireClaims, error) {
	var w wireClaims
	if err := josejson.Unmarshal(payload, &w); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		name string
		n    *numeric
	}{{"exp", w.ExpiresAt}, {"iat", w.IssuedAt}, {"nbf", w.NotBefore}} {
		if d.n != nil && !d.n.valid() {
			return nil, fmt.Errorf("%s %v is not a NumericDate between 0 and year 9999", d.name, float64(*d.n))
		}
	}
	return &w, nil
}

// numeric is a JWT NumericDate: seconds since the epoch, possibly
// fractional on input; whole seconds on output.
type numeric float64

// maxNumericDate is the last second of year 9999. Anything later (or
// negative, or not finite) is refused: converting it to int64 seconds would
// wrap, and a wrapped nbf or exp fails open.
const maxNumericDate = 253402300799

// valid also refuses NaN and infinities, for which every comparison is false.
func (n numeric) valid() bool { return n >= 0 && n <= maxNumericDate }

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
	if err := josejson.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := josejson.Unmarshal(b, &many); err != nil {
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
