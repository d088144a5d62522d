// Package oauth2 issues, verifies, refreshes and revokes OAuth 2.0 tokens
// for Go servers: the authorization server side and the resource server side
// of the flows a password login needs, built to the RFCs.
//
// An Issuer implements the resource owner password credentials grant
// (RFC 6749 §4.3), the refresh-token grant (§6) with rotation on every use
// and reuse detection that revokes the whole grant (RFC 9700 §4.14), token
// revocation (RFC 7009) and introspection (RFC 7662). Access tokens are JWTs
// per RFC 9068 (typ at+jwt), signed with EdDSA, ES256, RS256 or HS256 by a
// KeySet that rotates keys and keeps retired ones until their tokens expire.
// Refresh tokens are opaque, 256-bit random strings of which only a SHA-256
// digest, bound to the issuer's identifier, is stored. Issuer.Handler serves the token, revocation,
// introspection, JWKS and metadata (RFC 8414) endpoints.
//
// A Verifier checks access tokens, with keys from a KeySet or a remote JWKS
// (RemoteKeySet): the algorithm is fixed by the key, never by the token; typ,
// iss, aud, exp, nbf and iat are checked; and revocation of the token and of
// its grant is looked up in the store, or, by a resource server that cannot
// reach the store, asked of the authorization server's introspection
// endpoint (IntrospectionChecker). Verifier.Middleware and
// Verifier.RequireToken guard net/http handlers per RFC 6750, and
// ClaimsFromContext gives handlers the verified claims.
//
// Storage is pluggable: any store.Store that passes the conformance suite in
// package storetest works; adapters/memstore is one. Store is re-exported
// here so that getting started needs only this package and an adapter.
//
// Errors: Issuer methods return *Error values carrying an RFC 6749 error
// code, which errors.Is matches against ErrInvalidGrant and its siblings;
// Verify returns errors that errors.Is matches against ErrTokenExpired,
// ErrTokenRevoked, ErrInvalidSignature and the rest, all of which also match
// ErrInvalidToken, or ErrRevocationUnavailable and ErrKeysUnavailable, which
// do not: the token may be valid.
package oauth2
