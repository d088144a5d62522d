package oauth2

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
)

// The package's one configuration rule (doc.go): zero means the default the
// field's doc names; a negative number turns off what may be off, and is
// refused everywhere else.
func TestConfigRule(t *testing.T) {
	f := newFixture(t)
	issuerCfg := f.issuer.cfg
	verifierCfg := f.issuer.VerifierConfig()
	st := memstore.New()

	newIssuer := func(m func(*IssuerConfig)) func() error {
		return func() error {
			cfg := issuerCfg
			m(&cfg)
			_, err := NewIssuer(cfg)
			return err
		}
	}
	newVerifier := func(m func(*VerifierConfig)) func() error {
		return func() error {
			cfg := verifierCfg
			m(&cfg)
			_, err := NewVerifier(cfg)
			return err
		}
	}
	newView := func(m func(*RevocationViewConfig)) func() error {
		return func() error {
			cfg := RevocationViewConfig{Store: st}
			m(&cfg)
			v, err := NewRevocationView(cfg)
			if err == nil {
				v.Close()
			}
			return err
		}
	}
	newShared := func(m func(*SharedKeysConfig)) func() error {
		return func() error {
			cfg := SharedKeysConfig{Store: st, AllowUnencryptedKeys: true}
			m(&cfg)
			_, err := NewSharedKeySet(t.Context(), cfg)
			return err
		}
	}
	newRemoteSet := func(m func(*RemoteKeySetOptions)) func() error {
		return func() error {
			var opts RemoteKeySetOptions
			m(&opts)
			_, err := NewRemoteKeySet("https://auth.example.test/jwks", opts)
			return err
		}
	}
	newIntrospection := func(m func(*IntrospectionCheckerConfig)) func() error {
		return func() error {
			cfg := IntrospectionCheckerConfig{URL: testIssuer + IntrospectionPath, ClientID: "rs", ClientSecret: "rs-secret"}
			m(&cfg)
			_, err := NewIntrospectionChecker(cfg)
			return err
		}
	}
	const neg = -time.Second
	tests := []struct {
		field   string
		new     func() error
		wantErr bool // false: the field may be off, and a negative value is accepted
	}{
		{"IssuerConfig.AccessTokenTTL", newIssuer(func(c *IssuerConfig) { c.AccessTokenTTL = neg }), true},
		{"IssuerConfig.RefreshTokenTTL", newIssuer(func(c *IssuerConfig) { c.RefreshTokenTTL = neg }), true},
		{"IssuerConfig.RefreshIdleTTL", newIssuer(func(c *IssuerConfig) { c.RefreshIdleTTL = neg }), true},
		{"IssuerConfig.GrantMaxLifetime", newIssuer(func(c *IssuerConfig) { c.GrantMaxLifetime = neg }), true},
		{"IssuerConfig.StoreTimeout", newIssuer(func(c *IssuerConfig) { c.StoreTimeout = neg }), true},
		{"IssuerConfig.Leeway", newIssuer(func(c *IssuerConfig) { c.Leeway = neg }), true},
		{"IssuerConfig.RefreshGrace", newIssuer(func(c *IssuerConfig) { c.RefreshGrace = neg }), true},
		{"IssuerConfig.ClientAuthCacheTTL", newIssuer(func(c *IssuerConfig) { c.ClientAuthCacheTTL = neg }), false},
		{"VerifierConfig.Leeway", newVerifier(func(c *VerifierConfig) { c.Leeway = neg }), true},
		{"VerifierConfig.StoreTimeout", newVerifier(func(c *VerifierConfig) { c.StoreTimeout = neg }), true},
		{"VerifierConfig.MaxTokenSize", newVerifier(func(c *VerifierConfig) { c.MaxTokenSize = -1 }), true},
		{"VerifierConfig.CacheSize", newVerifier(func(c *VerifierConfig) { c.CacheSize = -1 }), false},
		{"RevocationViewConfig.MaxStaleness", newView(func(c *RevocationViewConfig) { c.MaxStaleness = neg }), true},
		{"RevocationViewConfig.StoreTimeout", newView(func(c *RevocationViewConfig) { c.StoreTimeout = neg }), true},
		{"SharedKeysConfig.RetainFor", newShared(func(c *SharedKeysConfig) { c.RetainFor = neg }), true},
		{"SharedKeysConfig.ReloadInterval", newShared(func(c *SharedKeysConfig) { c.ReloadInterval = neg }), true},
		{"SharedKeysConfig.RotateAfter", newShared(func(c *SharedKeysConfig) { c.RotateAfter = neg }), false},
		{"RemoteKeySetOptions.RefreshInterval", newRemoteSet(func(o *RemoteKeySetOptions) { o.RefreshInterval = neg }), true},
		{"RemoteKeySetOptions.MinRefetchInterval", newRemoteSet(func(o *RemoteKeySetOptions) { o.MinRefetchInterval = neg }), true},
		{"IntrospectionCheckerConfig.CacheTTL", newIntrospection(func(c *IntrospectionCheckerConfig) { c.CacheTTL = neg }), false},
		{"IntrospectionCheckerConfig.CacheSize", newIntrospection(func(c *IntrospectionCheckerConfig) { c.CacheSize = -1 }), false},
		{"ThrottleConfig.Threshold", newIssuer(func(c *IssuerConfig) { c.Throttle.Threshold = -1 }), false},
		{"ThrottleConfig.UserThreshold", newIssuer(func(c *IssuerConfig) { c.Throttle.UserThreshold = -1 }), false},
		{"ThrottleConfig.Delay", newIssuer(func(c *IssuerConfig) { c.Throttle.Delay = neg }), true},
		{"ThrottleConfig.MaxDelay", newIssuer(func(c *IssuerConfig) { c.Throttle.MaxDelay = neg }), true},
		{"Sweep interval", func() error { return Sweep(t.Context(), st, neg, nil) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := tt.new()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Got(%s negative) error = %v, want error %v", tt.field, err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "oauth2: ") {
				t.Errorf("Got error %q, want it to start with %q", err, "oauth2: ")
			}
		})
	}
}

// Zero selects the named default, and a negative value of a field that
// may be off turns it off.
func TestConfigDefaultsAndOff(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) { c.ClientAuthCacheTTL = -1 })
	if f.issuer.clientAuth != nil {
		t.Error("Got a client authentication cache with ClientAuthCacheTTL < 0, want none")
	}
	cfg := f.issuer.cfg
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{
		{"AccessTokenTTL", cfg.AccessTokenTTL, DefaultAccessTokenTTL},
		{"RefreshTokenTTL", cfg.RefreshTokenTTL, DefaultRefreshTokenTTL},
		{"GrantMaxLifetime", cfg.GrantMaxLifetime, DefaultGrantMaxLifetime},
		{"StoreTimeout", cfg.StoreTimeout, DefaultStoreTimeout},
	} {
		if d.got != d.want {
			t.Errorf("Got(IssuerConfig.%s zero) = %s, want %s", d.name, d.got, d.want)
		}
	}

	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: f.store, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if v.cache != nil || v.cfg.StoreTimeout != DefaultStoreTimeout || v.cfg.MaxTokenSize != DefaultMaxTokenSize {
		t.Errorf("Got(Verifier) cache %v, StoreTimeout %s, MaxTokenSize %d, want no cache, %s, %d",
			v.cache != nil, v.cfg.StoreTimeout, v.cfg.MaxTokenSize, DefaultStoreTimeout, DefaultMaxTokenSize)
	}

	st := memstore.New()
	shared, err := NewSharedKeySet(t.Context(), SharedKeysConfig{Store: st, AllowUnencryptedKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if shared.cfg.RotateAfter != DefaultKeyRotateAfter {
		t.Errorf("Got(SharedKeysConfig.RotateAfter zero) = %s, want %s", shared.cfg.RotateAfter, DefaultKeyRotateAfter)
	}
	set, err := st.GetKeySet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	never, err := NewSharedKeySet(t.Context(), SharedKeysConfig{Store: st, AllowUnencryptedKeys: true, RotateAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	if never.due(set, time.Now().Add(100*365*24*time.Hour)) {
		t.Error("Got a rotation due with RotateAfter < 0, want never")
	}
}

// An Issuer's VerifierConfig carries its settings, so that a verifier in
// the same process agrees with it without repeating them.
func TestIssuerVerifierConfig(t *testing.T) {
	f := newFixture(t, func(c *IssuerConfig) {
		c.Leeway = 30 * time.Second
		c.StoreTimeout = 2 * time.Second
		c.Audience = []string{"https://api.example.test", "https://other.example.test"}
	})
	got := f.issuer.VerifierConfig()
	if got.Issuer != testIssuer || got.Audience != "https://api.example.test" || got.Leeway != 30*time.Second ||
		got.StoreTimeout != 2*time.Second || got.Revocations != f.store || got.Now == nil {
		t.Errorf("Got(VerifierConfig()) = %+v, want the issuer's settings", got)
	}
	v, err := NewVerifier(got)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, f.confid)
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("Verify() with the issuer's VerifierConfig error = %v", err)
	}
}

// A nil Logger is slog.Default() when the message is logged, so that an
// outage is never silent.
func TestNilLoggerIsDefault(t *testing.T) {
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	f := newFixture(t)
	tok := f.login(t, f.confid)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Keys: f.keys, Revocations: oauth2test.Down(), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	v.RequireToken()(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), "revocation status unavailable") {
		t.Errorf("Got(store down, nil Logger) = %d, log %q, want 503 and the cause in slog.Default()", rec.Code, logs.String())
	}
}
