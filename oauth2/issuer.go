package oauth2

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	josejson "github.com/go-jose/go-jose/v4/json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauth2kit/oauth2kit/store"
)

// Defaults for IssuerConfig.
const (
	DefaultAccessTokenTTL   = 15 * time.Minute
	DefaultRefreshTokenTTL  = 14 * 24 * time.Hour
	DefaultGrantMaxLifetime = 90 * 24 * time.Hour
	DefaultStoreTimeout     = 5 * time.Second
)

// revocationMargin is how long a revocation outlives the latest moment any
// verifier could still accept what it revokes, to cover clock differences
// between the issuer and the store.
const revocationMargin = 5 * time.Minute

// lastAccepted is the latest moment a verifier could accept a token expiring
// at exp. Verifiers differ in leeway, and the issuer does not know theirs, so
// revocations are kept past the largest leeway any of them may have: one
// verifier more lenient than the issuer must not accept a revoked token
// again.
func lastAccepted(exp time.Time) time.Time { return exp.Add(MaxLeeway) }

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Issuer is the issuer identifier (RFC 8414 §2): an https URL (http
	// for local development) with a host and without user info, query or
	// fragment, whose path, if any, has no empty, "." or ".." segment;
	// NewIssuer refuses any other. It is the iss claim. Its path decides
	// where Handler serves the endpoints.
	Issuer string
	// Audience is the aud claim of access tokens: the resource servers'
	// identifiers. Empty means the Issuer itself.
	Audience []string
	// Keys signs access tokens: a *KeySet, a *SharedKeySet, or a Signer of
	// your own. Its keys also verify the tokens the Issuer introspects and
	// revokes.
	Keys Signer
	// Store keeps refresh tokens and revocations.
	Store Store
	// Clients authenticates and authorizes clients.
	Clients ClientRegistry
	// Users checks resource owners' passwords. Required for the password
	// grant; without it the grant is unsupported.
	Users UserAuthenticator
	// ScopesSupported is published in the server metadata; when set, a
	// request for any other scope is invalid_scope. It also caps the number
	// of distinct scope tokens the token endpoint accepts in one request,
	// which is 256 when ScopesSupported is not set.
	ScopesSupported []string

	// AccessTokenTTL is the lifetime of access tokens; 0 means
	// DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of each refresh token from its
	// issuance; 0 means DefaultRefreshTokenTTL. Since every use rotates the
	// token, it is also how long a grant survives without use.
	RefreshTokenTTL time.Duration
	// RefreshIdleTTL, when shorter than RefreshTokenTTL, ends a grant that
	// has not been used for that long; it lets the first refresh token of a
	// grant live longer than later ones would sit idle. 0 means the
	// default, none: RefreshTokenTTL alone decides.
	RefreshIdleTTL time.Duration
	// RefreshGrace is how long after a rotation the client that rotated a
	// refresh token may present it again and get a new access token and
	// the same successor the rotation returned, as two browser tabs or a
	// retry after a lost response do; no second chain of tokens is started.
	// Once the successor has been used, or the window has passed,
	// presenting the old token is reuse: invalid_grant, and the grant is
	// revoked. 0 means the default, none: strict rotation, where any second
	// use is reuse. The successor is never stored: see
	// store.RefreshToken.SuccessorKey. Grants started before their store
	// kept that key keep strict rotation until they end. An Issuer from
	// before refresh tokens named their grant cannot find the successors
	// this one derives: do not run the two side by side with a grace
	// window (see the README's upgrade notes).
	RefreshGrace time.Duration
	// GrantMaxLifetime is the absolute lifetime of a grant: no refresh token
	// of it outlives GrantMaxLifetime after the password grant that started
	// it. 0 means DefaultGrantMaxLifetime.
	GrantMaxLifetime time.Duration
	// StoreTimeout bounds every store call; 0 means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// ClientAuthCacheTTL is how long a confidential client's verified
	// secret is remembered (as a keyed MAC, in memory), so that frequent
	// refreshes do not each pay a slow password hash. 0 means
	// DefaultClientAuthCacheTTL; a negative value turns the cache off.
	ClientAuthCacheTTL time.Duration
	// Leeway is the clock skew tolerated when the Issuer itself checks an
	// access token (introspection, revocation), at most MaxLeeway; 0 means
	// the default, none. Give it the resource servers' leeway so that both
	// agree on whether a token is live.
	Leeway time.Duration
	// ExtraClaims, when set, is called for every access token the Issuer
	// signs (password and refresh grants alike) and returns the claims to
	// add to it, such as roles or a tenant; nil adds none. Values are
	// encoded with encoding/json; resource servers read them with
	// Claims.Claim.
	//
	// The request fails with server_error when ExtraClaims returns an
	// error, a reserved name (iss, sub, aud, exp, iat, nbf, jti, client_id,
	// scope, grant_id, in any letter case) or a value that cannot be
	// encoded, or when the signed token would exceed DefaultMaxTokenSize:
	// the SDK never drops a claim nor replaces one of its own. An error
	// matching ErrTemporarilyUnavailable (a backend that is down) fails it
	// with temporarily_unavailable instead, and an *Error with a 4xx Status
	// (say invalid_grant, "account disabled") is the answer the client gets
	// as it is. A refresh grant that fails so leaves its refresh token
	// unconsumed.
	ExtraClaims func(ctx context.Context, t AccessTokenInfo) (map[string]any, error)
	// Throttle slows down brute-force attacks on passwords and client
	// secrets; its zero value is the defaults, which need a Store that
	// implements store.AttemptStore.
	Throttle ThrottleConfig
	// Logger receives the causes of server-side failures, which clients
	// only see as a generic error; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider makes the Issuer's metrics (see Metrics and traces in
	// the package doc); nil means otel's global provider, which records
	// nothing until the application installs an SDK, before or after
	// NewIssuer.
	MeterProvider metric.MeterProvider
	// TracerProvider makes the Issuer's spans; nil means otel's global
	// provider, as for MeterProvider.
	TracerProvider trace.TracerProvider
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// AccessTokenInfo describes the access token being issued, for
// IssuerConfig.ExtraClaims.
type AccessTokenInfo struct {
	// GrantType is the grant issuing the token: GrantPassword or
	// GrantRefreshToken.
	GrantType string
	// ClientID is the client the token is issued to.
	ClientID string
	// Subject is the resource owner (User.Subject).
	Subject string
	// Scope is the scope the token grants; the slice is the hook's own.
	Scope []string
	// GrantID identifies the grant (the refresh-token family) the token is
	// issued under; it is the same for every token of one login.
	GrantID string
}

// Issuer issues, refreshes, revokes and introspects tokens. It is safe for
// concurrent use.
type Issuer struct {
	cfg      IssuerConfig
	verifier *Verifier // for the Issuer's own access tokens

	clientAuth  *clientAuthCache // nil when disabled
	throttle    *throttle        // nil when off
	tel         *issuerTelemetry
	earlyChecks chan struct{} // a slot per early revocation check running

	// dummySecret is checked for unknown clients, so that timing does not
	// tell which client ids exist. It takes the cost of the first real
	// client secret hash seen.
	dummySecret atomic.Pointer[string]
}

// NewIssuer validates cfg, fills in defaults and returns an Issuer.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oauth2: IssuerConfig.Issuer is required")
	case !validIssuer(cfg.Issuer):
		return nil, fmt.Errorf("oauth2: IssuerConfig.Issuer %q must be an http(s) URL with a host, no query, fragment or user info, and no empty, . or .. path segment", cfg.Issuer)
	case cfg.Keys == nil:
		return nil, errors.New("oauth2: IssuerConfig.Keys is required")
	case cfg.Store == nil:
		return nil, errors.New("oauth2: IssuerConfig.Store is required")
	case cfg.Clients == nil:
		return nil, errors.New("oauth2: IssuerConfig.Clients is required")
	case cfg.AccessTokenTTL < 0, cfg.RefreshTokenTTL < 0, cfg.RefreshIdleTTL < 0, cfg.GrantMaxLifetime < 0, cfg.StoreTimeout < 0, cfg.Leeway < 0, cfg.RefreshGrace < 0:
		return nil, errors.New("oauth2: IssuerConfig durations must not be negative")
	case cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("oauth2: IssuerConfig.Leeway %s is above MaxLeeway (%s)", cfg.Leeway, MaxLeeway)
	}
	if len(cfg.Audience) == 0 {
		cfg.Audience = []string{cfg.Issuer}
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if cfg.GrantMaxLifetime == 0 {
		cfg.GrantMaxLifetime = DefaultGrantMaxLifetime
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if k, err := cfg.Keys.SigningKey(context.Background()); err != nil {
		return nil, fmt.Errorf("oauth2: IssuerConfig.Keys: %w", err)
	} else if k == nil || k.signer == nil {
		return nil, errors.New("oauth2: IssuerConfig.Keys: the signing key cannot sign (a key from a JWKS only verifies)")
	}
	if sk, ok := cfg.Keys.(*SharedKeySet); ok && sk.cfg.RetainFor < cfg.AccessTokenTTL+cfg.Leeway+sk.cfg.ReloadInterval {
		// Other instances drop a retired key RetainFor after its retirement.
		// An instance that has not reloaded yet signs with it for up to
		// ReloadInterval more, and those tokens live AccessTokenTTL plus the
		// verifiers' Leeway: the key must outlive all of that.
		return nil, fmt.Errorf("oauth2: SharedKeysConfig.RetainFor (%s) is shorter than AccessTokenTTL plus Leeway plus ReloadInterval (%s)",
			sk.cfg.RetainFor, cfg.AccessTokenTTL+cfg.Leeway+sk.cfg.ReloadInterval)
	}
	th, err := newThrottle(cfg.Throttle, cfg.Store, cfg.Issuer, cfg.Now, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	tel, err := newIssuerTelemetry(cfg.MeterProvider, cfg.TracerProvider)
	if err != nil {
		return nil, fmt.Errorf("oauth2: IssuerConfig.MeterProvider: %w", err)
	}
	iss := &Issuer{cfg: cfg, throttle: th, tel: tel}
	iss.earlyChecks = make(chan struct{}, maxEarlyChecks)
	v, err := NewVerifier(iss.VerifierConfig())
	if err != nil {
		return nil, err
	}
	iss.verifier = v
	switch {
	case cfg.ClientAuthCacheTTL == 0:
		iss.clientAuth = newClientAuthCache(DefaultClientAuthCacheTTL)
	case cfg.ClientAuthCacheTTL > 0:
		iss.clientAuth = newClientAuthCache(cfg.ClientAuthCacheTTL)
	}
	return iss, nil
}

// VerifierConfig returns the configuration of a Verifier for the Issuer's
// own tokens, in the same process: its Issuer, its first Audience, its keys,
// its Store for revocations, and its Leeway, StoreTimeout, Now, Logger,
// MeterProvider and TracerProvider.
// Set what is the resource server's own (Audience if it is another of the
// Issuer's audiences, Realm, ErrorHandler, CacheSize) before NewVerifier.
func (i *Issuer) VerifierConfig() VerifierConfig {
	return VerifierConfig{
		Issuer:       i.cfg.Issuer,
		Audience:     i.cfg.Audience[0],
		Keys:         resolverOf(i.cfg.Keys),
		Revocations:  i.cfg.Store,
		Leeway:       i.cfg.Leeway,
		StoreTimeout: i.cfg.StoreTimeout,
		Now:          i.cfg.Now,
		Logger:       i.cfg.Logger,

		MeterProvider:  i.cfg.MeterProvider,
		TracerProvider: i.cfg.TracerProvider,
	}
}

// logger returns IssuerConfig.Logger, or slog.Default() when it is nil.
func (i *Issuer) logger() *slog.Logger {
	if i.cfg.Logger != nil {
		return i.cfg.Logger
	}
	return slog.Default()
}

// validIssuer reports whether s is an issuer identifier RFC 8414 §2 allows
// (https, or http for local development), with nothing in its path that
// would make a bad route pattern or a route no request reaches.
func validIssuer(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && !strings.ContainsAny(u.Path, "{} ") &&
		cleanPath(u.Path)
}

// cleanPath reports whether p, a URL's decoded path, has no empty, "." or
// ".." segment, apart from one trailing slash. ServeMux redirects a request
// for any other path to its cleaned form, so Handler's endpoints under such
// an issuer path would never be reached.
func cleanPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return true
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`            // the signed JWT (RFC 9068)
	TokenType    string `json:"token_type"`              // always "Bearer"
	ExpiresIn    int64  `json:"expires_in"`              // lifetime of the access token in seconds
	RefreshToken string `json:"refresh_token,omitempty"` // the new refresh token; omitted when the client may not refresh
	Scope        string `json:"scope,omitempty"`         // the scope granted, space-separated
}

// AuthenticateClient checks a client's credentials. A public client
// authenticates with its id alone and an empty secret; a confidential one
// needs its secret. Failures are invalid_client.
func (i *Issuer) AuthenticateClient(ctx context.Context, clientID, secret string) (*Client, error) {
	if secret == "" || i.throttle == nil {
		return i.authenticateClient(ctx, clientID, secret)
	}
	cs := i.throttle.clientCounters(clientID, clientAddrFrom(ctx))
	recs, err := i.throttle.check(ctx, cs)
	if err == nil {
		// A secret verified recently costs no hash, so it is no guess to
		// count: the refresh grant's common case stays one store read.
		if c := i.rememberedClient(ctx, clientID, secret); c != nil {
			return c, nil
		}
	}
	var at *attempt
	if err == nil {
		at, err = i.throttle.reserve(ctx, cs, recs)
	}
	if err != nil {
		i.throttledEvent(ctx, err, slog.String("client_id", clientID), addrAttr(ctx))
		return nil, err
	}
	c, err := i.authenticateClient(ctx, clientID, secret)
	switch {
	case errors.Is(err, ErrInvalidClient):
		i.event(ctx, slog.LevelInfo, eventClientAuthFailed, slog.String("client_id", clientID), addrAttr(ctx))
		if ferr := i.throttle.failed(ctx, at); ferr != nil {
			return nil, ferr
		}
	case err == nil:
		i.throttle.succeeded(ctx, at)
	}
	return c, err
}

// rememberedClient returns the confidential client clientID if secret is
// the secret it was verified with recently (ClientAuthCacheTTL), and nil
// otherwise.
func (i *Issuer) rememberedClient(ctx context.Context, clientID, secret string) *Client {
	if i.clientAuth == nil {
		return nil
	}
	c, err := i.cfg.Clients.LookupClient(ctx, clientID)
	if err != nil || c.Public() || !i.clientAuth.verified(c, secret, i.cfg.Now()) {
		return nil
	}
	return c
}

// authenticateClient is AuthenticateClient without throttling.
func (i *Issuer) authenticateClient(ctx context.Context, clientID, secret string) (*Client, error) {
	c, err := i.cfg.Clients.LookupClient(ctx, clientID)
	if errors.Is(err, ErrClientNotFound) {
		if secret != "" {
			if err := checkPasswordContext(ctx, i.dummySecretHash(""), secret); errors.Is(err, ErrOverloaded) {
				return nil, newError(ErrTemporarilyUnavailable, "the authorization server is busy; retry later", err)
			}
		}
		return nil, newError(ErrInvalidClient, "client authentication failed", err)
	}
	if err != nil {
		return nil, newError(ErrServerError, "", fmt.Errorf("looking up client: %w", err))
	}
	if c.Public() {
		if secret != "" {
			return nil, newError(ErrInvalidClient, "client authentication failed", errors.New("secret sent for a public client"))
		}
		return c, nil
	}
	if secret == "" {
		return nil, newError(ErrInvalidClient, "client authentication failed", errors.New("no secret for a confidential client"))
	}
	now := i.cfg.Now()
	if i.clientAuth != nil && i.clientAuth.verified(c, secret, now) {
		return c, nil
	}
	hash, unusable := c.SecretHash, usableHash(c.SecretHash)
	if unusable != nil {
		// The operator's mistake: answered as a wrong secret is, after a
		// check of the same cost, so that it does not tell the client
		// exists; the cause goes to the log.
		i.logger().ErrorContext(ctx, "oauth2: client authentication: unusable stored secret hash", "client_id", c.ID, "err", unusable)
		hash = i.dummySecretHash("")
	} else {
		i.dummySecretHash(hash)
	}
	err = checkPasswordContext(ctx, hash, secret)
	switch {
	case errors.Is(err, ErrOverloaded):
		return nil, newError(ErrTemporarilyUnavailable, "the authorization server is busy; retry later", err)
	case unusable != nil:
		return nil, newError(ErrInvalidClient, "client authentication failed", unusable)
	case err != nil:
		return nil, newError(ErrInvalidClient, "client authentication failed", err)
	}
	if i.clientAuth != nil {
		i.clientAuth.remember(c, secret, now)
	}
	return c, nil
}

// dummySecretHash returns the dummy hash for unknown clients, creating it
// on first use with the cost of like (or the default cost if like is empty
// or unreadable).
func (i *Issuer) dummySecretHash(like string) string {
	if d := i.dummySecret.Load(); d != nil {
		return *d
	}
	d, err := dummyHashLike(like)
	if err != nil {
		if d, err = dummyHashLike(defaultDummyTemplate); err != nil {
			return defaultDummyTemplate
		}
	}
	i.dummySecret.CompareAndSwap(nil, &d)
	return *i.dummySecret.Load()
}

// PasswordGrant performs the resource owner password credentials grant
// (RFC 6749 §4.3) for an authenticated client. scope may be nil, for the
// client's default scopes.
func (i *Issuer) PasswordGrant(ctx context.Context, c *Client, username, password string, scope []string) (_ *TokenResponse, err error) {
	ctx, span := i.tel.startCall(ctx, spanPasswordGrant, c, attribute.String(attrGrantType, GrantPassword))
	defer func() { endCall(span, err) }()
	if i.cfg.Users == nil {
		return nil, newError(ErrUnsupportedGrantType, "the password grant is not enabled", nil)
	}
	if !c.AllowsGrant(GrantPassword) {
		return nil, newError(ErrUnauthorizedClient, "the client may not use the password grant", nil)
	}
	if username == "" || password == "" {
		return nil, newError(ErrInvalidRequest, "username and password are required", nil)
	}
	if err := i.checkScopeSupported(scope); err != nil {
		return nil, err
	}
	var at *attempt
	if i.throttle != nil {
		if at, err = i.throttle.begin(ctx, i.throttle.passwordCounters(username, clientAddrFrom(ctx))); err != nil {
			i.throttledEvent(ctx, err, slog.String("client_id", c.ID), slog.String("user", username), addrAttr(ctx))
			return nil, err
		}
	}
	u, err := i.cfg.Users.Authenticate(ctx, username, password)
	if isBadHash(err) || errors.Is(err, ErrInvalidCredentials) {
		i.event(ctx, slog.LevelInfo, eventLoginFailed, slog.String("client_id", c.ID), slog.String("user", username), addrAttr(ctx))
	}
	if i.throttle != nil {
		switch {
		case isBadHash(err), errors.Is(err, ErrInvalidCredentials):
			if ferr := i.throttle.failed(ctx, at); ferr != nil {
				return nil, ferr
			}
		case err == nil:
			i.throttle.succeeded(ctx, at)
		}
	}
	switch {
	case isBadHash(err):
		// The operator's mistake, not the client's: answered as a wrong
		// password is, so that it does not tell the user exists.
		i.logger().ErrorContext(ctx, "oauth2: password grant: unusable stored password hash", "user", username, "err", err)
		return nil, newError(ErrInvalidGrant, "invalid username or password", err)
	case errors.Is(err, ErrInvalidCredentials):
		return nil, newError(ErrInvalidGrant, "invalid username or password", err)
	case errors.Is(err, ErrOverloaded):
		return nil, newError(ErrTemporarilyUnavailable, "the authorization server is busy; retry later", err)
	case err != nil:
		return nil, newError(ErrServerError, "", err)
	case u == nil || u.Subject == "":
		return nil, newError(ErrServerError, "", errors.New("UserAuthenticator returned no user or an empty Subject"))
	}
	granted, err := grantScope(c, u, scope)
	if err != nil {
		return nil, err
	}

	now := i.cfg.Now()
	grantID, err := randomID()
	if err != nil {
		return nil, newError(ErrServerError, "", err)
	}
	// Sign first: a signing or ExtraClaims failure then leaves no refresh
	// token stored that nobody holds.
	resp := &TokenResponse{}
	if err := i.issueAccessToken(ctx, resp, now, AccessTokenInfo{
		GrantType: GrantPassword, ClientID: c.ID, Subject: u.Subject, Scope: granted, GrantID: grantID,
	}); err != nil {
		return nil, err
	}
	// The session before the refresh token: a grant nobody can sign out of
	// must not exist, and a session whose refresh token failed to store is
	// only a listing that expires.
	lastToken := now // the latest an access token of the grant can be issued
	if c.AllowsGrant(GrantRefreshToken) {
		lastToken = now.Add(i.cfg.GrantMaxLifetime)
	}
	sessionEnd := i.grantEnd(lastToken)
	if err := i.createSession(ctx, store.Session{
		GrantID: grantID, Subject: u.Subject, ClientID: c.ID, Scope: granted,
		CreatedAt: now, RefreshedAt: now, ExpiresAt: sessionEnd,
	}); err != nil {
		return nil, err
	}
	if c.AllowsGrant(GrantRefreshToken) {
		raw, hash, err := i.newRefreshToken(grantID)
		if err != nil {
			return nil, newError(ErrServerError, "", err)
		}
		key, err := randomBytes(successorKeyBytes)
		if err != nil {
			return nil, newError(ErrServerError, "", err)
		}
		grantEnd := now.Add(i.cfg.GrantMaxLifetime)
		rt := store.RefreshToken{
			Hash:           hash,
			GrantID:        grantID,
			ClientID:       c.ID,
			Subject:        u.Subject,
			Scope:          granted,
			IssuedAt:       now,
			ExpiresAt:      i.refreshExpiry(now, grantEnd),
			GrantExpiresAt: grantEnd,
			SuccessorKey:   key,
		}
		sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
		err = i.cfg.Store.CreateRefreshToken(sctx, rt)
		cancel()
		if err != nil {
			return nil, storeError(err)
		}
		resp.RefreshToken = raw
	}
	return resp, nil
}

// grantScope decides the scope of a new grant: the requested scope if the
// client and the user may have all of it (invalid_scope otherwise), or the
// client's defaults that the user may have.
func grantScope(c *Client, u *User, requested []string) ([]string, error) {
	if len(requested) == 0 {
		if u.Scopes == nil {
			return c.DefaultScopes, nil
		}
		return intersect(c.DefaultScopes, u.Scopes), nil
	}
	if !subset(requested, c.Scopes) {
		return nil, newError(ErrInvalidScope, "the client may not request this scope", nil)
	}
	if u.Scopes != nil && !subset(requested, u.Scopes) {
		return nil, newError(ErrInvalidScope, "the user may not be granted this scope", nil)
	}
	return requested, nil
}

func (i *Issuer) checkScopeSupported(scope []string) error {
	if len(i.cfg.ScopesSupported) > 0 && !subset(scope, i.cfg.ScopesSupported) {
		return newError(ErrInvalidScope, "unknown scope", nil)
	}
	return nil
}

// refreshExpiry is when a refresh token issued at now expires: the soonest
// of its own lifetime, the idle lifetime and the end of its grant.
func (i *Issuer) refreshExpiry(now, grantEnd time.Time) time.Time {
	exp := now.Add(i.cfg.RefreshTokenTTL)
	if i.cfg.RefreshIdleTTL > 0 {
		if idle := now.Add(i.cfg.RefreshIdleTTL); idle.Before(exp) {
			exp = idle
		}
	}
	if grantEnd.Before(exp) {
		exp = grantEnd
	}
	return exp
}

// RefreshGrant redeems a refresh token (RFC 6749 §6) for an authenticated
// client. The token is rotated: it is consumed and a successor issued in one
// atomic store step. Presenting a consumed token revokes its whole grant
// (RFC 9700 §4.14.2). scope may narrow the new access token; the new refresh
// token keeps the grant's scope.
func (i *Issuer) RefreshGrant(ctx context.Context, c *Client, refreshToken string, scope []string) (_ *TokenResponse, err error) {
	ctx, span := i.tel.startCall(ctx, spanRefreshGrant, c, attribute.String(attrGrantType, GrantRefreshToken))
	defer func() { endCall(span, err) }()
	if !c.AllowsGrant(GrantRefreshToken) {
		return nil, newError(ErrUnauthorizedClient, "the client may not use the refresh_token grant", nil)
	}
	if refreshToken == "" {
		return nil, newError(ErrInvalidRequest, "refresh_token is required", nil)
	}
	invalid := func(cause error) error {
		return newError(ErrInvalidGrant, "the refresh token is invalid, expired or revoked", cause)
	}
	hash := i.hashToken(refreshToken)
	// A token that names its grant has the grant's revocation looked up
	// while it is read: the refresh then waits on the store twice, for
	// these two and for the rotation.
	early := i.checkGrantEarly(ctx, refreshToken)
	old, err := i.getRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid(err)
	}
	if err != nil {
		return nil, storeError(err)
	}
	// A token bound to another client is rejected without touching it: a
	// client that found it cannot burn or revoke the owner's grant.
	if old.ClientID != c.ID {
		return nil, invalid(errors.New("refresh token issued to another client"))
	}
	now := i.cfg.Now()
	if old.Consumed() {
		if resp, ok, err := i.graceRefresh(ctx, c, refreshToken, old, scope, now); ok || err != nil {
			return resp, err
		}
		return nil, i.reuseDetected(ctx, old)
	}
	if !now.Before(old.ExpiresAt) || !now.Before(old.GrantExpiresAt) {
		return nil, invalid(errors.New("refresh token expired"))
	}
	revoked, err := i.grantRevoked(ctx, early, old.GrantID)
	if err != nil {
		return nil, storeError(err)
	}
	if revoked {
		return nil, invalid(errors.New("grant revoked"))
	}
	accessScope, err := i.refreshScope(old, scope)
	if err != nil {
		return nil, err
	}

	raw, nextHash, err := i.successorToken(refreshToken, old)
	if err != nil {
		return nil, newError(ErrServerError, "", err)
	}
	// Sign before rotating: a failure to sign (or of ExtraClaims) after the
	// rotation would leave the client holding a consumed token, and its
	// retry would look like reuse and revoke the grant.
	resp := &TokenResponse{RefreshToken: raw}
	if err := i.issueAccessToken(ctx, resp, now, AccessTokenInfo{
		GrantType: GrantRefreshToken, ClientID: c.ID, Subject: old.Subject, Scope: accessScope, GrantID: old.GrantID,
	}); err != nil {
		return nil, err
	}
	next := old
	next.Hash = nextHash
	next.IssuedAt = now
	next.ExpiresAt = i.refreshExpiry(now, old.GrantExpiresAt)
	next.ConsumedAt = time.Time{}
	err = i.rotate(ctx, hash, next, now)
	switch {
	case errors.Is(err, store.ErrReused):
		// Another request consumed it first: the token was used twice,
		// unless that was this client's own rotation, just now.
		if again, err := i.getRefreshToken(ctx, hash); err == nil && again.Consumed() {
			if resp, ok, err := i.graceRefresh(ctx, c, refreshToken, again, scope, now); ok || err != nil {
				return resp, err
			}
		}
		return nil, i.reuseDetected(ctx, old)
	case errors.Is(err, store.ErrAlreadyExists) && i.derivesSuccessors(old):
		// The successor is derived from this very token, so its hash is
		// taken only by a concurrent rotation of it, which an adapter may
		// not have finished yet (redisstore on Cluster claims the hash first). Wait
		// for it, then answer as the grace window says.
		again, err := i.awaitConsumed(ctx, hash)
		if err != nil {
			return nil, err
		}
		if !again.Consumed() {
			// Nobody is rotating it: the hash was left claimed by a
			// rotation of ours lost in transit (the contract allows an
			// adapter that). A random successor has no such claim.
			return i.rotateRandom(ctx, resp, hash, next)
		}
		if resp, ok, err := i.graceRefresh(ctx, c, refreshToken, again, scope, now); ok || err != nil {
			return resp, err
		}
		return nil, i.reuseDetected(ctx, old)
	case errors.Is(err, store.ErrNotFound):
		return nil, invalid(err)
	case err != nil:
		if i.rotationLanded(ctx, next) {
			return resp, nil
		}
		return nil, storeError(err)
	}
	return resp, nil
}

// graceRefresh answers a consumed token presented again within
// RefreshGrace of its rotation, while its successor is unused: a new access
// token and that same successor. ok is false when the grace does not apply,
// and the caller then treats the presentation as reuse. It asks whether the
// grant is revoked once it has found the successor, not from the early
// check: a sign-out while it looked must be seen.
func (i *Issuer) graceRefresh(ctx context.Context, c *Client, raw string, old store.RefreshToken, scope []string, now time.Time) (resp *TokenResponse, ok bool, err error) {
	if !i.derivesSuccessors(old) || !now.Before(old.ConsumedAt.Add(i.cfg.RefreshGrace)) {
		return nil, false, nil
	}
	var next string
	var succ store.RefreshToken
	for _, candidate := range successorCandidates(raw, old) {
		succ, err = i.getRefreshToken(ctx, i.hashToken(candidate))
		if !errors.Is(err, store.ErrNotFound) {
			next = candidate
			break
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, storeError(err)
	case succ.Consumed() || succ.GrantID != old.GrantID:
		return nil, false, nil
	}
	revoked, err := i.isRevoked(ctx, "", old.GrantID)
	if err != nil {
		return nil, false, storeError(err)
	}
	if revoked {
		return nil, false, newError(ErrInvalidGrant, "the refresh token is invalid, expired or revoked", errors.New("grant revoked"))
	}
	accessScope, err := i.refreshScope(old, scope)
	if err != nil {
		return nil, false, err
	}
	resp = &TokenResponse{RefreshToken: next}
	if err := i.issueAccessToken(ctx, resp, now, AccessTokenInfo{
		GrantType: GrantRefreshToken, ClientID: c.ID, Subject: old.Subject, Scope: accessScope, GrantID: old.GrantID,
	}); err != nil {
		return nil, false, err
	}
	return resp, true, nil
}

// derivesSuccessors reports whether the successors of old's grant are
// derived from their predecessors: with a grace window, and a SuccessorKey
// of the size the Issuer generates. A shorter key (none, for a grant from
// before keys existed, or an empty one from an adapter that does not tell
// nil from empty) would make successors guessable from the old token alone,
// so such a grant rotates to random successors, without a grace window.
func (i *Issuer) derivesSuccessors(old store.RefreshToken) bool {
	return i.cfg.RefreshGrace > 0 && len(old.SuccessorKey) >= successorKeyBytes
}

// awaitConsumed rereads the token stored under hash until a concurrent
// rotation has consumed it, for at most StoreTimeout; it returns the token
// unconsumed if none did by then.
func (i *Issuer) awaitConsumed(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	wctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	pause := 2 * time.Millisecond
	for {
		rt, err := i.cfg.Store.GetRefreshToken(wctx, hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return rt, newError(ErrInvalidGrant, "the refresh token is invalid, expired or revoked", err)
		case err != nil && ctx.Err() == nil && wctx.Err() != nil:
			return rt, nil // the wait is over, the token read as it was
		case err != nil:
			return rt, storeError(err)
		case rt.Consumed():
			return rt, nil
		}
		select {
		case <-ctx.Done():
			return rt, storeError(ctx.Err())
		case <-wctx.Done():
			return rt, nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// rotateRandom rotates the token under hash to next with a random
// successor instead of a derived one, and answers resp with it. The
// session was touched by the first try.
func (i *Issuer) rotateRandom(ctx context.Context, resp *TokenResponse, hash []byte, next store.RefreshToken) (*TokenResponse, error) {
	raw, nextHash, err := i.newRefreshToken(next.GrantID)
	if err != nil {
		return nil, newError(ErrServerError, "", err)
	}
	next.Hash = nextHash
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	err = i.cfg.Store.RotateRefreshToken(sctx, hash, next)
	cancel()
	switch {
	case errors.Is(err, store.ErrReused), errors.Is(err, store.ErrNotFound):
		return nil, newError(ErrInvalidGrant, "the refresh token is invalid, expired or revoked", err)
	case err != nil:
		return nil, storeError(err)
	}
	resp.RefreshToken = raw
	return resp, nil
}

// refreshScope is the scope of an access token a refresh of old issues:
// the grant's, or the part of it the request asks for.
func (i *Issuer) refreshScope(old store.RefreshToken, scope []string) ([]string, error) {
	if err := i.checkScopeSupported(scope); err != nil {
		return nil, err
	}
	if len(scope) == 0 {
		return old.Scope, nil
	}
	if !subset(scope, old.Scope) {
		return nil, newError(ErrInvalidScope, "the requested scope exceeds the scope originally granted", nil)
	}
	return scope, nil
}

// rotationLanded reports whether a rotation whose outcome is unknown (the
// store failed or timed out after it may have committed) did commit, by
// looking for the successor. Answering 503 for a rotation that committed
// would leave the client holding a consumed token, and its retry would look
// like reuse and revoke the grant.
func (i *Issuer) rotationLanded(ctx context.Context, next store.RefreshToken) bool {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.cfg.StoreTimeout)
	defer cancel()
	got, err := i.cfg.Store.GetRefreshToken(sctx, next.Hash)
	return err == nil && got.GrantID == next.GrantID && !got.Consumed()
}

// reuseDetected revokes the grant of a refresh token presented after its
// rotation (RFC 9700 §4.14.2): either the client or an attacker holds a stale
// copy, and the server cannot tell which, so every token of the grant dies.
func (i *Issuer) reuseDetected(ctx context.Context, rt store.RefreshToken) error {
	i.event(ctx, slog.LevelWarn, eventRefreshReused,
		slog.String("grant_id", rt.GrantID), slog.String("client_id", rt.ClientID), slog.String("sub", rt.Subject))
	if err := i.revokeGrant(ctx, rt); err != nil {
		return storeError(err)
	}
	return newError(ErrInvalidGrant, "the refresh token is invalid, expired or revoked", errors.New("refresh token reused; grant revoked"))
}

// grantEnd is how long a revocation of a grant whose last access token is
// issued by lastToken must be kept, and how long its session is listed:
// until no verifier, whatever its leeway, can accept any of its tokens.
func (i *Issuer) grantEnd(lastToken time.Time) time.Time {
	return lastAccepted(lastToken.Add(i.cfg.AccessTokenTTL)).Add(revocationMargin)
}

func (i *Issuer) revokeGrant(ctx context.Context, rt store.RefreshToken) error {
	// Access tokens of the grant are issued until its end at the latest.
	until := i.grantEnd(rt.GrantExpiresAt)
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	if err := i.cfg.Store.RevokeGrant(sctx, rt.GrantID, until); err != nil {
		return err
	}
	i.forgetSession(ctx, rt.Subject, rt.GrantID)
	return nil
}

func (i *Issuer) getRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	return i.cfg.Store.GetRefreshToken(sctx, hash)
}

func (i *Issuer) isRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	return i.cfg.Store.IsRevoked(sctx, jti, grantID)
}

// issueAccessToken signs an access token (RFC 9068) described by t into
// resp.
func (i *Issuer) issueAccessToken(ctx context.Context, resp *TokenResponse, now time.Time, t AccessTokenInfo) error {
	scope := FormatScope(t.Scope)
	var extra map[string]json.RawMessage
	if i.cfg.ExtraClaims != nil {
		var err error
		if extra, err = i.extraClaims(ctx, t); err != nil {
			return err
		}
	}
	jti, err := randomID()
	if err != nil {
		return newError(ErrServerError, "", err)
	}
	exp := now.Add(i.cfg.AccessTokenTTL)
	claims := wireClaims{
		Issuer:    i.cfg.Issuer,
		Subject:   t.Subject,
		Audience:  audience(i.cfg.Audience),
		ExpiresAt: newNumeric(exp),
		IssuedAt:  newNumeric(now),
		ID:        jti,
		ClientID:  t.ClientID,
		Scope:     scope,
		GrantID:   t.GrantID,
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return newError(ErrServerError, "", err)
	}
	if payload, err = appendClaims(payload, extra); err != nil {
		return newError(ErrServerError, "", err)
	}
	key, err := i.cfg.Keys.SigningKey(ctx)
	if err != nil {
		return newError(ErrServerError, "", fmt.Errorf("no signing key: %w", err))
	}
	tok, err := key.sign(payload, exp)
	if err != nil {
		return newError(ErrServerError, "", err)
	}
	if len(tok) > DefaultMaxTokenSize {
		// Verifiers refuse it, the Issuer's own included: it could be
		// neither introspected nor revoked.
		return newError(ErrServerError, "", fmt.Errorf("access token of %d bytes is above DefaultMaxTokenSize (%d)", len(tok), DefaultMaxTokenSize))
	}
	resp.AccessToken = tok
	resp.TokenType = "Bearer"
	resp.ExpiresIn = int64(i.cfg.AccessTokenTTL / time.Second)
	resp.Scope = scope
	return nil
}

// extraClaims asks IssuerConfig.ExtraClaims for the custom claims of the
// token t describes, and encodes them.
func (i *Issuer) extraClaims(ctx context.Context, t AccessTokenInfo) (map[string]json.RawMessage, error) {
	t.Scope = slices.Clone(t.Scope) // it may be a Client's DefaultScopes
	claims, err := i.cfg.ExtraClaims(ctx, t)
	var refusal *Error
	switch {
	case errors.As(err, &refusal) && refusal.Status >= 400 && refusal.Status < 500:
		return nil, refusal // the application refuses the client, in words of its own
	case errors.Is(err, ErrTemporarilyUnavailable):
		return nil, storeError(fmt.Errorf("ExtraClaims: %w", err))
	case err != nil:
		return nil, newError(ErrServerError, "", fmt.Errorf("ExtraClaims: %w", err))
	case len(claims) == 0:
		return nil, nil
	}
	extra := make(map[string]json.RawMessage, len(claims))
	for name, v := range claims {
		if err := checkClaimName(name); err != nil {
			return nil, newError(ErrServerError, "", err)
		}
		b, err := json.Marshal(v)
		if err == nil {
			// What encoding/json accepts as a json.RawMessage or from a
			// MarshalJSON may repeat a name inside: JWT libraries would
			// disagree on its value, and Claims.Claim refuses it.
			err = josejson.Unmarshal(b, new(any))
		}
		if err != nil {
			return nil, newError(ErrServerError, "", fmt.Errorf("ExtraClaims: claim %q: %w", name, err))
		}
		extra[name] = b
	}
	return extra, nil
}

// checkClaimName refuses a custom claim name that would replace or shadow
// a claim of the SDK's, or that encoding/json would not write as given.
func checkClaimName(name string) error {
	switch {
	case isReserved(name):
		return fmt.Errorf("ExtraClaims: %q is a reserved claim", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("ExtraClaims: claim name %q is not valid UTF-8", name)
	}
	return nil
}

// hashToken is what the store knows a refresh token by: SHA-256 over the
// issuer identifier and the token. Only the issuer that issued a token can
// find it, so Issuers with different identifiers on one store neither
// redeem, revoke nor burn each other's refresh tokens: to any other issuer
// it is unknown. The NUL cannot occur in an issuer URL, so no identifier
// and token can hash as another pair.
func (i *Issuer) hashToken(raw string) []byte {
	h := sha256.New()
	h.Write([]byte(i.cfg.Issuer))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	return h.Sum(nil)
}

// successorKeyBytes is the size of a grant's SuccessorKey: an HMAC-SHA256
// key as long as its output.
const successorKeyBytes = 32

// randomBytes returns n random bytes.
func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("oauth2: generating random bytes: %w", err)
	}
	return b, nil
}

// randomID returns 128 random bits, base64url-encoded, for jti and grant ids.
func randomID() (string, error) {
	b, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
