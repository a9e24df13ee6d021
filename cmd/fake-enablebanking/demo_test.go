package main

import (
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDemo runs `fake-enablebanking demo` (source-enablebanking's runtime) as a user would: no
// credentials, three reads against the embedded fake, every check ok.
func TestDemo(t *testing.T) {
	bin := st.Build(t, "fake-enablebanking")
	out := st.RunPlain(t, bin, "demo", "--out", t.TempDir(), "--sessions", "1", "--transactions", "20")
	// The banner names the command that ran: the connector binary has no
	// demo command to run any more.
	if !strings.HasPrefix(out, "fake-enablebanking demo: a fake Enable Banking API on ") {
		t.Errorf("demo's banner does not name fake-enablebanking demo:\n%s", out)
	}
	if strings.Contains(out, "MISSING") || strings.Count(out, "  ok") != 2 {
		t.Fatalf("demo output:\n%s", out)
	}
	// The way on for real accounts names connect, which makes the sessions
	// a new user does not have yet.
	for _, want := range []string{"1. First sync", "2. Next sync", "3. A day later", "WARN", "daily limit", "source-enablebanking connect --config CONFIG --country CC"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoUsageErrors: a flag or argument the demo does not take exits 2
// with the command and the flag named on stderr, then the demo's usage, as
// the connector binaries report theirs (pflag's ContinueOnError error was
// dropped, leaving a bare exit 2); --help prints the usage on stdout.
func TestDemoUsageErrors(t *testing.T) {
	bin := st.Build(t, "fake-enablebanking")
	st.CheckUsage(t, bin, []string{"demo", "--out", t.TempDir()}, "--read-flag", []st.Usage{
		{Args: []string{"--bogus"}, Code: 2, Want: "fake-enablebanking demo: unknown flag: --bogus\nUsage: fake-enablebanking demo [flags]", From: "stderr"},
		{Args: []string{"extra"}, Code: 2, Want: `fake-enablebanking demo: unexpected argument "extra"`, From: "stderr"},
		// A value the demo refuses once parsed is as bad a flag.
		{Args: []string{"--sessions", "0"}, Code: 2, Want: "fake-enablebanking demo: --sessions 0, --transactions 60: both must be at least 1\nUsage: fake-enablebanking demo [flags]", From: "stderr"},
		{Args: []string{"--help"}, Code: 0, Want: "Usage: fake-enablebanking demo [flags]", From: "stdout"},
	})
}
