package main

import (
	"os"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDemoCommand runs `fake-pluggy demo` as the README says: source-pluggy's
// runtime against the fake, no credentials, every change of the second sync
// caught, the files a user would pass by hand written.
func TestDemoCommand(t *testing.T) {
	bin := st.Build(t, "fake-pluggy")
	dir := t.TempDir()
	r := st.RunPlain(t, bin, "demo", "--out", dir)
	for _, want := range []string{"transactions", "new rows", "back-dated rows", "re-posted pending rows", "rows updated in place", "source-pluggy connect --config"} {
		if !strings.Contains(r, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "MISSING") {
		t.Fatalf("demo's second sync missed rows:\n%s", r)
	}
	for _, f := range []string{"config.json", "catalog.json", "state.json", "run1.jsonl", "run2.jsonl"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Errorf("demo did not write %s", f)
		}
	}
}
