package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/oauth2"
)

// The README is the first thing users run; these tests keep it true.

const readmePath = "../../README.md"

// TestReadmeWalkthrough checks that the README's walk-through has every
// command the server prints for the default address.
func TestReadmeWalkthrough(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{issuer: "http://" + defaultAddr, accessTTL: time.Minute, refreshTTL: time.Hour}
	_, issuer, err := newHandler(t.Context(), cfg, memstore.New(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	printCommands(&printed, issuer.Metadata(), "memory://")
	steps := printed.String()[strings.Index(printed.String(), "# 1."):]
	for line := range strings.Lines(steps) {
		line = strings.TrimSpace(line)
		if line != "" && !bytes.Contains(readme, []byte(line+"\n")) {
			t.Errorf("README.md lacks the printed line\n%s", line)
		}
	}
}

// TestReadmeExampleCompiles builds the README's Go example as if it were a
// main package in this module, without writing into the repository.
func TestReadmeExampleCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	src, _, closed := strings.Cut(rest, "```\n")
	if !ok || !closed {
		t.Fatal("README.md has no ```go block")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	virtual, err := filepath.Abs(filepath.Join("readmeexample", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {virtual: file}})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), goCmd, "build", "-overlay", overlayFile, "-o", os.DevNull, "./readmeexample")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the README's Go example does not build: %v\n%s", err, out)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The banner names the store without the password its URL may carry, and
// says whether tokens outlive the process.
func TestBannerHidesStorePassword(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"memory://", "store memory:// (tokens are lost on restart)"},
		{"redis://:s3cret@localhost:6379/0", "store redis://localhost:6379/0 (tokens survive a restart)"},
		{"postgres://app:s3cret@db:5432/auth", "store postgres://db:5432/auth (tokens survive a restart)"},
		{"postgres://app@db/auth?sslmode=disable&password=s3cret", "store postgres://db/auth (tokens survive a restart)"},
	}
	for _, tt := range tests {
		var printed bytes.Buffer
		printCommands(&printed, oauth2.Metadata{Issuer: "http://" + defaultAddr}, tt.url)
		if got := printed.String(); !strings.Contains(got, tt.want) || strings.Contains(got, "s3cret") {
			t.Errorf("printCommands(%q) banner = %q, want it to contain %q and no password", tt.url, strings.SplitN(got, "\n", 2)[0], tt.want)
		}
	}
}
