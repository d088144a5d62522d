package storetest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocListsEveryRequirement keeps doc.go and the suite in step: a failing
// subtest's name is only useful if the package doc says what it promises.
func TestDocListsEveryRequirement(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	// An item is "//   - Name: text" continued on lines indented further.
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^//   - (\S+): (.*(?:\n//     .*)*)`).FindAllSubmatch(src, -1) {
		if !strings.Contains(string(m[2]), "MUST") {
			t.Errorf("doc.go lists %s without its MUST", m[1])
		}
		listed = append(listed, string(m[1]))
	}

	var names []string
	valid := regexp.MustCompile(`^[A-Z][A-Za-z]+/[A-Z][A-Za-z]+$`)
	all := slices.Concat(basic, concurrency)
	for _, r := range faults {
		all = append(all, requirement{name: r.name})
		if !strings.HasPrefix(r.name, "Faults/") {
			t.Errorf("fault requirement %q is not in the area Faults, by which doc.go's -run recipe finds the tier", r.name)
		}
	}
	for _, r := range all {
		if !valid.MatchString(r.name) {
			t.Errorf("requirement %q is not named <Area>/<Requirement>", r.name)
		}
		// Both tiers run under one parent test, so names must differ
		// across them too.
		if slices.Contains(names, r.name) {
			t.Errorf("requirement %q is defined twice", r.name)
		}
		names = append(names, r.name)
		if !slices.Contains(listed, r.name) {
			t.Errorf("requirement %q is not listed with its MUST in doc.go", r.name)
		}
	}
	// The -run recipe in doc.go tells the tiers apart by this rule.
	tier := regexp.MustCompile(`/.*(Concurrent|Atomic)`)
	for _, r := range basic {
		if tier.MatchString(r.name) {
			t.Errorf("basic requirement %q has Concurrent or Atomic in its name, which doc.go reserves for the concurrency tier", r.name)
		}
	}
	for _, r := range concurrency {
		if !tier.MatchString(r.name) {
			t.Errorf("concurrency requirement %q lacks Concurrent or Atomic in its name, by which doc.go's -run recipe finds the tier", r.name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(names, name) {
			t.Errorf("doc.go lists %q, which the suite does not test", name)
		}
	}
}
