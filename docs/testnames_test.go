package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// docTestName is a test, fuzz target or benchmark a doc names as the
	// proof of what it says, with the … of a family (`TestPostgres…`).
	docTestName = regexp.MustCompile(`\b((?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*)(…)?`)
	// testFunc is a test, fuzz target or benchmark a _test.go file defines.
	testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]*)\(`)
)

// TestNamedTestsExist: every test the manual names as proof of a behaviour
// (`TestKilledReadResumesWithoutLoss`, `httpclient.TestRetryAfter`, a
// family as `TestPostgres…`) is one a _test.go file of the repository
// defines, so a test renamed or removed does not leave the manual citing a
// proof that is no longer run.
func TestNamedTestsExist(t *testing.T) {
	defined := map[string]bool{}
	err := filepath.WalkDir(repoRoot(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files := docFiles(t)
	checked := 0
	for _, name := range sortedKeys(files) {
		for i, line := range strings.Split(files[name], "\n") {
			for _, m := range docTestName.FindAllStringSubmatch(line, -1) {
				checked++
				if m[2] == "" && defined[m[1]] {
					continue
				}
				if m[2] != "" && hasPrefixIn(defined, m[1]) {
					continue
				}
				t.Errorf("%s:%d: %s%s is no test of the repository (renamed or removed?); name the test that proves it now", name, i+1, m[1], m[2])
			}
		}
	}
	// Guard the guard: the manual cites hundreds.
	if checked < 100 {
		t.Errorf("only %d test names found in the docs", checked)
	}
}

func hasPrefixIn(set map[string]bool, prefix string) bool {
	for k := range set {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
