package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// testIssuer is the issuer URL of the servers newServer starts. It need not
// be where they listen: the issuer and the verifier only have to agree.
const testIssuer = "http://sqlusers.test"

// lockedBuffer collects the server's log, which request goroutines write
// while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newServer serves newHandler over db through real HTTP and returns its
// URL and its log.
func newServer(t *testing.T, db *sql.DB) (string, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	h, err := newHandler(db, memstore.New(), testIssuer, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// response is what the tests look at in an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the whole answer.
func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// login asks the token endpoint at base for a token with the password
// grant, as the demo client.
func login(t *testing.T, base, username, password string) response {
	t.Helper()
	form := url.Values{
		"grant_type": {oauth2.GrantPassword},
		"client_id":  {clientID},
		"username":   {username},
		"password":   {password},
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+oauth2.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

// getMe calls the protected route at base with an access token.
func getMe(t *testing.T, base, accessToken string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return do(t, req)
}

// errorCode is the error member of an RFC 6749 §5.2 error body, or "".
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("Got(body) = %s, want JSON: %v", body, err)
	}
	return e.Error
}

func TestPasswordGrant(t *testing.T) {
	base, _ := newServer(t, newUsersDB(t))
	tests := []struct {
		name     string
		username string
		password string
		want     int    // status
		wantErr  string // error code; "" for a token
	}{
		{name: "right password", username: demoUsername, password: demoPassword, want: http.StatusOK},
		{name: "wrong password", username: demoUsername, password: "looking-glass", wantErr: "invalid_grant", want: http.StatusBadRequest},
		{name: "unknown user", username: "mallory", password: demoPassword, wantErr: "invalid_grant", want: http.StatusBadRequest},
		{name: "username compared exactly", username: "Alice", password: demoPassword, wantErr: "invalid_grant", want: http.StatusBadRequest},
		{name: "no password", username: demoUsername, password: "", wantErr: "invalid_request", want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := login(t, base, tt.username, tt.password)
			if got.status != tt.want {
				t.Fatalf("Got(login(%q)) status = %d, want %d; body %s", tt.username, got.status, tt.want, got.body)
			}
			if tt.wantErr != "" {
				if code := errorCode(t, got.body); code != tt.wantErr {
					t.Errorf("Got(login(%q)) error = %q, want %q", tt.username, code, tt.wantErr)
				}
				return
			}
			var tok oauth2.TokenResponse
			if err := json.Unmarshal(got.body, &tok); err != nil || tok.AccessToken == "" {
				t.Fatalf("Got(login(%q)) = %s, want a token response (%v)", tt.username, got.body, err)
			}
			// The token carries the subject and scopes of the row.
			res := getMe(t, base, tok.AccessToken)
			const wantMe = `{"sub":"user-1","scope":"profile"}` + "\n"
			if res.status != http.StatusOK || string(res.body) != wantMe {
				t.Errorf("Got(GET /api/me) = %d %s, want 200 %s", res.status, res.body, wantMe)
			}
		})
	}
}

func TestProtectedRouteRefusesBadTokens(t *testing.T) {
	base, _ := newServer(t, newUsersDB(t))
	got := getMe(t, base, "not-a-token")
	if got.status != http.StatusUnauthorized {
		t.Errorf("Got(GET /api/me with a bad token) status = %d, want %d", got.status, http.StatusUnauthorized)
	}
}

// A wrong password and an unknown username must read the same, or the
// token endpoint tells which usernames exist.
func TestUnknownUserAnswersAsWrongPassword(t *testing.T) {
	base, _ := newServer(t, newUsersDB(t))
	wrong := login(t, base, demoUsername, "looking-glass")
	unknown := login(t, base, "mallory", "looking-glass")
	if wrong.status != unknown.status || !bytes.Equal(wrong.body, unknown.body) {
		t.Errorf("Got(unknown user) = %d %s, want %d %s as for a wrong password",
			unknown.status, unknown.body, wrong.status, wrong.body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
		if w, u := wrong.header.Get(h), unknown.header.Get(h); w != u {
			t.Errorf("Got(unknown user) %s = %q, want %q as for a wrong password", h, u, w)
		}
	}
}

// A database that fails is the server's problem: 500 server_error, with
// the cause in the log and nothing of it in the answer.
func TestLookupFailure(t *testing.T) {
	db := newUsersDB(t)
	base, logs := newServer(t, db)
	db.Close()

	got := login(t, base, demoUsername, demoPassword)
	if got.status != http.StatusInternalServerError {
		t.Fatalf("Got(login with the database closed) status = %d, want %d; body %s", got.status, http.StatusInternalServerError, got.body)
	}
	if code := errorCode(t, got.body); code != "server_error" {
		t.Errorf("Got(login with the database closed) error = %q, want %q", code, "server_error")
	}
	for _, leak := range []string{"sql", "database", "closed", demoUsername, "users"} {
		if bytes.Contains(bytes.ToLower(got.body), []byte(leak)) {
			t.Errorf("Got(login with the database closed) body = %s, want nothing about %q", got.body, leak)
		}
	}
	if !strings.Contains(logs.String(), "database is closed") {
		t.Errorf("Got(log) = %q, want the cause, database is closed", logs.String())
	}
}

// An unknown username must cost what a wrong password costs: a password
// check, or response times tell which usernames exist. The check is seen
// by what it allocates, not by how long it takes: argon2id allocates its
// whole memory parameter on every check (DefaultArgon2Params, which the
// table's hashes and the dummy use), and nothing else on this path comes
// near that.
func TestUnknownUserCostsAPasswordCheck(t *testing.T) {
	base, _ := newServer(t, newUsersDB(t))
	checkBytes := uint64(oauth2.DefaultArgon2Params().Memory) * 1024
	tests := []struct {
		name     string
		username string
		password string
		want     bool // whether a password check ran
	}{
		{name: "unknown user", username: "mallory", password: "looking-glass", want: true},
		{name: "wrong password", username: demoUsername, password: "looking-glass", want: true},
		// The baseline: refused before any check, so it shows the rest of
		// a request allocates far less than a check.
		{name: "no password", username: "mallory", password: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocated := allocatedBy(func() { login(t, base, tt.username, tt.password) })
			if got := allocated >= checkBytes; got != tt.want {
				t.Errorf("Got(a password check for %q) = %v (%d bytes allocated, a check allocates %d), want %v",
					tt.username, got, allocated, checkBytes, tt.want)
			}
		})
	}
}

// allocatedBy returns how many heap bytes the process allocated while f
// ran: f's, and any other goroutine's, so a test must run nothing else.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// startRun runs the command as main does, on a free port, and returns the
// address it serves, what it printed, and a stop function that ends it and
// returns run's error.
func startRun(t *testing.T, dbPath string) (addr, printed string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var stdout bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", dbPath, &stdout, io.Discard, func(a string) { ready <- a })
	}()
	select {
	case addr = <-ready: // run has printed everything by now
	case err := <-done:
		cancel()
		t.Fatalf("Got(run()) = %v before serving, want it to serve", err)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stdout.String(), stop
}

// The command runs with nothing prepared: a temporary database that it
// deletes on exit, alice added, and commands printed that work.
func TestRun(t *testing.T) {
	addr, printed, stop := startRun(t, "")
	base := "http://" + addr
	wantToken := "-d username=alice -d password=wonderland '" + base + oauth2.TokenPath + "'"
	if !strings.Contains(printed, wantToken) || !strings.Contains(printed, base+"/api/me") {
		t.Errorf("Got(printed) =\n%s\nwant the token command for %s and the /api/me URL", printed, base)
	}
	m := regexp.MustCompile(`users table in (.+)\.\n`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("Got(printed) =\n%s\nwant the database path", printed)
	}
	dbPath := m[1]

	got := login(t, base, demoUsername, demoPassword)
	var tok oauth2.TokenResponse
	if err := json.Unmarshal(got.body, &tok); got.status != http.StatusOK || err != nil {
		t.Fatalf("Got(login) = %d %s, want a token", got.status, got.body)
	}
	if res := getMe(t, base, tok.AccessToken); res.status != http.StatusOK {
		t.Errorf("Got(GET /api/me) = %d %s, want 200", res.status, res.body)
	}

	if err := stop(); err != nil {
		t.Errorf("Got(run()) = %v after cancel, want nil", err)
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Errorf("Got(os.Stat(%s)) error = %v after exit, want the temporary database gone", dbPath, err)
	}
}

// With -db the users table outlives the server, and alice is not added
// twice.
func TestRunKeepsDatabase(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "users.db")
	_, printed, stop := startRun(t, dbPath)
	if !strings.HasPrefix(printed, "Added alice") {
		t.Errorf("Got(printed on a new database) =\n%s\nwant it to start with Added alice", printed)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	addr, printed, _ := startRun(t, dbPath)
	if !strings.HasPrefix(printed, "alice was in the users table") {
		t.Errorf("Got(printed on the database again) =\n%s\nwant it to say alice was there", printed)
	}
	if got := login(t, "http://"+addr, demoUsername, demoPassword); got.status != http.StatusOK {
		t.Errorf("Got(login after a restart) = %d %s, want 200", got.status, got.body)
	}
}
