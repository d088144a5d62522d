package oauth2

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"
)

// Claims are the claims of a verified access token (RFC 9068 §2.2). The
// JSON tags name the claims; json.Marshal writes Claims as the token's
// claims set, custom claims included (see MarshalJSON).
//
// Claims beyond these fields, which an Issuer adds through
// IssuerConfig.ExtraClaims, are read with the Claim method.
type Claims struct {
	Issuer    string    `json:"iss"`                // the issuer identifier
	Subject   string    `json:"sub"`                // the resource owner
	Audience  []string  `json:"aud"`                // the resource servers the token is for
	ExpiresAt time.Time `json:"exp"`                // expiry
	IssuedAt  time.Time `json:"iat"`                // issuance
	NotBefore time.Time `json:"nbf,omitzero"`       // not valid before; zero if absent
	ID        string    `json:"jti"`                // the token identifier
	ClientID  string    `json:"client_id"`          // the client the token was issued to
	Scope     []string  `json:"scope,omitempty"`    // the scope granted, split on spaces
	GrantID   string    `json:"grant_id,omitempty"` // the refresh-token family the token was issued under

	// extra holds the other claims of the token, undecoded. It is never
	// modified once built, and its bytes never reach a caller (Claim
	// decodes a copy), so that clones share it.
	extra map[string]josejson.RawMessage
}

// reservedClaims are the claims the SDK itself sets in access tokens, which
// custom claims cannot replace.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "grant_id"}

// isReserved reports whether name is a reserved claim name, or one that
// differs from it only in case: encoding/json matches struct fields
// case-insensitively and lets the last duplicate win, so a resource server
// decoding with it would read "SCOPE" as the scope.
func isReserved(name string) bool {
	return slices.ContainsFunc(reservedClaims, func(r string) bool { return strings.EqualFold(r, name) })
}

// Claim decodes the custom claim name into v, which must be a pointer, as
// json.Unmarshal would, except that member names compare exactly and must
// be unique at every depth, as in the token itself. It reports whether the
// token has the claim; v is left alone when it does not. The reserved
// claims (iss, sub, aud, exp, iat, nbf, jti, client_id, scope, grant_id) are
// the fields of Claims: asking for one is an error.
//
// v receives a copy: nothing the caller does to it reaches another caller.
func (c *Claims) Claim(name string, v any) (bool, error) {
	if slices.Contains(reservedClaims, name) {
		return false, fmt.Errorf("oauth2: %q is a field of Claims, not a custom claim", name)
	}
	raw, ok := c.extra[name]
	if !ok {
		return false, nil
	}
	// A copy, so that an UnmarshalJSON that keeps its input cannot change
	// what other callers read.
	if err := josejson.Unmarshal(slices.Clone(raw), v); err != nil {
		return true, fmt.Errorf("oauth2: claim %q: %w", name, err)
	}
	return true, nil
}

// MarshalJSON writes c as a JWT claims set: the registered claims under
// their RFC 9068 names, dates as NumericDates in whole seconds, aud as a
// string when it has one element, scope as one space-separated string,
// followed by the custom claims in the order of their names. Empty fields
// are left out.
func (c Claims) MarshalJSON() ([]byte, error) {
	w := wireClaims{
		Issuer:   c.Issuer,
		Subject:  c.Subject,
		Audience: audience(c.Audience),
		ID:       c.ID,
		ClientID: c.ClientID,
		Scope:    FormatScope(c.Scope),
		GrantID:  c.GrantID,
	}
	if !c.ExpiresAt.IsZero() {
		w.ExpiresAt = newNumeric(c.ExpiresAt)
	}
	if !c.IssuedAt.IsZero() {
		w.IssuedAt = newNumeric(c.IssuedAt)
	}
	if !c.NotBefore.IsZero() {
		w.NotBefore = newNumeric(c.NotBefore)
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, err
	}
	return appendClaims(b, c.extra)
}

// UnmarshalJSON reads a claims set as the Verifier does, without checking
// anything but its form: it does not make c verified. It lets a test build
// the Claims a handler receives, custom claims included (see WithClaims).
func (c *Claims) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json leaves a struct alone for null
	}
	w, err := parseClaims(b)
	if err != nil {
		return fmt.Errorf("oauth2: claims: %w", err)
	}
	*c = *w.claims()
	return nil
}

// appendClaims adds the members of extra to obj, a JSON object, in the
// order of their names. The values must be valid JSON.
func appendClaims[V ~[]byte](obj []byte, extra map[string]V) ([]byte, error) {
	if len(extra) == 0 {
		return obj, nil
	}
	obj = obj[:len(obj)-1] // drop the closing brace
	for i, name := range slices.Sorted(maps.Keys(extra)) {
		if i > 0 || len(obj) > 1 {
			obj = append(obj, ',')
		}
		n, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		obj = append(append(append(obj, n...), ':'), extra[name]...)
	}
	return append(obj, '}'), nil
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

// wireClaims is the JSON form of Claims. Every member is left out when
// empty: the Issuer always sets the required ones, and Claims.MarshalJSON
// writes only what it has.
type wireClaims struct {
	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  audience `json:"aud,omitempty"`
	ExpiresAt *numeric `json:"exp,omitempty"`
	IssuedAt  *numeric `json:"iat,omitempty"`
	NotBefore *numeric `json:"nbf,omitempty"`
	ID        string   `json:"jti,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	GrantID   string   `json:"grant_id,omitempty"`

	extra map[string]josejson.RawMessage // the other members; nil when none
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
	if hasCustomClaims(payload) {
		if err := josejson.Unmarshal(payload, &w.extra); err != nil {
			return nil, err
		}
		for _, name := range reservedClaims {
			delete(w.extra, name)
		}
		if len(w.extra) == 0 {
			w.extra = nil
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
		extra:    w.extra,
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

// hasCustomClaims reports whether payload, a JSON object that has been
// decoded once already, has a member other than the reserved claims, so
// that a token without custom claims costs no second decoding. A name
// written with escapes counts as custom.
func hasCustomClaims(payload []byte) bool {
	depth := 0
	for i := 0; i < len(payload); i++ {
		switch payload[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start := i + 1
			for i = start; i < len(payload) && payload[i] != '"'; i++ {
				if payload[i] == '\\' {
					i++
				}
			}
			if depth == 1 && isMemberName(payload, i+1) && !isReservedExactly(payload[start:min(i, len(payload))]) {
				return true
			}
		}
	}
	return false
}

// isMemberName reports whether the string that ended before payload[i] is
// a member name: whether a colon follows it.
func isMemberName(payload []byte, i int) bool {
	for ; i < len(payload); i++ {
		switch payload[i] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

func isReservedExactly(name []byte) bool {
	for _, r := range reservedClaims {
		if string(name) == r {
			return true
		}
	}
	return false
}
