package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var (
	// fuzzTarget is a fuzz target a _test.go file defines.
	fuzzTarget = regexp.MustCompile(`(?m)^func (Fuzz[A-Za-z0-9_]*)\(\w+ \*testing\.F\)`)
	// ciFuzzEntry is one entry of .ci/run's fuzz list: package
	// directory, target and budget (a count of executions).
	ciFuzzEntry = regexp.MustCompile(`\b((?:connector|cmd|dev)(?:/[A-Za-z0-9_.-]+)*):(Fuzz[A-Za-z0-9_]*):([0-9]+)\b`)
)

// TestCIFuzzesEveryTarget: .ci/run fuzzes every target of the repository
// briefly, each from its list (PKG:Name:COUNT), so a new target is not
// left to its seeds (FuzzFitAgreesWithJSONSchema and FuzzToValidUTF8 were);
// and every entry is a target still defined in its package, as go test
// -fuzz given a name that matches none passes having fuzzed nothing.
func TestCIFuzzesEveryTarget(t *testing.T) {
	root := repoRoot()
	defined := map[string]bool{} // "connector/singer:FuzzX"
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, m := range fuzzTarget.FindAllStringSubmatch(string(b), -1) {
			defined[filepath.ToSlash(rel)+":"+m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range ciFuzzEntry.FindAllStringSubmatch(string(ci), -1) {
		target := m[1] + ":" + m[2]
		if listed[target] {
			t.Errorf(".ci/run lists %s twice", target)
		}
		listed[target] = true
		if !defined[target] {
			t.Errorf(".ci/run fuzzes %s, which no _test.go of ./%s defines (renamed or removed?): go test -fuzz passes having fuzzed nothing", target, m[1])
		}
		if n, err := strconv.Atoi(m[3]); err != nil || n <= 0 {
			t.Errorf(".ci/run gives %s a budget of %s executions", target, m[3])
		}
	}
	var missing []string
	for target := range defined {
		if !listed[target] {
			missing = append(missing, target)
		}
	}
	sort.Strings(missing)
	for _, target := range missing {
		t.Errorf("%s is not in .ci/run's fuzz list: add it as %s:COUNT, a count of executions of about 5 s on a 2-core machine", target, target)
	}
	// Guard the guard: the repository has a score of targets.
	if len(defined) < 20 || len(listed) < 20 {
		t.Errorf("only %d fuzz targets found in the repository, %d in .ci/run", len(defined), len(listed))
	}
}
