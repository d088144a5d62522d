package oauth2

import (
	"slices"
	"strings"
)

// ParseScope splits a scope parameter (RFC 6749 §3.3: scope-tokens separated
// by single spaces) into its tokens, dropping duplicates and keeping the
// first occurrence's order. It reports false if the value is malformed.
func ParseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	parts := strings.Split(s, " ")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if !validScopeToken(p) {
			return nil, false
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, true
}

// validScopeToken reports whether tok matches scope-token = 1*NQCHAR, where
// NQCHAR is %x21 / %x23-5B / %x5D-7E (RFC 6749 Appendix A.4).
func validScopeToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// FormatScope joins scope tokens with single spaces.
func FormatScope(scope []string) string { return strings.Join(scope, " ") }

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// intersect returns the elements of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
