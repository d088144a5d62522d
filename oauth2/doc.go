// Package oauth2 issues, verifies, refreshes and revokes OAuth 2.0 tokens
// for Go servers: the authorization server side and the resource server side
// of the flows a password login needs, built to the RFCs.
//
// An Issuer implements the resource owner password credentials grant
// (RFC 6749 §4.3), the refresh-token grant (§6) with rotation on every use
// and reuse detection that revokes the whole grant (RFC 9700 §4.14), token
// revocation (RFC 7009) and introspection (RFC 7662). Access tokens are JWTs
// per RFC 9068 (typ at+jwt), signed with EdDSA, ES256, RS256 or HS256 by a
// Signer: a KeySet that rotates keys and keeps retired ones until their
// tokens expire, a SharedKeySet that every instance shares through the
// store, or one of your own. A Key wraps a private key in memory or any
// crypto.Signer, such as a KMS or HSM key that never leaves its device.
// Refresh tokens are opaque strings, the grant's id and a 256-bit secret, of
// which only a SHA-256 digest, bound to the issuer's identifier, is stored. Issuer.Handler serves the token, revocation,
// introspection, JWKS and metadata (RFC 8414) endpoints.
//
// A Verifier checks access tokens, with keys from a KeyResolver (a KeySet,
// a SharedKeySet, or a remote JWKS through RemoteKeySet): the algorithm is fixed by the key, never by the token; typ,
// iss, aud, exp, nbf and iat are checked; and revocation of the token and of
// its grant is looked up in the store, or, by a resource server that cannot
// reach the store, asked of the authorization server's introspection
// endpoint (IntrospectionChecker). Verifier.Middleware and
// Verifier.RequireToken guard net/http handlers per RFC 6750, and
// ClaimsFromContext gives handlers the verified claims.
//
// The password grant checks users through IssuerConfig.Users. For a user
// table of your own, give NewPasswordAuthenticator a UserLookupFunc that
// reads it: the authenticator checks passwords against HashPassword (or
// bcrypt) hashes behind a bound on concurrent checks, and checks a dummy
// hash for unknown usernames, so that neither the answer nor its timing
// tells which exist. NewStaticUsers does the same over a fixed list.
// Implementing UserAuthenticator directly gives up both protections; it is
// for credentials the SDK cannot check itself.
//
// Storage is pluggable: any store.Store that passes the conformance suite in
// package storetest works; adapters/memstore is one. Store is re-exported
// here so that getting started needs only this package and an adapter.
//
// # Configuration
//
// Every setting of IssuerConfig, VerifierConfig, RevocationViewConfig,
// SharedKeysConfig, IntrospectionCheckerConfig, ThrottleConfig and
// RemoteKeySetOptions, and the interval of Sweep, follows one rule:
//
//   - The zero value means the default, which the field's doc names (a
//     Default... constant for a number).
//   - A negative number turns the limit or the feature off (no cache, no
//     limit, never) where the field's doc says that it may be off, and is
//     refused by the constructor everywhere else.
//   - A nil Now means time.Now, and a nil Logger means slog.Default() at the
//     time of logging; give a logger over slog.DiscardHandler for silence.
//   - A nil MeterProvider or TracerProvider means otel's global one.
//
// An Issuer and a Verifier in the same process share their settings
// through Issuer.VerifierConfig, so that the issuer identifier, the keys,
// the store, the leeway, the store timeout, the clock, the logger and the
// OpenTelemetry providers are written once.
//
// # Security events
//
// The Issuer logs the events an operator alerts on to IssuerConfig.Logger,
// each a record whose message is the event's name. Attributes: client_id
// (the client named, unchecked for a failure), user (the username typed),
// addr (the client address throttling counts by; empty for a direct call),
// sub, grant_id, jti, token_type (access_token, refresh_token or session),
// retry_after (seconds), kid and alg. No event carries a password, a
// secret or a token.
//
//   - oauth2.login_failed (Info): a password check failed; client_id,
//     user, addr.
//   - oauth2.client_auth_failed (Info): a client secret check failed;
//     client_id, addr.
//   - oauth2.throttled (Warn): an attempt refused with slow_down;
//     client_id, user (password attempts only), addr, retry_after.
//   - oauth2.refresh_token_reused (Warn): a rotated refresh token was
//     presented again and its grant revoked; grant_id, client_id, sub.
//   - oauth2.revoked (Info): a token revoked through RFC 7009, or one
//     session through Issuer.RevokeSession (token_type session); token_type,
//     grant_id or jti, client_id, sub.
//   - oauth2.signed_out_everywhere (Info): Issuer.RevokeAllSessions; sub,
//     sessions (how many were ended).
//   - oauth2.key_rotated (Info, to SharedKeysConfig.Logger): the instance
//     that rotated a shared key set; kid, alg.
//
// Server-side failures, the store's included, are logged at Error level
// with the message "oauth2: request failed" and the attributes path and
// err.
//
// Errors: Issuer methods return *Error values carrying an RFC 6749 error
// code, which errors.Is matches against ErrInvalidGrant and its siblings;
// Verify returns errors that errors.Is matches against ErrTokenExpired,
// ErrTokenRevoked, ErrInvalidSignature and the rest, all of which also match
// ErrInvalidToken, or ErrRevocationUnavailable and ErrKeysUnavailable, which
// do not: the token may be valid.
//
// # Metrics and traces
//
// The Issuer and the Verifier record OpenTelemetry metrics and spans
// through the otel API alone, with the providers of IssuerConfig and
// VerifierConfig or otel's global ones: the library depends on no SDK, and
// nothing is recorded until the application installs one (examples/server
// serves its metrics to Prometheus at /metrics). The metrics and their
// attributes:
//
//   - oauth2kit_security_events_total (counter, {event}): the security
//     events above, counted by the call that logs them, whatever level the
//     logger lets through; event is the event's name, such as
//     oauth2.refresh_token_reused. A SharedKeySet counts its
//     oauth2.key_rotated through SharedKeysConfig.MeterProvider.
//   - oauth2kit_token_requests_total (counter, {request}): requests to the
//     token endpoint; grant_type is password, refresh_token, or other for
//     any other or none, and outcome is ok or the OAuth error code
//     answered (invalid_grant, slow_down, ...).
//   - oauth2kit_token_request_duration_seconds (histogram, s): the time the
//     token endpoint took to answer; grant_type and outcome as above.
//   - oauth2kit_verifications_total (counter, {verification}): Verify
//     calls, the middleware's and the Issuer's own (introspection)
//     included; outcome is ok, invalid_token, revoked (ErrTokenRevoked) or
//     unavailable (ErrRevocationUnavailable, ErrKeysUnavailable). A token
//     that RevocationFailOpen accepts while the store is down counts as ok.
//
// The spans, of the instrumentation scope
// github.com/oauth2kit/oauth2kit/oauth2: oauth2kit.token,
// oauth2kit.revocation and oauth2kit.introspection for the requests to the
// endpoints, and inside them oauth2kit.PasswordGrant,
// oauth2kit.RefreshGrant, oauth2kit.Revoke and oauth2kit.Introspect for the
// calls of those methods, which applications may also make directly.
// Attributes: grant_type, client_id (on oauth2kit.token as the request
// names it, unchecked) and, for a failure, error.type, the OAuth error
// code; a failure of the server (500, 503) also sets the span's status to
// Error. Verify records an oauth2kit.Verify span, with outcome and
// client_id, only inside a span that records, such as a traced request's,
// so that an untraced request pays one context lookup for it. Like the
// events, no metric or span carries a password, a secret or a token.
package oauth2
