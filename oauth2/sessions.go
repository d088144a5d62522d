package oauth2

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/oauth2kit/oauth2kit/store"
)

// Session is one grant of a resource owner: a login through a client, as
// Issuer.Sessions lists it. Its GrantID is the grant_id claim of the
// grant's access tokens (Claims.GrantID), so a resource server can tell
// which session a request comes from.
type Session = store.Session

// ErrSessionNotFound is returned by Issuer.RevokeSession for a grant that is
// not one of the subject's live sessions.
const ErrSessionNotFound constError = "oauth2: session not found"

// ErrSessionsUnsupported is returned by the session methods of an Issuer
// whose Store does not implement store.SessionStore.
const ErrSessionsUnsupported constError = "oauth2: the store keeps no sessions (store.SessionStore)"

// sessions returns the Store as a SessionStore, if it is one.
func (i *Issuer) sessions() (store.SessionStore, bool) {
	ss, ok := i.cfg.Store.(store.SessionStore)
	return ss, ok
}

// createSession records a new grant, when the store keeps sessions.
func (i *Issuer) createSession(ctx context.Context, s store.Session) error {
	ss, ok := i.sessions()
	if !ok {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	if err := ss.CreateSession(sctx, s); err != nil {
		return storeError(fmt.Errorf("recording the session: %w", err))
	}
	return nil
}

// forgetSession drops the listing of a grant that was just revoked; the
// revocation is what ends it, so a failure is logged, not returned.
func (i *Issuer) forgetSession(ctx context.Context, subject, grantID string) {
	ss, ok := i.sessions()
	if !ok {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.cfg.StoreTimeout)
	defer cancel()
	if err := ss.DeleteSession(sctx, subject, grantID); err != nil {
		i.logger().WarnContext(ctx, "oauth2: forgetting a revoked session failed", "grant_id", grantID, "err", err)
	}
}

// Sessions returns the live sessions of subject, oldest first: every grant
// a password grant started for them that has not been revoked and of which
// a token could still be accepted, whether or not its client holds a
// refresh token. A grant is listed until its absolute end
// (GrantMaxLifetime, plus the lifetime and leeway of its last access
// token), so one left idle past its refresh token's expiry stays listed.
// It needs a Store that implements store.SessionStore, and fails with
// ErrSessionsUnsupported otherwise; grants started before the store kept
// sessions are not listed.
func (i *Issuer) Sessions(ctx context.Context, subject string) ([]Session, error) {
	ss, ok := i.sessions()
	if !ok {
		return nil, ErrSessionsUnsupported
	}
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	defer cancel()
	list, err := ss.ListSessions(sctx, subject)
	if err != nil {
		return nil, storeError(fmt.Errorf("listing sessions: %w", err))
	}
	return list, nil
}

// RevokeSession ends one session of subject: its grant is revoked, and with
// it every access and refresh token of the grant, here and at every
// verifier on the store. A grantID that is not one of subject's live
// sessions is ErrSessionNotFound, so that nobody can end another's session
// by naming it.
func (i *Issuer) RevokeSession(ctx context.Context, subject, grantID string) error {
	list, err := i.Sessions(ctx, subject)
	if err != nil {
		return err
	}
	for _, s := range list {
		if s.GrantID == grantID {
			return i.endSessions(ctx, subject, []Session{s}, eventRevoked)
		}
	}
	return ErrSessionNotFound
}

// RevokeAllSessions signs subject out everywhere: every live session's grant
// is revoked, so every access token issued to subject before this call
// (which all carry one of those grants) is refused, here and at every
// verifier on the store (a RevocationView within its propagation bound,
// tokens in a Verifier's cache included), and every refresh token of them
// is dead.
func (i *Issuer) RevokeAllSessions(ctx context.Context, subject string) error {
	list, err := i.Sessions(ctx, subject)
	if err != nil {
		return err
	}
	return i.endSessions(ctx, subject, list, eventSignedOutEverywhere)
}

// endSessions revokes the grants of list and forgets them, then logs event.
func (i *Issuer) endSessions(ctx context.Context, subject string, list []Session, event string) error {
	now := i.cfg.Now()
	for _, s := range list {
		// The session lasts until no token of its grant can be accepted;
		// a grant a rotation racing with this call extends stays revoked
		// to the same end, and nothing is accepted past it.
		until := s.ExpiresAt
		if floor := i.grantEnd(now); floor.After(until) {
			until = floor
		}
		sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
		err := i.cfg.Store.RevokeGrant(sctx, s.GrantID, until)
		cancel()
		if err != nil {
			return storeError(fmt.Errorf("revoking session %s: %w", s.GrantID, err))
		}
		i.forgetSession(ctx, subject, s.GrantID)
	}
	switch event {
	case eventRevoked:
		i.event(ctx, slog.LevelInfo, eventRevoked, slog.String("token_type", "session"),
			slog.String("grant_id", list[0].GrantID), slog.String("client_id", list[0].ClientID), slog.String("sub", subject))
	default:
		i.event(ctx, slog.LevelInfo, event, slog.String("sub", subject), slog.Int("sessions", len(list)))
	}
	return nil
}
