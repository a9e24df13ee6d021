package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPackageLayering: no product binary links a fake API or the demo
// scaffolding (the demos run from the fakes' binaries: `go run
// ./cmd/fake-pluggy demo`), providers do not link their own fakes, and the
// HTTP client knows no protocol (it classifies failures; the runtime maps
// them).
func TestPackageLayering(t *testing.T) {
	fakes := []string{"/fake", "/connector/fakeserver", "/connector/demo"}
	banned := map[string][]string{
		"./connector/pluggy":        {"/connector/pluggy/fake"},
		"./connector/gocardless":    {"/connector/gocardless/fake"},
		"./connector/enablebanking": {"/connector/enablebanking/fake"},
		"./connector/httpclient":    {"/connector/protocol", "/connector/source"},
	}
	binaries, err := filepath.Glob(filepath.Join(st.RepoRoot(), "cmd", "source-*"))
	if err != nil || len(binaries) < 3 {
		t.Fatalf("cmd/source-*: %v, %v", binaries, err)
	}
	for _, dir := range binaries {
		banned["./cmd/"+filepath.Base(dir)] = fakes
	}
	for pkg, banned := range banned {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Dir = st.RepoRoot()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if strings.HasSuffix(dep, b) || strings.Contains(dep, b+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
