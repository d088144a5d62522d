package oauth2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// ErrKeysUnavailable): it fails closed. VerifierConfig.ErrorHandler can
// take over those answers.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.RequireToken()(next)
}

// RequireToken returns middleware that authenticates like Middleware and
// then requires every scope given, answering 403 insufficient_scope (RFC
// 6750 §3.1) with the scope needed when the token lacks one. Like
// regexp.MustCompile it panics on a malformed scope, a programming error
// found when routes are set up.
func (v *Verifier) RequireToken(scope ...string) func(http.Handler) http.Handler {
	need := mustScope(scope)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, err := BearerToken(r)
			if err != nil {
				v.refuse(w, r, &BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: err.Error(), Err: err})
				return
			}
			if raw == "" {
				v.refuse(w, r, &BearerError{Status: http.StatusUnauthorized})
				return
			}
			c, err := v.Verify(r.Context(), raw)
			switch {
			case errors.Is(err, ErrRevocationUnavailable), errors.Is(err, ErrKeysUnavailable):
				v.refuse(w, r, &BearerError{Status: http.StatusServiceUnavailable, Code: string(ErrTemporarilyUnavailable),
					Description: "the access token cannot be checked right now", Err: err})
				return
			case err != nil:
				v.refuse(w, r, &BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: tokenErrorDescription(err), Err: err})
				return
			}
			if !c.HasScope(scope...) {
				v.refuse(w, r, insufficientScope(need))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// RequireScope returns middleware that only checks scopes, for a route
// behind Middleware or RequireToken, which verified the token: it requires
// every scope given (403 insufficient_scope otherwise). Use it to set
// per-route scopes under one Middleware; a request that reaches it without
// verified claims gets 401.
func (v *Verifier) RequireScope(scope ...string) func(http.Handler) http.Handler {
	need := mustScope(scope)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFromContext(r.Context())
			if !ok {
				v.refuse(w, r, &BearerError{Status: http.StatusUnauthorized})
				return
			}
			if !c.HasScope(scope...) {
				v.refuse(w, r, insufficientScope(need))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func insufficientScope(need string) *BearerError {
	return &BearerError{Status: http.StatusForbidden, Code: "insufficient_scope",
		Description: "the access token lacks a required scope", Scope: need}
}

// BearerError is why the middleware refused a request, and what it answers
// by default (WriteError). An ErrorHandler receives it.
type BearerError struct {
	// Status is 400 (malformed credentials), 401 (none, or a token
	// rejected), 403 (a scope missing) or 503 (the token cannot be checked).
	Status int
	// Code is the RFC 6750 §3.1 error code (invalid_request, invalid_token,
	// insufficient_scope), temporarily_unavailable for a 503, and empty for
	// a request that carried no bearer token (RFC 6750 §3.1: no error code).
	Code string
	// Description is the error_description the default answer sends: the
	// reason's class, never internal details.
	Description string
	// Scope is the scope needed, for insufficient_scope.
	Scope string
	// Err is the cause: an error of Verify or BearerToken's, or nil.
	Err error
}

// Error returns the status, the code and the cause, for logs.
func (e *BearerError) Error() string {
	msg := fmt.Sprintf("oauth2: bearer authentication refused (%d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	msg += ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, so that errors.Is(e, ErrTokenExpired) works.
func (e *BearerError) Unwrap() error { return e.Err }

// refuse logs a refusal and answers it, through the application's
// ErrorHandler if it has one.
func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, e *BearerError) {
	l := v.cfg.Logger
	if l == nil {
		l = slog.Default()
	}
	if e.Status >= 500 {
		l.ErrorContext(r.Context(), "oauth2: access token cannot be checked", "path", r.URL.Path, "err", e.Err)
	} else {
		l.DebugContext(r.Context(), "oauth2: request refused", "path", r.URL.Path, "status", e.Status, "err", e)
	}
	if v.cfg.ErrorHandler != nil {
		v.cfg.ErrorHandler(w, r, e)
		return
	}
	v.WriteError(w, r, e)
}

// WriteError writes the middleware's default answer to e: RFC 6750's
// WWW-Authenticate: Bearer challenge with a small JSON body, or for a 503
// a temporarily_unavailable JSON error. An ErrorHandler may call it for the
// cases it leaves as they are.
//
// A nil e, or one whose Status is not a 4xx or 5xx, is answered as 500
// server_error: it is the ErrorHandler's mistake, not the client's.
func (v *Verifier) WriteError(w http.ResponseWriter, r *http.Request, e *BearerError) {
	if e == nil || e.Status < 400 || e.Status > 599 {
		writeJSONError(w, newError(ErrServerError, "internal error", nil))
		return
	}
	if e.Status >= 500 {
		writeJSONError(w, &Error{Code: ErrTemporarilyUnavailable, Description: e.Description, Status: e.Status})
		return
	}
	v.challenge(w, e.Status, e.Code, e.Description, e.Scope)
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

// BearerToken extracts the token from "Authorization: Bearer <token>" (RFC
// 6750 §2.1), for code that authenticates requests itself. It returns "" and
// no error when the request carries no bearer credentials, and an error for
// credentials that are not one well-formed bearer token (the middleware
// answers those with 400 invalid_request).
func BearerToken(r *http.Request) (string, error) {
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
// §3) and a small JSON body. code, desc and scope are omitted when empty.
// An ErrorHandler may pass values of its own through WriteError, so each is
// written as an RFC 9110 quoted-string.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc, scope string) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quoteEscape(v.cfg.Realm))
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="` + quoteEscape(code) + `"`)
	}
	if desc != "" {
		b.WriteString(`, error_description="` + quoteEscape(desc) + `"`)
	}
	if scope != "" {
		b.WriteString(`, scope="` + quoteEscape(scope) + `"`)
	}
	w.Header().Set("WWW-Authenticate", b.String())
	if code == "" {
		w.WriteHeader(status)
		return
	}
	writeJSONError(w, &Error{Code: ErrorCode(code), Description: desc, Status: status})
}

// quoteEscape escapes s for the inside of a quoted-string (RFC 9110
// §5.6.4), dropping control characters, which a header cannot carry.
func quoteEscape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
