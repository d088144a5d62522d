package oauth2

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestClaim(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"sub":"alice","roles":["reader"],"tenant":"acme","level":3,"SCOPE":"admin","obj":{"a":1,"a":2}}`), &c); err != nil {
		t.Fatalf("json.Unmarshal() error = %v", err)
	}
	tests := []struct {
		name    string
		claim   string
		into    any
		want    any
		wantOK  bool
		wantErr bool
	}{
		{name: "array", claim: "roles", into: new([]string), want: []string{"reader"}, wantOK: true},
		{name: "string", claim: "tenant", into: new(string), want: "acme", wantOK: true},
		{name: "number", claim: "level", into: new(int), want: 3, wantOK: true},
		{name: "raw", claim: "roles", into: new(json.RawMessage), want: json.RawMessage(`["reader"]`), wantOK: true},
		{name: "absent", claim: "department", into: new(string), want: ""},
		{name: "name in another case is another claim", claim: "Tenant", into: new(string), want: ""},
		{name: "custom claim spelled like a reserved one", claim: "SCOPE", into: new(string), want: "admin", wantOK: true},
		{name: "wrong type", claim: "tenant", into: new(int), want: 0, wantOK: true, wantErr: true},
		{name: "duplicate name inside", claim: "obj", into: new(map[string]int), want: map[string]int(nil), wantOK: true, wantErr: true},
		{name: "reserved", claim: "sub", into: new(string), want: "", wantErr: true},
		{name: "reserved grant_id", claim: "grant_id", into: new(string), want: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := c.Claim(tt.claim, tt.into)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("Claim(%q) = %v, %v, want %v, error %v", tt.claim, ok, err, tt.wantOK, tt.wantErr)
			}
			if got := reflect.ValueOf(tt.into).Elem().Interface(); !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Claim(%q) decoded %#v, want %#v", tt.claim, got, tt.want)
			}
		})
	}
}

func TestClaimsJSON(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	tests := []struct {
		name    string
		in      string
		want    string // what json.Marshal writes; "" for the input itself
		wantErr bool
	}{
		{name: "empty", in: `{}`},
		{name: "one audience is a string",
			in: `{"iss":"https://a.test","sub":"alice","aud":"https://rs.test","exp":1700000060,"iat":1700000000,"jti":"j1","client_id":"app","scope":"profile email","grant_id":"g1"}`},
		{name: "audiences, nbf and custom claims in name order",
			in:   `{"aud":["x","y"],"nbf":1700000000,"tenant":"acme","roles":["reader"],"Sub":1}`,
			want: `{"aud":["x","y"],"nbf":1700000000,"Sub":1,"roles":["reader"],"tenant":"acme"}`},
		{name: "fractional dates are whole seconds", in: `{"exp":1700000060.75}`, want: `{"exp":1700000060}`},
		{name: "duplicate custom claim", in: `{"roles":[],"roles":["admin"]}`, wantErr: true},
		{name: "duplicate inside a custom claim is read as given", in: `{"o":{"a":1,"a":2}}`},
		{name: "date out of range", in: `{"exp":1e19}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Claims
			err := json.Unmarshal([]byte(tt.in), &c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("json.Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got, err := json.Marshal(c)
			if err != nil {
				t.Fatalf("json.Marshal() error = %v", err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if string(got) != want {
				t.Errorf("json.Marshal(Claims) = %s, want %s", got, want)
			}
		})
	}
	// null leaves Claims alone, as it does any struct.
	kept := Claims{Subject: "alice"}
	if err := json.Unmarshal([]byte(`null`), &kept); err != nil || kept.Subject != "alice" {
		t.Errorf("json.Unmarshal(null) = %+v, %v, want Subject alice kept", kept, err)
	}
	// Dates, lists and the pointer receiver: what a handler test builds.
	c := &Claims{Subject: "alice", Audience: []string{"x"}, ExpiresAt: at(1700000060), Scope: []string{"a", "b"}}
	got, err := json.Marshal(c)
	if want := `{"sub":"alice","aud":"x","exp":1700000060,"scope":"a b"}`; err != nil || string(got) != want {
		t.Errorf("json.Marshal(%+v) = %s, %v, want %s", c, got, err, want)
	}
}

// hasCustomClaims only spares tokens without custom claims a second
// decoding: it must never miss one.
func TestHasCustomClaims(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    bool
	}{
		{name: "reserved only", payload: `{"iss":"a","sub":"b","aud":["c","d"],"exp":1,"iat":1,"nbf":1,"jti":"j","client_id":"x","scope":"p","grant_id":"g"}`},
		{name: "empty", payload: `{}`},
		{name: "null", payload: `null`},
		{name: "whitespace", payload: " { \"iss\" :\n\"a\" , \"sub\"\t: \"b\" } "},
		{name: "names inside values", payload: `{"sub":"roles","aud":["tenant"],"scope":"a:b \":\" {\"x\":1}"}`},
		{name: "custom claim", payload: `{"iss":"a","roles":["r"]}`, want: true},
		{name: "custom claim first", payload: `{"tenant":"t","iss":"a"}`, want: true},
		{name: "custom claim after a nested one", payload: `{"aud":["a",{"b":[1]}],"t":1}`, want: true},
		{name: "name in another case", payload: `{"SUB":"a"}`, want: true},
		{name: "escaped name", payload: `{"\u0073ub":"a"}`, want: true},
		{name: "escaped quote in a name", payload: `{"a\"b":1}`, want: true},
		{name: "escaped backslash before a name's end", payload: `{"sub\\":1}`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasCustomClaims([]byte(tt.payload)); got != tt.want {
				t.Errorf("hasCustomClaims(%s) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

// FuzzHasCustomClaims checks the shortcut against decoding every member.
func FuzzHasCustomClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"a","roles":["r"]}`))
	f.Add([]byte(`{"sub":"a:b","aud":[{"x":"y"}]}`))
	f.Add([]byte(`{"\u0073ub":"a"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w, err := parseClaims(payload)
		if err != nil {
			return
		}
		var all map[string]json.RawMessage
		if json.Unmarshal(payload, &all) != nil {
			return
		}
		custom := false
		for name := range all {
			custom = custom || !slices.Contains(reservedClaims, name)
		}
		if custom && w.extra == nil {
			t.Errorf("parseClaims(%q) found no custom claims, want %v", payload, all)
		}
	})
}
