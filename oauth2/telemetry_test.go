package oauth2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	traceembedded "go.opentelemetry.io/otel/trace/embedded"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
)

// The root module must not need the otel SDK, so these tests record
// through small implementations of the API's interfaces, which the API's
// embedded types allow for exactly this.

// noopMeter and embeddedTracer are embedded under these names, which do
// not clash with the methods Meter and Tracer.
type (
	noopMeter      = metricnoop.Meter
	embeddedTracer = traceembedded.Tracer
)

// testMeter records what counters and histograms are given, by metric name
// and attribute set. It is its own MeterProvider.
type testMeter struct {
	embedded.MeterProvider
	noopMeter // the instruments the package does not use

	mu   sync.Mutex
	sums map[string]float64 // by key
	obs  map[string]int     // observations, by key
}

func newTestMeter() *testMeter {
	return &testMeter{sums: make(map[string]float64), obs: make(map[string]int)}
}

func (m *testMeter) Meter(string, ...metric.MeterOption) metric.Meter { return m }

func (m *testMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return &testCounter{m: m, name: name}, nil
}

func (m *testMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return &testHistogram{m: m, name: name}, nil
}

func metricKey(name string, set attribute.Set) string {
	return name + "{" + set.Encoded(attribute.DefaultEncoder()) + "}"
}

func (m *testMeter) record(name string, set attribute.Set, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := metricKey(name, set)
	m.sums[k] += v
	m.obs[k]++
}

// sum is what the metric name with exactly the attributes attrs added up to.
func (m *testMeter) sum(name string, attrs ...attribute.KeyValue) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sums[metricKey(name, attribute.NewSet(attrs...))]
}

// observations is how many times the metric name was recorded with exactly
// the attributes attrs.
func (m *testMeter) observations(name string, attrs ...attribute.KeyValue) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.obs[metricKey(name, attribute.NewSet(attrs...))]
}

// total is what the metric name added up to over all its attributes.
func (m *testMeter) total(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum float64
	for k, v := range m.sums {
		if strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

type testCounter struct {
	embedded.Int64Counter
	m    *testMeter
	name string
}

func (c *testCounter) Add(_ context.Context, incr int64, opts ...metric.AddOption) {
	c.m.record(c.name, metric.NewAddConfig(opts).Attributes(), float64(incr))
}

func (c *testCounter) Enabled(context.Context) bool { return true }

type testHistogram struct {
	embedded.Float64Histogram
	m    *testMeter
	name string
}

func (h *testHistogram) Record(_ context.Context, v float64, opts ...metric.RecordOption) {
	h.m.record(h.name, metric.NewRecordConfig(opts).Attributes(), v)
}

func (h *testHistogram) Enabled(context.Context) bool { return true }

// testTracer records the spans started through it. It is its own
// TracerProvider.
type testTracer struct {
	traceembedded.TracerProvider
	embeddedTracer

	mu    sync.Mutex
	spans []*testSpan
}

func (tr *testTracer) Tracer(string, ...trace.TracerOption) trace.Tracer { return tr }

func (tr *testTracer) Start(ctx context.Context, name string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	s := &testSpan{name: name, attrs: make(map[string]string)}
	s.parent, _ = trace.SpanFromContext(ctx).(*testSpan)
	tr.mu.Lock()
	tr.spans = append(tr.spans, s)
	tr.mu.Unlock()
	return trace.ContextWithSpan(ctx, s), s
}

// named returns the spans called name, in the order they started.
func (tr *testTracer) named(name string) []*testSpan {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []*testSpan
	for _, s := range tr.spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func (tr *testTracer) all() []*testSpan {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.spans)
}

type testSpan struct {
	tracenoop.Span // what the package does not use

	name   string
	parent *testSpan

	mu     sync.Mutex
	attrs  map[string]string
	status codes.Code
	ended  bool
}

func (s *testSpan) IsRecording() bool { return true }

func (s *testSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range kv {
		s.attrs[string(a.Key)] = a.Value.String()
	}
}

func (s *testSpan) SetStatus(code codes.Code, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

func (s *testSpan) End(...trace.SpanEndOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
}

func (s *testSpan) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s%v", s.name, s.attrs)
}

func (s *testSpan) attr(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attrs[key]
}

// telemetryFixture is a fixture whose Issuer records its metrics, spans and
// log.
func telemetryFixture(t *testing.T) (*fixture, *testMeter, *testTracer, *eventLog) {
	t.Helper()
	meter, tracer, log := newTestMeter(), &testTracer{}, &eventLog{}
	f := newFixture(t, func(c *IssuerConfig) {
		c.MeterProvider, c.TracerProvider = meter, tracer
		c.Logger = slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return f, meter, tracer, log
}

func eventAttr(name string) attribute.KeyValue { return attribute.String(attrEvent, name) }

func requestAttrs(grantType, outcome string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String(attrGrantType, grantType), attribute.String(attrOutcome, outcome)}
}

// wantEventsCounted checks that every security event was counted as many
// times as it was logged.
func wantEventsCounted(t *testing.T, meter *testMeter, log *eventLog) {
	t.Helper()
	var logged int
	for _, name := range securityEvents {
		n := len(log.records(t, name))
		logged += n
		if got := meter.sum(metricSecurityEvents, eventAttr(name)); got != float64(n) {
			t.Errorf("Got %s{event=%q} = %v, want %d, the events logged", metricSecurityEvents, name, got, n)
		}
	}
	if got := meter.total(metricSecurityEvents); got != float64(logged) {
		t.Errorf("Got %s = %v over all attributes, want %d: some were counted under no known event", metricSecurityEvents, got, logged)
	}
}

// A reuse attack is one event in the log and one on its counter.
func TestMetricsRefreshTokenReused(t *testing.T) {
	f, meter, _, log := telemetryFixture(t)
	first := f.login(t, f.confid)
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.RefreshGrant(t.Context(), f.confid, first.RefreshToken, nil); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("RefreshGrant(reused token) error = %v, want invalid_grant", err)
	}
	if recs := log.records(t, eventRefreshReused); len(recs) != 1 {
		t.Fatalf("Got %d %s events, want 1; log:\n%s", len(recs), eventRefreshReused, log)
	}
	if got := meter.sum(metricSecurityEvents, eventAttr(eventRefreshReused)); got != 1 {
		t.Errorf("Got %s{event=%q} = %v, want 1", metricSecurityEvents, eventRefreshReused, got)
	}
	wantEventsCounted(t, meter, log)
}

// Throttling moves its counter, and the token requests are counted by
// grant type and outcome.
func TestMetricsThrottled(t *testing.T) {
	f, meter, _, log := telemetryFixture(t)
	h := f.issuer.TokenHandler()
	const attacker = "198.51.100.7:4000"
	for range DefaultThrottleThreshold {
		post(t, h, passwordForm(aliceName, "wrong"), from(attacker))
	}
	if w, body := post(t, h, passwordForm(aliceName, alicePassword), from(attacker)); w.Code != http.StatusTooManyRequests {
		t.Fatalf("Got(attempt after %d failures) = %d %v, want 429", DefaultThrottleThreshold, w.Code, body)
	}
	if got := meter.sum(metricSecurityEvents, eventAttr(eventThrottled)); got != 1 {
		t.Errorf("Got %s{event=%q} = %v, want 1", metricSecurityEvents, eventThrottled, got)
	}
	if got := meter.sum(metricSecurityEvents, eventAttr(eventLoginFailed)); got != DefaultThrottleThreshold {
		t.Errorf("Got %s{event=%q} = %v, want %d", metricSecurityEvents, eventLoginFailed, got, DefaultThrottleThreshold)
	}
	wantEventsCounted(t, meter, log)
	for _, tt := range []struct {
		outcome string
		want    int
	}{
		{"invalid_grant", DefaultThrottleThreshold},
		{"slow_down", 1},
		{outcomeOK, 0},
	} {
		attrs := requestAttrs(GrantPassword, tt.outcome)
		if got := meter.sum(metricTokenRequests, attrs...); got != float64(tt.want) {
			t.Errorf("Got %s%v = %v, want %d", metricTokenRequests, attrs, got, tt.want)
		}
		if got := meter.observations(metricTokenDuration, attrs...); got != tt.want {
			t.Errorf("Got %d %s%v observations, want %d", got, metricTokenDuration, attrs, tt.want)
		}
	}
}

func TestMetricsTokenRequests(t *testing.T) {
	f, meter, _, _ := telemetryFixture(t)
	h := f.issuer.TokenHandler()
	w, body := post(t, h, passwordForm(aliceName, alicePassword))
	if w.Code != http.StatusOK {
		t.Fatalf("Got(password grant) = %d %v, want 200", w.Code, body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {pubID}, "refresh_token": {body["refresh_token"].(string)}}
	if w, body := post(t, h, refresh); w.Code != http.StatusOK {
		t.Fatalf("Got(refresh grant) = %d %v, want 200", w.Code, body)
	}
	post(t, h, refresh) // reused
	post(t, h, url.Values{"grant_type": {"client_credentials"}, "client_id": {pubID}})
	post(t, h, url.Values{"grant_type": {strings.Repeat("x", 100)}, "client_id": {pubID}})
	post(t, h, url.Values{"client_id": {pubID}})
	post(t, h, url.Values{"grant_type": {"password"}, "client_id": {"nobody"}, "username": {aliceName}, "password": {alicePassword}})
	post(t, h, url.Values{"grant_type": {"password"}}, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })

	tests := []struct {
		grantType, outcome string
		want               int
	}{
		{GrantPassword, outcomeOK, 1},
		{GrantRefreshToken, outcomeOK, 1},
		{GrantRefreshToken, "invalid_grant", 1},
		{"other", "unsupported_grant_type", 2}, // an unknown grant type is never an attribute value
		{"other", "invalid_request", 1},        // no grant_type
		{GrantPassword, "invalid_client", 1},
		{"other", "invalid_request", 1}, // the form unreadable: no grant type known
	}
	want := map[string]int{}
	for _, tt := range tests {
		want[tt.grantType+" "+tt.outcome] += tt.want
	}
	var total int
	for k, n := range want {
		grantType, outcome, _ := strings.Cut(k, " ")
		total += n
		attrs := requestAttrs(grantType, outcome)
		if got := meter.sum(metricTokenRequests, attrs...); got != float64(n) {
			t.Errorf("Got %s%v = %v, want %d", metricTokenRequests, attrs, got, n)
		}
		if got := meter.observations(metricTokenDuration, attrs...); got != n {
			t.Errorf("Got %d %s%v observations, want %d", got, metricTokenDuration, attrs, n)
		}
	}
	if got := meter.total(metricTokenRequests); got != float64(total) {
		t.Errorf("Got %s = %v in all, want %d", metricTokenRequests, got, total)
	}
}

// failingRevocations is a revocation store that cannot be reached.
type failingRevocations struct{}

func (failingRevocations) IsRevoked(context.Context, string, string) (bool, error) {
	return false, errors.New("connection refused")
}

func TestMetricsVerifications(t *testing.T) {
	f, meter, _, _ := telemetryFixture(t)
	cfg := f.issuer.VerifierConfig()
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Revocations = failingRevocations{}
	down, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	live, revoked := f.login(t, f.confid), f.login(t, f.confid)
	if err := f.issuer.Revoke(t.Context(), f.confid, revoked.AccessToken, HintAccessToken); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		v     *Verifier
		token string
	}{
		{v, live.AccessToken}, {v, live.AccessToken}, // the second from the cache
		{v, "not.a.jwt"},
		{v, revoked.AccessToken},
		{down, live.AccessToken},
	} {
		_, _ = call.v.Verify(t.Context(), call.token)
	}
	for _, tt := range []struct {
		outcome string
		want    float64
	}{
		{"ok", 2}, {"invalid_token", 1}, {"revoked", 1}, {"unavailable", 1},
	} {
		if got := meter.sum(metricVerifications, attribute.String(attrOutcome, tt.outcome)); got != tt.want {
			t.Errorf("Got %s{outcome=%q} = %v, want %v", metricVerifications, tt.outcome, got, tt.want)
		}
	}
}

// The shared key set counts its rotations as the Issuer counts its events.
func TestMetricsKeyRotated(t *testing.T) {
	meter, log, clock := newTestMeter(), &eventLog{}, newFakeClock()
	ks := sharedKeys(t, SharedKeysConfig{
		Store: memstore.New(), RotateAfter: time.Hour, AllowUnencryptedKeys: true, Now: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(log, nil)), MeterProvider: meter,
	})
	clock.Advance(2 * time.Hour)
	if err := ks.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := meter.sum(metricSecurityEvents, eventAttr(eventKeyRotated)); got < 1 {
		t.Errorf("Got %s{event=%q} = %v, want at least the rotation", metricSecurityEvents, eventKeyRotated, got)
	}
	wantEventsCounted(t, meter, log)
}

// Spans nest request, call and verification, carry the grant type, the
// client and the error code, and never a credential.
func TestSpans(t *testing.T) {
	f, _, tracer, _ := telemetryFixture(t)
	h := f.issuer.Handler()
	formTo := func(path string, form url.Values) (*http.Response, map[string]any) {
		t.Helper()
		w, body := post(t, h, form, func(r *http.Request) { r.URL.Path = path })
		return w.Result(), body
	}
	formTo(TokenPath, passwordForm(aliceName, "wrong-password"))
	_, tok := formTo(TokenPath, url.Values{"grant_type": {"password"}, "client_id": {confID}, "client_secret": {confSecret}, "username": {aliceName}, "password": {alicePassword}})
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	formTo(IntrospectionPath, url.Values{"client_id": {confID}, "client_secret": {confSecret}, "token": {access}})
	formTo(RevocationPath, url.Values{"client_id": {confID}, "client_secret": {confSecret}, "token": {refresh}})

	tokens := tracer.named(spanToken)
	grants := tracer.named(spanPasswordGrant)
	if len(tokens) != 2 || len(grants) != 2 {
		t.Fatalf("Got %d %s and %d %s spans, want 2 of each", len(tokens), spanToken, len(grants), spanPasswordGrant)
	}
	for i, want := range []struct{ clientID, errorType string }{{pubID, "invalid_grant"}, {confID, ""}} {
		for _, s := range []*testSpan{tokens[i], grants[i]} {
			if s.attr(attrGrantType) != GrantPassword || s.attr(attrClientID) != want.clientID || s.attr(attrErrorType) != want.errorType || !s.ended {
				t.Errorf("Got span %v (ended %v), want grant_type password, client_id %q, error.type %q, ended", s, s.ended, want.clientID, want.errorType)
			}
			if s.status == codes.Error {
				t.Errorf("Got span %s with status Error for a client's mistake", s.name)
			}
		}
		if grants[i].parent != tokens[i] {
			t.Errorf("Got %s span %d outside its request's span", spanPasswordGrant, i)
		}
	}
	for _, pair := range [][2]string{{spanIntrospection, spanIntrospect}, {spanRevocation, spanRevoke}} {
		req, call := tracer.named(pair[0]), tracer.named(pair[1])
		if len(req) != 1 || len(call) != 1 || call[0].parent != req[0] || call[0].attr(attrClientID) != confID || !req[0].ended || !call[0].ended {
			t.Errorf("Got %d %s and %d %s spans, want one inside the other, for client_id %q, ended", len(req), pair[0], len(call), pair[1], confID)
		}
	}
	// The Issuer's own verification for introspection is in a recording
	// span, so it has its own.
	if v := tracer.named(spanVerify); len(v) != 1 || v[0].parent != tracer.named(spanIntrospect)[0] || v[0].attr(attrOutcome) != outcomeOK {
		t.Errorf("Got %s spans %v, want one, ok, inside %s", spanVerify, v, spanIntrospect)
	}
	for _, s := range tracer.all() {
		for k, v := range s.attrs {
			for _, secret := range []string{"wrong-password", alicePassword, confSecret, access, refresh} {
				if strings.Contains(v, secret) {
					t.Errorf("Got span %s attribute %s carrying a credential", s.name, k)
				}
			}
		}
	}
}

// A failure of the server marks the span as an error; the client's do not.
func TestSpanStatusOnServerFailure(t *testing.T) {
	tracer := &testTracer{}
	_, span := tracer.Start(t.Context(), "call")
	endCall(span, storeError(errors.New("connection refused")))
	if s := span.(*testSpan); s.status != codes.Error || s.attr(attrErrorType) != string(ErrTemporarilyUnavailable) {
		t.Errorf("Got span status %v, error.type %q, want Error, %s", s.status, s.attr(attrErrorType), ErrTemporarilyUnavailable)
	}
}

// Verify starts no span of its own outside a recording one.
func TestVerifySpanOnlyWhenTraced(t *testing.T) {
	f, _, tracer, _ := telemetryFixture(t)
	v, err := NewVerifier(f.issuer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	token := f.login(t, f.confid).AccessToken
	if _, err := v.Verify(t.Context(), token); err != nil {
		t.Fatal(err)
	}
	if got := tracer.named(spanVerify); len(got) != 0 {
		t.Fatalf("Got %d %s spans for an untraced call, want none", len(got), spanVerify)
	}
	ctx, parent := tracer.Start(t.Context(), "request")
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	got := tracer.named(spanVerify)
	if len(got) != 1 || got[0].parent != parent || got[0].attr(attrClientID) != confID || !got[0].ended {
		t.Errorf("Got %s spans %v, want one inside the request's, with client_id %q, ended", spanVerify, got, confID)
	}
}

// Nil providers are otel's global ones. Not parallel: it swaps the
// globals. otel also makes its default providers forward to the first ones
// set, for good, so that later tests record into meter and tracer too,
// which are safe for it.
func TestTelemetryGlobalProviders(t *testing.T) {
	meter, tracer := newTestMeter(), &testTracer{}
	prevMeter, prevTracer := otel.GetMeterProvider(), otel.GetTracerProvider()
	otel.SetMeterProvider(meter)
	otel.SetTracerProvider(tracer)
	t.Cleanup(func() {
		otel.SetMeterProvider(prevMeter)
		otel.SetTracerProvider(prevTracer)
	})
	f := newFixture(t) // no providers
	v, err := NewVerifier(f.issuer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	post(t, f.issuer.TokenHandler(), passwordForm(aliceName, "wrong"))
	_, _ = v.Verify(t.Context(), "not.a.jwt")
	if got := meter.sum(metricSecurityEvents, eventAttr(eventLoginFailed)); got != 1 {
		t.Errorf("Got %s{event=%q} = %v through the global provider, want 1", metricSecurityEvents, eventLoginFailed, got)
	}
	if got := meter.sum(metricTokenRequests, requestAttrs(GrantPassword, "invalid_grant")...); got != 1 {
		t.Errorf("Got %s = %v through the global provider, want 1", metricTokenRequests, got)
	}
	if got := meter.sum(metricVerifications, attribute.String(attrOutcome, "invalid_token")); got != 1 {
		t.Errorf("Got %s = %v through the global provider, want 1", metricVerifications, got)
	}
	if got := tracer.named(spanToken); len(got) != 1 {
		t.Errorf("Got %d %s spans through the global provider, want 1", len(got), spanToken)
	}
}
