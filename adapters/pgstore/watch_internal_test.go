package pgstore

import (
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

func TestChannelName(t *testing.T) {
	long1, long2 := strings.Repeat("a", 63), strings.Repeat("a", 62)+"b"
	tests := []struct {
		schema string
		want   string // "" when hashed
	}{
		{"oauth2kit", "oauth2kit_revocations.oauth2kit"},
		{`Odd "schema"`, `oauth2kit_revocations.Odd "schema"`},
		{strings.Repeat("s", maxIdentifierLen-len(channelPrefix)-1), "oauth2kit_revocations." + strings.Repeat("s", maxIdentifierLen-len(channelPrefix)-1)},
		{long1, ""},
		{long2, ""},
	}
	seen := make(map[string]string)
	for _, tt := range tests {
		got := channelName(tt.schema)
		if len(got) > maxIdentifierLen || !strings.HasPrefix(got, channelPrefix) {
			t.Errorf("channelName(%q) = %q, want at most %d bytes starting %q", tt.schema, got, maxIdentifierLen, channelPrefix)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("channelName(%q) = %q, want %q", tt.schema, got, tt.want)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("channelName(%q) = channelName(%q) = %q, want distinct", tt.schema, prev, got)
		}
		seen[got] = tt.schema
	}
}

func TestParsePayload(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)
	us := "1893553445678901"
	tests := []struct {
		name    string
		payload string
		want    store.Revocation
		wantErr bool
	}{
		{name: "grant", payload: "g:" + us + ":grant-1", want: store.Revocation{GrantID: "grant-1", ExpiresAt: exp}},
		{name: "jti", payload: "j:" + us + ":jti-1", want: store.Revocation{JTI: "jti-1", ExpiresAt: exp}},
		{name: "id with colons", payload: "j:" + us + ":a:b:", want: store.Revocation{JTI: "a:b:", ExpiresAt: exp}},
		{name: "empty id", payload: "g:" + us + ":", want: store.Revocation{ExpiresAt: exp}},
		{name: "before 1970", payload: "g:-1:x", want: store.Revocation{GrantID: "x", ExpiresAt: time.UnixMicro(-1)}},
		{name: "resync", payload: "r", wantErr: true},
		{name: "unknown kind", payload: "x:" + us + ":id", wantErr: true},
		{name: "long kind", payload: "gg:" + us + ":id", wantErr: true},
		{name: "no expiry", payload: "g:id", wantErr: true},
		{name: "bad expiry", payload: "g:soon:id", wantErr: true},
		{name: "empty", payload: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePayload(tt.payload)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: parsePayload(%q) error = %v, want error: %v", tt.name, tt.payload, err, tt.wantErr)
			continue
		}
		if got.GrantID != tt.want.GrantID || got.JTI != tt.want.JTI || !got.ExpiresAt.Equal(tt.want.ExpiresAt) {
			t.Errorf("%s: parsePayload(%q) = %+v, want %+v", tt.name, tt.payload, got, tt.want)
		}
	}
}
