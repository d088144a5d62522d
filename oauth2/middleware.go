package oauth2

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

type claimsKey struct{}

// ClaimsFromContext returns the claims the middleware stored for the
// request's verified access token.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// WithClaims returns a copy of ctx carrying c, as the middleware does. It
// is useful in tests of handlers that read ClaimsFromContext.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Middleware authenticates every request by its bearer token (RFC 6750
// §2.1) and calls next with the claims in the request context. It answers
// itself when the token is missing (401 with a bare challenge), malformed
// (400 invalid_request), or rejected (401 invalid_token), and with 503
// temporarily_unavailable when the token's revocation status or the
// verification keys cannot be read (ErrRevocationUnavailable,
// ErrKeysUnavailable): it fails closed.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.Require()(next)
}

// Require returns middleware that authenticates like Middleware and then
// requires every scope given, answering 403 insufficient_scope (RFC 6750
// §3.1) with the scope needed when the token lacks one. Like
// regexp.MustCompile it panics on a malformed scope, a programming error
// found when routes are set up.
func (v *Verifier) Require(scope ...string) func(http.Handler) http.Handler {
	need := mustScope(scope)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, err := bearerToken(r)
			if err != nil {
				v.challenge(w, http.StatusBadRequest, "invalid_request", err.Error(), "")
				return
			}
			if raw == "" {
				v.challenge(w, http.StatusUnauthorized, "", "", "")
				return
			}
			c, err := v.Verify(r.Context(), raw)
			switch {
			case errors.Is(err, ErrRevocationUnavailable), errors.Is(err, ErrKeysUnavailable):
				writeJSONError(w, newError(ErrTemporarilyUnavailable, "the access token cannot be checked right now", nil))
				return
			case err != nil:
				v.challenge(w, http.StatusUnauthorized, "invalid_token", tokenErrorDescription(err), "")
				return
			}
			if !c.HasScope(scope...) {
				v.challenge(w, http.StatusForbidden, "insufficient_scope", "the access token lacks a required scope", need)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// RequireScope returns middleware for a route behind Middleware that
// requires every scope given (403 insufficient_scope otherwise). Use it to
// set per-route scopes under one Middleware; a request that reaches it
// without verified claims gets 401.
func (v *Verifier) RequireScope(scope ...string) func(http.Handler) http.Handler {
	need := mustScope(scope)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFromContext(r.Context())
			if !ok {
				v.challenge(w, http.StatusUnauthorized, "", "", "")
				return
			}
			if !c.HasScope(scope...) {
				v.challenge(w, http.StatusForbidden, "insufficient_scope", "the access token lacks a required scope", need)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// mustScope formats scope for a challenge, panicking on a token that is
// not a valid scope-token (it would corrupt the WWW-Authenticate header).
func mustScope(scope []string) string {
	for _, s := range scope {
		if !validScopeToken(s) {
			panic("oauth2: invalid scope token " + strconvQuote(s))
		}
	}
	return FormatScope(scope)
}

// errBearerSyntax and friends explain a 400 invalid_request.
var (
	errManyAuthorization = errors.New("more than one Authorization header")
	errBearerSyntax      = errors.New("malformed bearer token")
)

// bearerToken extracts the token from "Authorization: Bearer <token>". It
// returns "" and no error when the request carries no bearer credentials.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errManyAuthorization
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil // another scheme: no bearer token presented
	}
	token = strings.TrimLeft(token, " ")
	if !validToken68(token) {
		return "", errBearerSyntax
	}
	return token, nil
}

// validToken68 reports whether s matches b64token (RFC 6750 §2.1):
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// tokenErrorDescription is the error_description for a rejected token:
// the reason class, never internal details such as store errors.
func tokenErrorDescription(err error) string {
	for _, e := range []error{
		ErrTokenExpired, ErrTokenRevoked, ErrTokenNotYetValid, ErrInvalidSignature,
		ErrInvalidAudience, ErrInvalidIssuer, ErrUnknownKey, ErrAlgorithmMismatch,
		ErrTokenType, ErrMissingClaim, ErrTokenTooLarge, ErrTokenMalformed,
	} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "oauth2: ")
		}
	}
	return "the access token is invalid"
}

// challenge answers with a WWW-Authenticate: Bearer challenge (RFC 6750
// §3) and a small JSON body. code, desc and scope are omitted when empty;
// they come from this package, never from the request, so they need no
// escaping beyond what quoting gives.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc, scope string) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(v.cfg.Realm)
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="` + code + `"`)
	}
	if desc != "" {
		b.WriteString(`, error_description="` + desc + `"`)
	}
	if scope != "" {
		b.WriteString(`, scope="` + scope + `"`)
	}
	w.Header().Set("WWW-Authenticate", b.String())
	if code == "" {
		w.WriteHeader(status)
		return
	}
	writeJSONError(w, &Error{Code: ErrorCode(code), Description: desc, Status: status})
}
