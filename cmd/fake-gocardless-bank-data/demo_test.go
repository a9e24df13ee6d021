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
	// The banner names the command that ran: the connector binary has no
	// demo command to run any more.
	if !strings.HasPrefix(out, "fake-gocardless-bank-data demo: a fake GoCardless API on ") {
		t.Errorf("demo's banner does not name fake-gocardless-bank-data demo:\n%s", out)
	}
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

// TestDemoUsageErrors: a flag or argument the demo does not take exits 2
// with the command and the flag named on stderr, then the demo's usage, as
// the connector binaries report theirs (pflag's ContinueOnError error was
// dropped, leaving a bare exit 2); --help prints the usage on stdout.
func TestDemoUsageErrors(t *testing.T) {
	bin := st.Build(t, "fake-gocardless-bank-data")
	st.CheckUsage(t, bin, []string{"demo", "--out", t.TempDir()}, "--read-flag", []st.Usage{
		{Args: []string{"--bogus"}, Code: 2, Want: "fake-gocardless-bank-data demo: unknown flag: --bogus\nUsage: fake-gocardless-bank-data demo [flags]", From: "stderr"},
		{Args: []string{"extra"}, Code: 2, Want: `fake-gocardless-bank-data demo: unexpected argument "extra"`, From: "stderr"},
		// A value the demo refuses once parsed is as bad a flag: the fake
		// read 0 as its default, and the demo served 2 requisitions under
		// a banner saying 0.
		{Args: []string{"--requisitions", "0"}, Code: 2, Want: "fake-gocardless-bank-data demo: --requisitions 0, --transactions 80: both must be at least 1\nUsage: fake-gocardless-bank-data demo [flags]", From: "stderr"},
		{Args: []string{"--transactions", "0"}, Code: 2, Want: "fake-gocardless-bank-data demo: --requisitions 2, --transactions 0: both must be at least 1\nUsage: fake-gocardless-bank-data demo [flags]", From: "stderr"},
		{Args: []string{"--help"}, Code: 0, Want: "Usage: fake-gocardless-bank-data demo [flags]", From: "stdout"},
	})
}
