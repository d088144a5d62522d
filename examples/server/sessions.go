package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// sessionJSON is one session as GET /api/sessions lists it.
type sessionJSON struct {
	ID          string    `json:"id"`
	ClientID    string    `json:"client_id"`
	Scope       string    `json:"scope"`
	CreatedAt   time.Time `json:"created_at"`
	RefreshedAt time.Time `json:"refreshed_at"`
	// Current marks the session the request's access token belongs to.
	Current bool `json:"current"`
}

// sessionRoutes adds the signed-in user's session routes to mux, each
// behind guard (a valid access token with scope profile): list them, end
// one of them, end all of them.
func sessionRoutes(mux *http.ServeMux, issuer *oauth2.Issuer, guard func(http.Handler) http.Handler, logger *slog.Logger) {
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		logger.ErrorContext(r.Context(), "sessions", "path", r.URL.Path, "err", err)
		http.Error(w, "sessions unavailable", http.StatusServiceUnavailable)
	}
	mux.Handle("GET /api/sessions", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oauth2.ClaimsFromContext(r.Context())
		list, err := issuer.Sessions(r.Context(), c.Subject)
		if err != nil {
			fail(w, r, err)
			return
		}
		out := make([]sessionJSON, len(list))
		for i, s := range list {
			out[i] = sessionJSON{ID: s.GrantID, ClientID: s.ClientID, Scope: oauth2.FormatScope(s.Scope),
				CreatedAt: s.CreatedAt.UTC(), RefreshedAt: s.RefreshedAt.UTC(), Current: s.GrantID == c.GrantID}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})))
	mux.Handle("DELETE /api/sessions/{id}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oauth2.ClaimsFromContext(r.Context())
		// Another user's session is answered as one that does not exist.
		err := issuer.RevokeSession(r.Context(), c.Subject, r.PathValue("id"))
		switch {
		case errors.Is(err, oauth2.ErrSessionNotFound):
			http.Error(w, "no such session", http.StatusNotFound)
		case err != nil:
			fail(w, r, err)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})))
	mux.Handle("POST /api/logout-all", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := oauth2.ClaimsFromContext(r.Context())
		if err := issuer.RevokeAllSessions(r.Context(), c.Subject); err != nil {
			fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
}
