package apirecord

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite api/oauth2kit.txt from the code")

// recorded are the packages whose exported API is a promise to users,
// whichever module holds them.
var recorded = []string{
	"oauth2",
	"store",
	"storetest",
	"adapters/memstore",
	"adapters/redisstore",
	"adapters/pgstore",
	"adapters/sqlitestore",
}

const recordFile = "api/oauth2kit.txt"

// repo is the repository root, two levels above this package.
func repo(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readAll(t *testing.T) []*Package {
	t.Helper()
	var pkgs []*Package
	for _, p := range recorded {
		pkg, err := Read(filepath.Join(repo(t), filepath.FromSlash(p)))
		if err != nil {
			t.Fatalf("Read(%s) error = %v", p, err)
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs
}

// TestAPIRecord compares the exported API with the checked-in record, so
// that an API change is always deliberate: a change shows here as lines
// added and removed, and is accepted by rewriting the record (go test
// ./internal/apirecord -update) in the same commit.
func TestAPIRecord(t *testing.T) {
	var lines []string
	for _, pkg := range readAll(t) {
		lines = append(lines, pkg.Lines...)
		t.Logf("%s: %d exported identifiers", pkg.Name, len(pkg.Lines))
	}
	path := filepath.Join(repo(t), filepath.FromSlash(recordFile))
	if *update {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the record: %v (create it with go test ./internal/apirecord -update)", err)
	}
	want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var added, removed []string
	for _, l := range lines {
		if !slices.Contains(want, l) {
			added = append(added, "+ "+l)
		}
	}
	for _, l := range want {
		if !slices.Contains(lines, l) {
			removed = append(removed, "- "+l)
		}
	}
	if len(added)+len(removed) > 0 {
		t.Errorf("The exported API differs from %s:\n%s\nIf the change is deliberate, run go test ./internal/apirecord -update and commit the record with it.",
			recordFile, strings.Join(append(removed, added...), "\n"))
	}
}

// Every exported identifier of a recorded package says what it is for.
func TestExportedAreDocumented(t *testing.T) {
	for _, pkg := range readAll(t) {
		for _, name := range pkg.Undocumented {
			t.Errorf("%s.%s has no doc comment", pkg.Name, name)
		}
	}
}

func TestRead(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pkg sample, const ModeA Mode = iota (iota = 0)",
		"pkg sample, const ModeB Mode = iota (iota = 1)",
		`pkg sample, const ErrHidden hiddenError = "hidden"`,
		`pkg sample, const Undocumented = "x"`,
		"pkg sample, func Map[T, U any]([]T, func(T) U) []U",
		"pkg sample, func New(string, int, int) (*Config, error)",
		"pkg sample, method (hiddenError) Error() string",
		"pkg sample, method (*Config) Method(io.Reader)",
		"pkg sample, method (*Config) Close() error",
		"pkg sample, method (Config) Undocumented() int",
		"pkg sample, type Alias = Config",
		"pkg sample, type Config struct",
		"pkg sample, type Config struct, Name string",
		"pkg sample, type Config struct, Size int",
		"pkg sample, type Config struct, embedded io.Writer",
		"pkg sample, type Mode int",
		"pkg sample, type Reader interface",
		"pkg sample, type Reader interface, Read([]byte) (int, error)",
		"pkg sample, type Set[T comparable] struct",
		"pkg sample, type Set[T comparable] struct, Hook func(string, int) bool",
		"pkg sample, type Two interface",
		"pkg sample, type Two interface, A() error",
		"pkg sample, type Two interface, B(int, string) bool",
		"pkg sample, var ErrX = io.EOF",
	}
	slices.Sort(want)
	if !slices.Equal(got.Lines, want) {
		t.Errorf("Read().Lines =\n%s\nwant\n%s", strings.Join(got.Lines, "\n"), strings.Join(want, "\n"))
	}
	wantUndoc := []string{"Config.Size", "Config.Undocumented", "Two.B", "Undocumented"}
	if !slices.Equal(got.Undocumented, wantUndoc) {
		t.Errorf("Read().Undocumented = %q, want %q", got.Undocumented, wantUndoc)
	}
}
