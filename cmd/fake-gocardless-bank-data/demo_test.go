package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDemoCommand runs `fake-gocardless-bank-data demo`:
// source-gocardless-bank-data's runtime against the fake, no credentials,
// three reads, one account's quota spent in the second and caught up in
// the third.
func TestDemoCommand(t *testing.T) {
	bin := st.Build(t, "fake-gocardless-bank-data")
	dir := t.TempDir()
	out := st.RunPlain(t, bin, "demo", "--out", dir)
	for _, want := range []string{"transactions", "pending_transactions", "WARN", "daily limit", "new rows of the accounts with quota", "after the reset"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISSING") {
		t.Fatalf("demo missed rows:\n%s", out)
	}
	for _, f := range []string{"config.json", "catalog.json", "state.json", "run1.jsonl", "run2.jsonl", "run3.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo did not write %s", f)
		}
	}
}
