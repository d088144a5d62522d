package oauth2

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/oauth2kit/oauth2kit/store"
)

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Revoke revokes a token for the client that holds it (RFC 7009). Revoking
// a refresh token revokes its whole grant, and with it the grant's access
// tokens (§2.1); revoking an access token denies its jti until it expires.
// An unknown, expired or malformed token is not an error (§2.2). A token
// issued to another client is unauthorized_client. hint only orders the
// lookups.
func (i *Issuer) Revoke(ctx context.Context, c *Client, token, hint string) (err error) {
	ctx, span := i.tel.startCall(ctx, spanRevoke, c)
	defer func() { endCall(span, err) }()
	if token == "" {
		return newError(ErrInvalidRequest, "token is required", nil)
	}
	lookups := []func(context.Context, *Client, string) (bool, error){i.revokeRefreshToken, i.revokeAccessToken}
	if hint == HintAccessToken || (hint == "" && looksLikeJWT(token)) {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, revoke := range lookups {
		found, err := revoke(ctx, c, token)
		if found || err != nil {
			return err
		}
	}
	return nil
}

// looksLikeJWT tells a compact JWS, with two dots, from a refresh token,
// with at most one; it only orders lookups, so a wrong guess costs one extra
// lookup.
func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

func (i *Issuer) revokeRefreshToken(ctx context.Context, c *Client, token string) (bool, error) {
	if looksLikeJWT(token) {
		return false, nil
	}
	rt, err := i.getRefreshToken(ctx, i.hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeError(err)
	}
	if rt.ClientID != c.ID {
		return true, newError(ErrUnauthorizedClient, "the token was not issued to this client", nil)
	}
	if err := i.revokeGrant(ctx, rt); err != nil {
		return true, storeError(err)
	}
	i.event(ctx, slog.LevelInfo, eventRevoked, slog.String("token_type", HintRefreshToken),
		slog.String("grant_id", rt.GrantID), slog.String("client_id", c.ID), slog.String("sub", rt.Subject))
	return true, nil
}

func (i *Issuer) revokeAccessToken(ctx context.Context, c *Client, token string) (bool, error) {
	if !looksLikeJWT(token) {
		return false, nil
	}
	t, err := i.verifier.verifySignedClaims(ctx, token)
	if errors.Is(err, ErrKeysUnavailable) {
		// It may well be one of ours: answering 200 would tell the client
		// a token is revoked that is not. 503 makes it retry.
		return true, storeError(err)
	}
	if err != nil {
		return false, nil // not one of ours: nothing to revoke
	}
	claims := t.claims
	usableUntil := lastAccepted(claims.ExpiresAt)
	if !i.cfg.Now().Before(usableUntil) {
		return true, nil // already unusable everywhere
	}
	if claims.ClientID != c.ID {
		return true, newError(ErrUnauthorizedClient, "the token was not issued to this client", nil)
	}
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	if err := i.cfg.Store.RevokeAccessToken(sctx, claims.ID, usableUntil.Add(revocationMargin)); err != nil {
		return true, storeError(err)
	}
	i.event(ctx, slog.LevelInfo, eventRevoked, slog.String("token_type", HintAccessToken),
		slog.String("jti", claims.ID), slog.String("client_id", c.ID), slog.String("sub", claims.Subject))
	return true, nil
}

// Introspection is an introspection response (RFC 7662 §2.2). An inactive
// token has Active false and nothing else, and is written as exactly
// {"active":false}.
type Introspection struct {
	Active    bool     `json:"active"`               // whether the token is active; all other members are omitted when it is not
	Scope     string   `json:"scope,omitempty"`      // space-separated scopes
	ClientID  string   `json:"client_id,omitempty"`  // the client the token was issued to
	TokenType string   `json:"token_type,omitempty"` // "Bearer" for access tokens; omitted for refresh tokens
	ExpiresAt int64    `json:"exp,omitempty"`        // expiry, seconds since the epoch
	IssuedAt  int64    `json:"iat,omitempty"`        // issuance, seconds since the epoch
	NotBefore int64    `json:"nbf,omitempty"`        // not valid before, seconds since the epoch
	Subject   string   `json:"sub,omitempty"`        // the resource owner
	Audience  []string `json:"aud,omitempty"`        // the resource servers the token is for
	Issuer    string   `json:"iss,omitempty"`        // the issuer identifier
	ID        string   `json:"jti,omitempty"`        // the token identifier (jti)
}

// Introspect reports to the client caller whether token is active (RFC
// 7662) and, if so, what it grants. Any token the server cannot vouch for is
// inactive; only a failure of the store is an error.
//
// To stop clients from scanning each other's tokens (RFC 7662 §4), a client
// sees only tokens issued to itself, except that a client marked
// ResourceServer also sees every access token (to check those presented to
// it). Refresh tokens are only ever shown to the client that holds them.
func (i *Issuer) Introspect(ctx context.Context, caller *Client, token, hint string) (_ *Introspection, err error) {
	ctx, span := i.tel.startCall(ctx, spanIntrospect, caller)
	defer func() { endCall(span, err) }()
	type lookup struct {
		introspect func(context.Context, string) (*Introspection, error)
		// visible reports whether caller may see an active token of this
		// kind issued to the client with the given id.
		visible func(clientID string) bool
	}
	own := func(clientID string) bool { return clientID == caller.ID }
	lookups := []lookup{
		{i.introspectRefreshToken, own},
		{i.introspectAccessToken, func(clientID string) bool { return own(clientID) || caller.ResourceServer }},
	}
	if hint == HintAccessToken || (hint == "" && looksLikeJWT(token)) {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, l := range lookups {
		in, err := l.introspect(ctx, token)
		if err != nil {
			return nil, err
		}
		if in == nil {
			continue
		}
		if in.Active && !l.visible(in.ClientID) {
			return &Introspection{}, nil
		}
		return in, nil
	}
	return &Introspection{}, nil
}

func (i *Issuer) introspectAccessToken(ctx context.Context, token string) (*Introspection, error) {
	if !looksLikeJWT(token) {
		return nil, nil
	}
	c, err := i.verifier.Verify(ctx, token)
	if errors.Is(err, ErrRevocationUnavailable) || errors.Is(err, ErrKeysUnavailable) {
		return nil, storeError(err) // the token may be active: say nothing rather than "inactive"
	}
	if err != nil {
		return &Introspection{}, nil
	}
	in := &Introspection{
		Active:    true,
		Scope:     FormatScope(c.Scope),
		ClientID:  c.ClientID,
		TokenType: "Bearer",
		ExpiresAt: c.ExpiresAt.Unix(),
		IssuedAt:  c.IssuedAt.Unix(),
		Subject:   c.Subject,
		Audience:  c.Audience,
		Issuer:    c.Issuer,
		ID:        c.ID,
	}
	if !c.NotBefore.IsZero() {
		in.NotBefore = c.NotBefore.Unix()
	}
	return in, nil
}

func (i *Issuer) introspectRefreshToken(ctx context.Context, token string) (*Introspection, error) {
	if looksLikeJWT(token) || token == "" {
		return nil, nil
	}
	rt, err := i.getRefreshToken(ctx, i.hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	now := i.cfg.Now()
	if rt.Consumed() || !now.Before(rt.ExpiresAt) {
		return &Introspection{}, nil
	}
	revoked, err := i.isRevoked(ctx, "", rt.GrantID)
	if err != nil {
		return nil, storeError(err)
	}
	if revoked {
		return &Introspection{}, nil
	}
	return &Introspection{
		Active:   true,
		Scope:    FormatScope(rt.Scope),
		ClientID: rt.ClientID,
		// No token_type: RFC 7662 §2.2 takes it from the access token types
		// of RFC 6749 §5.1, and a refresh token has none.
		ExpiresAt: rt.ExpiresAt.Unix(),
		IssuedAt:  rt.IssuedAt.Unix(),
		Subject:   rt.Subject,
		Issuer:    i.cfg.Issuer,
	}, nil
}
