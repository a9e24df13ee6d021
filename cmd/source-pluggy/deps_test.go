package main

import (
	"os/exec"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPackageLayering: providers do not link their own fakes (the demos,
// which do, live in the commands), and the HTTP client knows no protocol
// (it classifies failures; the runtime maps them).
func TestPackageLayering(t *testing.T) {
	for pkg, banned := range map[string][]string{
		"./connector/pluggy":        {"/connector/pluggy/fake"},
		"./connector/gocardless":    {"/connector/gocardless/fake"},
		"./connector/enablebanking": {"/connector/enablebanking/fake"},
		"./connector/httpclient":    {"/connector/protocol", "/connector/source"},
	} {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Dir = st.RepoRoot()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if strings.HasSuffix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
