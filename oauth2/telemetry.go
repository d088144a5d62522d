package oauth2

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the meter and the tracer: OpenTelemetry's
// instrumentation scope is the instrumented package's import path.
const instrumentation = "github.com/oauth2kit/oauth2kit/oauth2"

// The metrics, documented in the package doc (Metrics and traces). They
// are named as Prometheus shows them, so that the names in the doc, in an
// OTLP backend and on a /metrics page are the same: the Prometheus exporter
// adds no suffix that a name already ends with.
const (
	metricSecurityEvents = "oauth2kit_security_events_total"
	metricTokenRequests  = "oauth2kit_token_requests_total"
	metricTokenDuration  = "oauth2kit_token_request_duration_seconds"
	metricVerifications  = "oauth2kit_verifications_total"
)

// The spans: one per request to an endpoint, and one per call of the
// Issuer method the request leads to, which applications may also call
// directly.
const (
	spanToken         = "oauth2kit.token"
	spanRevocation    = "oauth2kit.revocation"
	spanIntrospection = "oauth2kit.introspection"
	spanPasswordGrant = "oauth2kit.PasswordGrant"
	spanRefreshGrant  = "oauth2kit.RefreshGrant"
	spanRevoke        = "oauth2kit.Revoke"
	spanIntrospect    = "oauth2kit.Introspect"
	spanVerify        = "oauth2kit.Verify"
)

// Attribute keys. The spans carry the OAuth error code as error.type, the
// attribute OpenTelemetry's semantic conventions give the class of an error.
const (
	attrEvent     = "event"
	attrGrantType = "grant_type"
	attrOutcome   = "outcome"
	attrClientID  = "client_id"
	attrErrorType = "error.type"
)

// outcomeOK is the outcome of a request or a verification that succeeded.
const outcomeOK = "ok"

// tokenDurationBuckets are the bucket bounds of the token endpoint's
// duration histogram, in seconds: those the semantic conventions advise
// for HTTP server durations, which span both a throttled answer (under a
// millisecond) and a password hash under load (seconds). The SDK's own
// default bounds are meant for milliseconds.
var tokenDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// meterProvider is mp, or otel's global provider when mp is nil. The
// global one records nothing until the application installs an SDK, and
// forwards to one installed later, so that a nil provider costs nothing
// and misses nothing.
func meterProvider(mp metric.MeterProvider) metric.MeterProvider {
	if mp == nil {
		return otel.GetMeterProvider()
	}
	return mp
}

// tracerProvider is tp, or otel's global provider when tp is nil.
func tracerProvider(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return otel.GetTracerProvider()
	}
	return tp
}

// eventCounter counts the security events.
//
// One counter with the event's name as its attribute, rather than one
// counter per event: the attribute is the very name the log record carries,
// so that a dashboard or an alert moves between the two by it, and an event
// added later needs no new metric.
type eventCounter struct {
	counter metric.Int64Counter
	byName  map[string][]metric.AddOption // each event's attribute set, made once
}

func newEventCounter(mp metric.MeterProvider) (*eventCounter, error) {
	c, err := meterProvider(mp).Meter(instrumentation).Int64Counter(metricSecurityEvents,
		metric.WithUnit("{event}"), metric.WithDescription("Security events logged, by event name."))
	if err != nil {
		return nil, err
	}
	ec := &eventCounter{counter: c, byName: make(map[string][]metric.AddOption, len(securityEvents))}
	for _, name := range securityEvents {
		ec.byName[name] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(attrEvent, name)))}
	}
	return ec, nil
}

// log logs a security event and counts it. It is the one way every event
// goes, so that the log and the counter cannot disagree; the counter moves
// whatever level the logger lets through.
func (ec *eventCounter) log(ctx context.Context, logger *slog.Logger, level slog.Level, name string, attrs ...slog.Attr) {
	logger.LogAttrs(ctx, level, name, attrs...)
	ec.counter.Add(ctx, 1, ec.byName[name]...)
}

// issuerTelemetry is the Issuer's meter and tracer instruments.
type issuerTelemetry struct {
	tracer        trace.Tracer
	events        *eventCounter
	tokenRequests metric.Int64Counter
	tokenDuration metric.Float64Histogram
}

func newIssuerTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*issuerTelemetry, error) {
	events, err := newEventCounter(mp)
	if err != nil {
		return nil, err
	}
	meter := meterProvider(mp).Meter(instrumentation)
	requests, err := meter.Int64Counter(metricTokenRequests,
		metric.WithUnit("{request}"), metric.WithDescription("Token endpoint requests, by grant type and outcome."))
	if err != nil {
		return nil, err
	}
	duration, err := meter.Float64Histogram(metricTokenDuration,
		metric.WithUnit("s"), metric.WithDescription("Time to answer a token endpoint request, by grant type and outcome."),
		metric.WithExplicitBucketBoundaries(tokenDurationBuckets...))
	if err != nil {
		return nil, err
	}
	return &issuerTelemetry{
		tracer:        tracerProvider(tp).Tracer(instrumentation),
		events:        events,
		tokenRequests: requests,
		tokenDuration: duration,
	}, nil
}

// endpointRequest is what the telemetry of one request to an endpoint
// learns as the request goes: readForm and writeError find it in the
// request's context and note the error the request is answered with.
type endpointRequest struct {
	span      trace.Span
	start     time.Time
	grantType string // the token endpoint's, as the request names it
	clientID  string // as the request names it, unchecked
	code      ErrorCode
	status    int
}

type endpointRequestKey struct{}

// startRequest starts the span of a request to an endpoint, and returns
// the request with the span and its record in its context.
func (t *issuerTelemetry) startRequest(r *http.Request, name string) (*http.Request, *endpointRequest) {
	ctx, span := t.tracer.Start(r.Context(), name)
	req := &endpointRequest{span: span, start: time.Now()}
	return r.WithContext(context.WithValue(ctx, endpointRequestKey{}, req)), req
}

// refused notes the error a request to an endpoint is answered with.
func refused(ctx context.Context, code ErrorCode, status int) {
	if req, ok := ctx.Value(endpointRequestKey{}).(*endpointRequest); ok {
		req.code, req.status = code, status
	}
}

// endRequest ends the span of a request to the revocation or introspection
// endpoint.
func (t *issuerTelemetry) endRequest(req *endpointRequest) {
	endSpan(req.span, req.code, req.status)
}

// endTokenRequest counts and times a request to the token endpoint, and
// ends its span.
func (t *issuerTelemetry) endTokenRequest(ctx context.Context, req *endpointRequest) {
	grantType, outcome := grantTypeValue(req.grantType), outcomeOK
	if req.code != "" {
		outcome = string(req.code)
	}
	attrs := metric.WithAttributes(attribute.String(attrGrantType, grantType), attribute.String(attrOutcome, outcome))
	t.tokenRequests.Add(ctx, 1, attrs)
	t.tokenDuration.Record(ctx, time.Since(req.start).Seconds(), attrs)
	if req.span.IsRecording() {
		req.span.SetAttributes(attribute.String(attrGrantType, grantType), attribute.String(attrClientID, req.clientID))
	}
	endSpan(req.span, req.code, req.status)
}

// grantTypeValue is the grant_type attribute of a token request: the
// grant type if the endpoint supports it, "other" if not. The client
// chooses what it sends, and a metric attribute must not take unboundedly
// many values.
func grantTypeValue(grantType string) string {
	switch grantType {
	case GrantPassword, GrantRefreshToken:
		return grantType
	default:
		return "other"
	}
}

// startCall starts the span of a call of an Issuer method made for client
// c.
func (t *issuerTelemetry) startCall(ctx context.Context, name string, c *Client, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, name)
	if span.IsRecording() {
		if c != nil {
			attrs = append(attrs, attribute.String(attrClientID, c.ID))
		}
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// endCall ends the span of an Issuer method's call that returned err.
func endCall(span trace.Span, err error) {
	if err == nil {
		endSpan(span, "", 0)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = newError(ErrServerError, "", err)
	}
	endSpan(span, e.Code, e.Status)
}

// endSpan records the OAuth error code a span ended with, if any, and ends
// it. Only a failure of the server marks the span as an error, as
// OpenTelemetry's conventions have it for server spans: a wrong password is
// the client's. The description is the code alone; the cause, which may
// quote a store's error, stays in the log.
func endSpan(span trace.Span, code ErrorCode, status int) {
	if code != "" {
		span.SetAttributes(attribute.String(attrErrorType, string(code)))
		if status >= 500 {
			span.SetStatus(codes.Error, string(code))
		}
	}
	span.End()
}

// The outcomes of Verify, the attribute outcome of
// oauth2kit_verifications_total.
const (
	verifyOK = iota
	verifyInvalid
	verifyRevoked
	verifyUnavailable
	verifyOutcomes
)

var verifyOutcomeNames = [verifyOutcomes]string{
	verifyOK:          outcomeOK,
	verifyInvalid:     "invalid_token",
	verifyRevoked:     "revoked",
	verifyUnavailable: "unavailable",
}

// verifyOutcome classifies what Verify returned.
func verifyOutcome(err error) int {
	switch {
	case err == nil:
		return verifyOK
	case errors.Is(err, ErrTokenRevoked):
		return verifyRevoked
	case errors.Is(err, ErrRevocationUnavailable), errors.Is(err, ErrKeysUnavailable):
		return verifyUnavailable
	default:
		return verifyInvalid
	}
}

// verifierTelemetry is the Verifier's instruments. Verify runs in about a
// microsecond on a cached token, so the attribute sets are made once, and
// its span is started only inside a span that records: an untraced request
// pays one context lookup for it.
type verifierTelemetry struct {
	tracer        trace.Tracer
	verifications metric.Int64Counter
	outcomes      [verifyOutcomes][]metric.AddOption
}

func newVerifierTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*verifierTelemetry, error) {
	c, err := meterProvider(mp).Meter(instrumentation).Int64Counter(metricVerifications,
		metric.WithUnit("{verification}"), metric.WithDescription("Access tokens verified, by outcome."))
	if err != nil {
		return nil, err
	}
	t := &verifierTelemetry{tracer: tracerProvider(tp).Tracer(instrumentation), verifications: c}
	for i, name := range verifyOutcomeNames {
		t.outcomes[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(attrOutcome, name)))}
	}
	return t, nil
}

// startVerify starts the span of a Verify call when ctx is in a span that
// records; it returns a nil span otherwise.
func (t *verifierTelemetry) startVerify(ctx context.Context) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return t.tracer.Start(ctx, spanVerify)
}

// verified counts a Verify call that returned c and err, and ends its span
// if it has one.
func (t *verifierTelemetry) verified(ctx context.Context, span trace.Span, c *Claims, err error) {
	outcome := verifyOutcome(err)
	t.verifications.Add(ctx, 1, t.outcomes[outcome]...)
	if span == nil {
		return
	}
	span.SetAttributes(attribute.String(attrOutcome, verifyOutcomeNames[outcome]))
	if c != nil {
		span.SetAttributes(attribute.String(attrClientID, c.ClientID))
	}
	if outcome == verifyUnavailable {
		span.SetStatus(codes.Error, verifyOutcomeNames[outcome])
	}
	span.End()
}
