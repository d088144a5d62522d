package oauth2

import (
	"errors"
	"net/http"
)

// Error is an OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009 §2.2.1).
// The token, revocation and introspection handlers write it as JSON; Go
// callers of Issuer methods receive it and test it with errors.Is against the
// Err... values below, which compare by Code.
type Error struct {
	// Code is the registered error code, e.g. "invalid_grant".
	Code string
	// Description is a human-readable explanation sent to the client. It
	// never carries internal details.
	Description string
	// Status is the HTTP status the handlers answer with.
	Status int

	// err is the cause; it is for logs and errors.Is, never sent to clients.
	err error
}

func (e *Error) Error() string {
	msg := "oauth2: " + e.Code
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

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, oauth2.ErrInvalidGrant) holds for every invalid_grant error
// whatever its description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// OAuth 2.0 error codes as Go errors, for errors.Is.
var (
	ErrInvalidRequest         = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	ErrInvalidClient          = &Error{Code: "invalid_client", Status: http.StatusUnauthorized}
	ErrInvalidGrant           = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	ErrUnauthorizedClient     = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	ErrUnsupportedGrantType   = &Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest}
	ErrInvalidScope           = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	ErrServerError            = &Error{Code: "server_error", Status: http.StatusInternalServerError}
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
)

// newError returns an error with the code, status and description given,
// wrapping cause (which may be nil).
func newError(kind *Error, description string, cause error) *Error {
	return &Error{Code: kind.Code, Status: kind.Status, Description: description, err: cause}
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
// invalid_token with the reason's text as the error_description.
var (
	// ErrInvalidToken matches every reason a token is rejected.
	ErrInvalidToken = errors.New("oauth2: invalid access token")

	ErrTokenMalformed        = &tokenError{"oauth2: malformed access token"}
	ErrTokenTooLarge         = &tokenError{"oauth2: access token too large"}
	ErrTokenType             = &tokenError{"oauth2: access token typ is not at+jwt"}
	ErrUnknownKey            = &tokenError{"oauth2: access token signed by an unknown key"}
	ErrAlgorithmMismatch     = &tokenError{"oauth2: access token alg does not match its key"}
	ErrInvalidSignature      = &tokenError{"oauth2: access token signature is invalid"}
	ErrMissingClaim          = &tokenError{"oauth2: access token lacks a required claim"}
	ErrInvalidIssuer         = &tokenError{"oauth2: access token has the wrong issuer"}
	ErrInvalidAudience       = &tokenError{"oauth2: access token has the wrong audience"}
	ErrTokenExpired          = &tokenError{"oauth2: access token expired"}
	ErrTokenNotYetValid      = &tokenError{"oauth2: access token not valid yet"}
	ErrTokenRevoked          = &tokenError{"oauth2: access token revoked"}
	ErrRevocationUnavailable = errors.New("oauth2: revocation status unavailable")
	// ErrKeysUnavailable reports that the verification keys could not be
	// loaded (JWKS unreachable, key store down): the token may be valid, so
	// the middleware answers 503, not 401.
	ErrKeysUnavailable = errors.New("oauth2: verification keys unavailable")
)

// tokenError is a reason to reject an access token; it matches
// ErrInvalidToken as well as itself.
type tokenError struct{ msg string }

func (e *tokenError) Error() string        { return e.msg }
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }
