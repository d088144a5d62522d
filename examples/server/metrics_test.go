package main

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// After a login, a failed login and a call of the API, /metrics shows the
// library's metrics with those counts.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	client := &http.Client{Timeout: 10 * time.Second}
	status, tok, _ := tokenRequest(t, client, srv.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}})
	if status != http.StatusOK {
		t.Fatalf("password grant: status %d, want 200", status)
	}
	if status, _, code := tokenRequest(t, client, srv.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"guess"}}); code != "invalid_grant" {
		t.Fatalf("wrong password: %d %q, want 400 invalid_grant", status, code)
	}
	if status, _ := getMe(t, client, srv.url, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("GET /api/me = %d, want 200", status)
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, client, req)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := string(resp.body)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"oauth2kit_token_requests_total", []string{`grant_type="password"`, `outcome="ok"`}, 1},
		{"oauth2kit_token_requests_total", []string{`grant_type="password"`, `outcome="invalid_grant"`}, 1},
		{"oauth2kit_token_request_duration_seconds_count", []string{`grant_type="password"`, `outcome="ok"`}, 1},
		{"oauth2kit_security_events_total", []string{`event="oauth2.login_failed"`}, 1},
		{"oauth2kit_verifications_total", []string{`outcome="ok"`}, 1},
	} {
		if got, ok := metricValue(body, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("GET /metrics: %s%v = %v (found %v), want %v; oauth2kit lines:\n%s", tt.name, tt.labels, got, ok, tt.want, oauth2kitLines(body))
		}
	}
	for _, typ := range []string{
		"# TYPE oauth2kit_token_requests_total counter",
		"# TYPE oauth2kit_token_request_duration_seconds histogram",
		"# TYPE oauth2kit_security_events_total counter",
		"# TYPE oauth2kit_verifications_total counter",
	} {
		if !strings.Contains(body, typ+"\n") {
			t.Errorf("GET /metrics lacks %q; oauth2kit lines:\n%s", typ, oauth2kitLines(body))
		}
	}
	if strings.Contains(body, "wonderland") || strings.Contains(body, tok.AccessToken) {
		t.Error("GET /metrics shows a credential")
	}
}

// metricValue returns the value of the sample of the metric name whose
// labels include all of labels, given as name="value".
func metricValue(body, name string, labels ...string) (float64, bool) {
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), name+"{")
		if !ok {
			continue
		}
		set, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		have := strings.Split(set, ",")
		all := true
		for _, l := range labels {
			all = all && slices.Contains(have, l)
		}
		if all {
			v, err := strconv.ParseFloat(value, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func oauth2kitLines(body string) string {
	var b strings.Builder
	for line := range strings.Lines(body) {
		if strings.Contains(line, "oauth2kit_") {
			b.WriteString(line)
		}
	}
	return b.String()
}
