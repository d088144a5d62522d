package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// The demo's clients and user. The secrets are hashed at startup, as a
// real server would store them.
const (
	demoClientID       = "demo-client"
	demoClientSecret   = "demo-secret"
	demoPublicClientID = "demo-public"
	demoUsername       = "alice"
	demoPassword       = "wonderland"
)

// demoScopes are the scopes the server knows; requesting any other is
// invalid_scope. The clients may ask for all of them, alice only for
// profile and email.
var demoScopes = []string{"profile", "email", "admin"}

// newHandler wires the demo on st: the signing keys (-alg), the demo
// clients and user, the Issuer's endpoints, the protected /api/me route and
// the metrics at /metrics. It returns the Issuer too, whose metadata names
// the endpoints.
func newHandler(ctx context.Context, cfg config, st oauth2.Store, logger *slog.Logger) (http.Handler, *oauth2.Issuer, error) {
	meters, metrics, err := newMetrics()
	if err != nil {
		return nil, nil, err
	}
	keys, err := signingKeys(ctx, st, cfg, logger, meters)
	if err != nil {
		return nil, nil, err
	}
	clients, err := demoClients()
	if err != nil {
		return nil, nil, err
	}
	users, err := demoUsers()
	if err != nil {
		return nil, nil, err
	}
	issuer, err := oauth2.NewIssuer(oauth2.IssuerConfig{
		Issuer:          cfg.issuer,
		Keys:            keys,
		Store:           st,
		Clients:         clients,
		Users:           users,
		ScopesSupported: demoScopes,
		AccessTokenTTL:  cfg.accessTTL,
		RefreshTokenTTL: cfg.refreshTTL,
		RefreshGrace:    cfg.refreshGrace,
		Leeway:          cfg.leeway, // introspection agrees with /api/me
		// The library's defaults: five failures for one username from one
		// address, then a wait of 1 s doubling up to 15 minutes.
		Throttle:      oauth2.ThrottleConfig{Delay: cfg.throttleDelay, TrustedProxies: cfg.trustedProxies},
		Logger:        logger,
		MeterProvider: meters,
	})
	if err != nil {
		return nil, nil, err
	}
	// The resource server side, in the same process: the issuer's own
	// settings, so that its audience, keys, store (for revocations), leeway
	// and MeterProvider are the issuer's.
	verifier, err := oauth2.NewVerifier(issuer.VerifierConfig())
	if err != nil {
		return nil, nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/me", verifier.RequireToken("profile")(http.HandlerFunc(me)))
	// Without this, other methods on /api/me would fall through to "/".
	mux.HandleFunc("/api/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	// The same kind of answer with no authentication, as the baseline the
	// guarded route's throughput is compared with (BENCHMARKS.md).
	mux.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	})
	// The signed-in user's sessions: list them, end one, sign out
	// everywhere.
	sessionRoutes(mux, issuer, verifier.RequireToken("profile"), logger)
	// The metrics in Prometheus's text format. A real server would rather
	// serve them on an address of its own, out of the clients' reach.
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", issuer.Handler())
	return logRequests(logger, mux), issuer, nil
}

func demoClients() (*oauth2.StaticClients, error) {
	secretHash, err := oauth2.HashPassword(demoClientSecret)
	if err != nil {
		return nil, err
	}
	grants := []string{oauth2.GrantPassword, oauth2.GrantRefreshToken}
	return oauth2.NewStaticClients(
		oauth2.Client{
			ID:            demoClientID,
			SecretHash:    secretHash,
			GrantTypes:    grants,
			Scopes:        demoScopes,
			DefaultScopes: []string{"profile"},
		},
		oauth2.Client{
			ID:            demoPublicClientID, // no SecretHash: a public client
			GrantTypes:    grants,
			Scopes:        demoScopes,
			DefaultScopes: []string{"profile"},
		},
	)
}

func demoUsers() (*oauth2.PasswordAuthenticator, error) {
	hash, err := oauth2.HashPassword(demoPassword)
	if err != nil {
		return nil, err
	}
	return oauth2.NewStaticUsers(oauth2.StaticUser{
		Username:     demoUsername,
		PasswordHash: hash,
		Scopes:       []string{"profile", "email"},
	})
}

// me answers who the caller is, from the claims the verifier checked.
func me(w http.ResponseWriter, r *http.Request) {
	c, ok := oauth2.ClaimsFromContext(r.Context())
	if !ok { // only reachable if the route loses its middleware
		http.Error(w, "no verified claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Sub   string `json:"sub"`
		Scope string `json:"scope"`
	}{c.Subject, oauth2.FormatScope(c.Scope)})
}

// logRequests logs one line per request. It logs the path only: queries
// and headers may carry credentials.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("took", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
