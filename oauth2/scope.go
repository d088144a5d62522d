package oauth2

import (
	"slices"
	"strings"
)

// maxScopeTokens is how many distinct scope tokens the token endpoint
// accepts in one request when IssuerConfig.ScopesSupported is not set. No
// grant needs more, and the cap bounds the work an unauthenticated request
// can cause before it is refused.
const maxScopeTokens = 256

// smallScopeSet is the size up to which a linear search beats building a
// map; the scopes of real requests and clients are almost always smaller.
const smallScopeSet = 16

// ParseScope splits a scope parameter (RFC 6749 §3.3: scope-tokens separated
// by single spaces) into its tokens, dropping duplicates and keeping the
// first occurrence's order. It reports false if the value is malformed. It
// takes time linear in len(s); the token endpoint also refuses a scope of
// more distinct tokens than IssuerConfig.ScopesSupported lists (256 when
// that is not set) before it authenticates the client.
func ParseScope(s string) ([]string, bool) {
	scope, res := parseScope(s, -1)
	return scope, res == scopeOK
}

type scopeResult int

const (
	scopeOK scopeResult = iota
	scopeMalformed
	scopeTooMany
)

// parseScope is ParseScope with a cap on the number of distinct tokens
// (none if limit < 0). It stops at the first token past the cap, so that a
// request cannot grow the set of seen tokens beyond it.
func parseScope(s string, limit int) ([]string, scopeResult) {
	if s == "" {
		return nil, scopeOK
	}
	n := strings.Count(s, " ") + 1
	if limit >= 0 {
		n = min(n, limit)
	}
	out := make([]string, 0, n)
	var seen map[string]struct{} // only once out outgrows smallScopeSet
	for tok := range strings.SplitSeq(s, " ") {
		if !validScopeToken(tok) {
			return nil, scopeMalformed
		}
		if seen != nil {
			if _, dup := seen[tok]; dup {
				continue
			}
		} else if slices.Contains(out, tok) {
			continue
		}
		if limit >= 0 && len(out) == limit {
			return nil, scopeTooMany
		}
		out = append(out, tok)
		switch {
		case seen != nil:
			seen[tok] = struct{}{}
		case len(out) > smallScopeSet:
			seen = make(map[string]struct{}, n)
			for _, t := range out {
				seen[t] = struct{}{}
			}
		}
	}
	return out, scopeOK
}

// countDistinct returns the number of distinct strings in list.
func countDistinct(list []string) int {
	set := make(map[string]struct{}, len(list))
	for _, s := range list {
		set[s] = struct{}{}
	}
	return len(set)
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
	set := setIfLarge(a, b)
	for _, s := range a {
		if !contains(set, b, s) {
			return false
		}
	}
	return true
}

// intersect returns the elements of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	set := setIfLarge(a, b)
	var out []string
	for _, s := range a {
		if contains(set, b, s) {
			out = append(out, s)
		}
	}
	return out
}

// setIfLarge returns b as a set when looking up every element of a in b
// by linear search could be slow, nil when it cannot: requests are capped,
// but configured scope lists (ScopesSupported, a client's) can be long.
func setIfLarge(a, b []string) map[string]struct{} {
	if len(a) <= smallScopeSet || len(b) <= smallScopeSet {
		return nil
	}
	set := make(map[string]struct{}, len(b))
	for _, s := range b {
		set[s] = struct{}{}
	}
	return set
}

// contains reports whether s is in b, using set if it is not nil.
func contains(set map[string]struct{}, b []string, s string) bool {
	if set != nil {
		_, ok := set[s]
		return ok
	}
	return slices.Contains(b, s)
}
