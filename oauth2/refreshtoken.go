package oauth2

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/oauth2kit/oauth2kit/store"
)

// A refresh token is "<grant ID>.<secret>": the id of the grant it belongs
// to, then 256 bits in base64url, random for a grant's first token and for
// random successors, an HMAC for derived ones. The whole string is hashed,
// so the grant ID in it is as bound to the token as the secret: a token
// with another grant's id is a token nobody was given. The grant ID is no
// secret (it is the grant_id claim of the grant's access tokens); naming it
// lets a refresh ask the store whether the grant is revoked while it reads
// the token, rather than after. A token without it, as every token issued
// before this format is, is read first and its grant checked then.

// refreshTokenBytes is the entropy of a refresh token's secret: 256 bits.
const refreshTokenBytes = 32

// maxTokenGrantID bounds the grant ID a refresh token may name. The
// Issuer's own are 22 characters; a longer one is not embedded.
const maxTokenGrantID = 64

// refreshTokenOf returns the refresh token of grantID made of secret: with
// the grant ID in front when it can be embedded, the secret alone otherwise.
func refreshTokenOf(grantID string, secret []byte) string {
	s := base64.RawURLEncoding.EncodeToString(secret)
	if !embeddableGrantID(grantID) {
		return s
	}
	return grantID + "." + s
}

// tokenGrantID returns the grant ID a refresh token names, if it names one.
// It says nothing of whether the token exists: only the store knows that.
func tokenGrantID(raw string) (string, bool) {
	id, _, ok := strings.Cut(raw, ".")
	if !ok || !embeddableGrantID(id) {
		return "", false
	}
	return id, true
}

// embeddableGrantID reports whether id can stand in front of a refresh
// token: 1 to maxTokenGrantID characters of base64url's alphabet, which has
// no ".", so that the token's first "." always ends the id.
func embeddableGrantID(id string) bool {
	if id == "" || len(id) > maxTokenGrantID {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// newRefreshToken returns a fresh refresh token of grantID and its hash.
func (i *Issuer) newRefreshToken(grantID string) (raw string, hash []byte, err error) {
	b, err := randomBytes(refreshTokenBytes)
	if err != nil {
		return "", nil, err
	}
	raw = refreshTokenOf(grantID, b)
	return raw, i.hashToken(raw), nil
}

// successorToken returns the token that replaces raw, a token of the grant
// old belongs to: with a grace window, derived from raw and the grant's
// SuccessorKey, so that the window can give it out again without it being
// stored; otherwise random, so that under strict rotation two concurrent
// presentations can never end with the same successor.
func (i *Issuer) successorToken(raw string, old store.RefreshToken) (string, []byte, error) {
	if !i.derivesSuccessors(old) {
		return i.newRefreshToken(old.GrantID)
	}
	next := refreshTokenOf(old.GrantID, successorSecret(raw, old))
	return next, i.hashToken(next), nil
}

// successorCandidates are the tokens a derived rotation of raw may have
// stored, in the order to look for them: the successor this Issuer derives,
// then the secret alone, as an Issuer from before grant IDs were put in
// tokens derives it. The second is found only for a rotation such an
// Issuer made, during a rolling upgrade or just before one; giving it out
// again within the grace window keeps that client from being taken for a
// thief.
func successorCandidates(raw string, old store.RefreshToken) []string {
	secret := successorSecret(raw, old)
	named, bare := refreshTokenOf(old.GrantID, secret), base64.RawURLEncoding.EncodeToString(secret)
	if named == bare {
		return []string{named}
	}
	return []string{named, bare}
}

// successorSecret is the secret of raw's derived successor.
func successorSecret(raw string, old store.RefreshToken) []byte {
	mac := hmac.New(sha256.New, old.SuccessorKey)
	mac.Write([]byte("oauth2kit successor v1\x00"))
	mac.Write([]byte(raw))
	return mac.Sum(nil)
}

// grantCheck is a revocation check of the grant a refresh token names,
// started before the token is read so that both wait on the store at once.
type grantCheck struct {
	grantID string
	done    chan struct{}
	revoked bool
	err     error
}

// checkGrantEarly starts asking whether the grant raw names is revoked, and
// returns nil if raw names none or every slot for them is taken (the
// grant is then checked once the token is read). The check does not end
// with ctx: a refresh that answers before it (the token was not found, say)
// leaves it to finish within StoreTimeout rather than break off a store
// call, which some clients pay for with their connection; the slot it holds
// until then bounds how many such checks a flood of made-up tokens can
// leave running.
func (i *Issuer) checkGrantEarly(ctx context.Context, raw string) *grantCheck {
	id, ok := tokenGrantID(raw)
	if !ok {
		return nil
	}
	select {
	case i.earlyChecks <- struct{}{}:
	default:
		return nil
	}
	g := &grantCheck{grantID: id, done: make(chan struct{})}
	go func() {
		defer func() { <-i.earlyChecks }()
		defer close(g.done)
		g.revoked, g.err = i.isRevoked(context.WithoutCancel(ctx), "", id)
	}()
	return g
}

// grantRevoked reports whether grantID is revoked: as the early check
// found, when it asked about that grant, and by asking the store otherwise.
func (i *Issuer) grantRevoked(ctx context.Context, early *grantCheck, grantID string) (bool, error) {
	if early == nil || early.grantID != grantID {
		return i.isRevoked(ctx, "", grantID)
	}
	select {
	case <-early.done:
		return early.revoked, early.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// maxEarlyChecks bounds the early revocation checks an Issuer has running,
// which outlive a refresh that answers without them. A refresh that finds
// every slot taken checks its grant once the token is read, so that a flood
// of made-up tokens naming grants leaves no more than this many store calls
// behind.
const maxEarlyChecks = 256

// rotate consumes the token under hash for next, and records the rotation
// in the grant's session meanwhile, so that the refresh waits on the store
// once for both. The touch only moves the listing's "last refreshed"
// (the session lives to the grant's end from its creation), and its
// failure is logged, not returned. It is made whatever the rotation's
// outcome: a rotation fails when another presentation of the token won a
// race (that refresh was then answered, or the grant is revoked), when the
// token expired since it was read, when the store failed (and may have
// rotated it all the same) or when the caller gave up, which the touch,
// like the rotation's fate, does not wait for.
func (i *Issuer) rotate(ctx context.Context, hash []byte, next store.RefreshToken, now time.Time) error {
	touched := make(chan struct{})
	if ss, ok := i.sessions(); ok {
		go func() {
			defer close(touched)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.cfg.StoreTimeout)
			defer cancel()
			if err := ss.TouchSession(sctx, next.Subject, next.GrantID, now, i.grantEnd(next.GrantExpiresAt)); err != nil {
				i.logger().WarnContext(ctx, "oauth2: recording a session's refresh failed", "grant_id", next.GrantID, "err", err)
			}
		}()
	} else {
		close(touched)
	}
	sctx, cancel := context.WithTimeout(ctx, i.cfg.StoreTimeout)
	err := i.cfg.Store.RotateRefreshToken(sctx, hash, next)
	cancel()
	<-touched
	return err
}
