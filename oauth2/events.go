package oauth2

import (
	"context"
	"errors"
	"log/slog"
)

// The security events the Issuer logs to IssuerConfig.Logger, each a record
// whose message is the event's name, so that an operator can alert on it.
// Their attributes are listed in the package doc (Security events); none
// ever carries a password, a secret or a token.
const (
	eventLoginFailed         = "oauth2.login_failed"
	eventClientAuthFailed    = "oauth2.client_auth_failed"
	eventThrottled           = "oauth2.throttled"
	eventRefreshReused       = "oauth2.refresh_token_reused"
	eventRevoked             = "oauth2.revoked"
	eventKeyRotated          = "oauth2.key_rotated"
	eventSignedOutEverywhere = "oauth2.signed_out_everywhere"
)

// securityEvents are the events above, each of which
// oauth2kit_security_events_total counts under its name.
var securityEvents = []string{eventLoginFailed, eventClientAuthFailed, eventThrottled, eventRefreshReused, eventRevoked, eventKeyRotated, eventSignedOutEverywhere}

// event logs a security event and counts it.
func (i *Issuer) event(ctx context.Context, level slog.Level, name string, attrs ...slog.Attr) {
	i.tel.events.log(ctx, i.logger(), level, name, attrs...)
}

// throttledEvent logs err if it is a slow_down answer.
func (i *Issuer) throttledEvent(ctx context.Context, err error, attrs ...slog.Attr) {
	var e *Error
	if errors.As(err, &e) && e.Code == ErrSlowDown {
		attrs = append(attrs, slog.Int64("retry_after", int64(e.RetryAfter.Seconds())))
		i.event(ctx, slog.LevelWarn, eventThrottled, attrs...)
	}
}

// addrAttr is the client address attribute, when the request had one.
func addrAttr(ctx context.Context) slog.Attr {
	return slog.String("addr", clientAddrFrom(ctx))
}
