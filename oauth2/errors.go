package oauth2

import (
	"net/http"
	"time"
)

// Error is an OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009 §2.2.1).
// The token, revocation and introspection handlers write it as JSON; Go
// callers of Issuer methods receive it and test it with errors.Is against the
// ErrorCode constants below, which it matches by Code.
type Error struct {
	// Code is the registered error code, e.g. ErrInvalidGrant.
	Code ErrorCode
	// Description is a human-readable explanation sent to the client. It
	// never carries internal details.
	Description string
	// Status is the HTTP status the handlers answer with.
	Status int
	// RetryAfter, for ErrSlowDown, is how long the client must wait before
	// trying again; the handlers send it as Retry-After, in whole seconds.
	RetryAfter time.Duration

	// err is the cause; it is for logs and errors.Is, never sent to clients.
	err error
}

// Error returns the code, the description and the cause, for logs.
func (e *Error) Error() string {
	msg := "oauth2: " + string(e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is e's ErrorCode, or an *Error with the same
// Code, so that errors.Is(err, oauth2.ErrInvalidGrant) holds for every
// invalid_grant error whatever its description.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case ErrorCode:
		return t == e.Code
	case *Error:
		return t != nil && t.Code == e.Code
	}
	return false
}

// ErrorCode is an OAuth 2.0 error code. The codes the endpoints answer with
// are the constants below; being constants, no importer can change what
// they match.
type ErrorCode string

// Error returns the code prefixed with the package name.
func (c ErrorCode) Error() string { return "oauth2: " + string(c) }

// OAuth 2.0 error codes (RFC 6749 §5.2, RFC 7009 §2.2.1), for errors.Is.
const (
	ErrInvalidRequest         ErrorCode = "invalid_request"
	ErrInvalidClient          ErrorCode = "invalid_client"
	ErrInvalidGrant           ErrorCode = "invalid_grant"
	ErrUnauthorizedClient     ErrorCode = "unauthorized_client"
	ErrUnsupportedGrantType   ErrorCode = "unsupported_grant_type"
	ErrInvalidScope           ErrorCode = "invalid_scope"
	ErrServerError            ErrorCode = "server_error"
	ErrTemporarilyUnavailable ErrorCode = "temporarily_unavailable"
	// ErrSlowDown (registered for the token endpoint by RFC 8628 §3.5)
	// answers an attempt made while failed ones must be waited out (see
	// ThrottleConfig), with status 429 and Error.RetryAfter.
	ErrSlowDown ErrorCode = "slow_down"
)

// status is the HTTP status the endpoints answer code with: 401 for a
// failed client authentication (RFC 6749 §5.2 allows it and RFC 9110 then
// wants a challenge), 500 and 503 for the server's own failures, 400 for
// the rest.
func (c ErrorCode) status() int {
	switch c {
	case ErrInvalidClient:
		return http.StatusUnauthorized
	case ErrServerError:
		return http.StatusInternalServerError
	case ErrTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	case ErrSlowDown:
		return http.StatusTooManyRequests
	default:
		return http.StatusBadRequest
	}
}

// newError returns an error with the code given, its status and the
// description, wrapping cause (which may be nil).
func newError(code ErrorCode, description string, cause error) *Error {
	return &Error{Code: code, Status: code.status(), Description: description, err: cause}
}

// storeError turns a failure of the store into the generic error a client
// sees: the cause stays inside the error for logs, never in the response.
func storeError(cause error) *Error {
	return newError(ErrTemporarilyUnavailable, "the authorization server is temporarily unable to handle the request", cause)
}

// Errors returned by Verifier.Verify. They are wrapped with details; test
// them with errors.Is. Every one of them except ErrRevocationUnavailable and
// ErrKeysUnavailable also matches ErrInvalidToken. The middleware returns
// none of them to the application: it answers the request itself, 503 for
// ErrRevocationUnavailable and ErrKeysUnavailable, and otherwise 401
// invalid_token with the reason's text as the error_description. They are
// constants, so that no importer can change them.
const (
	// ErrInvalidToken matches every reason a token is rejected.
	ErrInvalidToken tokenError = "oauth2: invalid access token"

	ErrTokenMalformed    tokenError = "oauth2: malformed access token"
	ErrTokenTooLarge     tokenError = "oauth2: access token too large"
	ErrTokenType         tokenError = "oauth2: access token typ is not at+jwt"
	ErrUnknownKey        tokenError = "oauth2: access token signed by an unknown key"
	ErrAlgorithmMismatch tokenError = "oauth2: access token alg does not match its key"
	ErrInvalidSignature  tokenError = "oauth2: access token signature is invalid"
	ErrMissingClaim      tokenError = "oauth2: access token lacks a required claim"
	ErrInvalidIssuer     tokenError = "oauth2: access token has the wrong issuer"
	ErrInvalidAudience   tokenError = "oauth2: access token has the wrong audience"
	ErrTokenExpired      tokenError = "oauth2: access token expired"
	ErrTokenNotYetValid  tokenError = "oauth2: access token not valid yet"
	ErrTokenRevoked      tokenError = "oauth2: access token revoked"

	// ErrRevocationUnavailable reports that the revocation status could not
	// be read: the token may be valid, so the middleware answers 503.
	ErrRevocationUnavailable constError = "oauth2: revocation status unavailable"
	// ErrKeysUnavailable reports that the verification keys could not be
	// loaded (JWKS unreachable, key store down): the token may be valid, so
	// the middleware answers 503, not 401.
	ErrKeysUnavailable constError = "oauth2: verification keys unavailable"
)

// tokenError is a reason to reject an access token; it matches
// ErrInvalidToken as well as itself.
type tokenError string

func (e tokenError) Error() string        { return string(e) }
func (e tokenError) Is(target error) bool { return target == ErrInvalidToken }

// constError is the type of the package's other sentinel errors: a string
// constant, so that it cannot be reassigned.
type constError string

func (e constError) Error() string { return string(e) }
