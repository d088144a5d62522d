package storetest

import (
	"strings"
	"testing"

	"github.com/oauth2kit/oauth2kit/store"
)

// TestMessagesPrintBytesInHex guards the formatters of failure messages: a
// hash printed as decimal bytes cannot be matched against a database row.
func TestMessagesPrintBytesInHex(t *testing.T) {
	tok := tokenString(store.RefreshToken{Hash: []byte{0xab, 0xcd}, SuccessorKey: []byte{0x01}})
	for _, want := range []string{"Hash:abcd ", "SuccessorKey:01}"} {
		if !strings.Contains(tok, want) {
			t.Errorf("tokenString() = %s, want it to contain %q", tok, want)
		}
	}
	keys := keysString([]store.SigningKey{{ID: "k1", Private: []byte{0xff, 0x00}}})
	if !strings.Contains(keys, "Private:ff00 ") {
		t.Errorf("keysString() = %s, want it to contain %q", keys, "Private:ff00 ")
	}
}
