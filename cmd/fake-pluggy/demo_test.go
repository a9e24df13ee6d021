package main

import (
	"os"
	"path/filepath"
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
	// The banner names the command that ran: the connector binary has no
	// demo command to run any more.
	if !strings.HasPrefix(r, "fake-pluggy demo: a fake Pluggy API on ") {
		t.Errorf("demo's banner does not name fake-pluggy demo:\n%s", r)
	}
	if banner, _, _ := strings.Cut(r, "\n"); !strings.Contains(banner, "serves 2 items (one OUTDATED)") {
		t.Errorf("demo's banner does not say it serves 2 items, one OUTDATED: %s", banner)
	}
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

// TestDemoUsageErrors: a flag or argument the demo does not take exits 2
// with the command and the flag named on stderr, then the demo's usage, as
// the connector binaries report theirs (pflag's ContinueOnError error was
// dropped, leaving a bare exit 2); --help prints the usage on stdout.
func TestDemoUsageErrors(t *testing.T) {
	bin := st.Build(t, "fake-pluggy")
	st.CheckUsage(t, bin, []string{"demo", "--out", t.TempDir()}, "--read-flag", []st.Usage{
		{Args: []string{"--bogus"}, Code: 2, Want: "fake-pluggy demo: unknown flag: --bogus\nUsage: fake-pluggy demo [flags]", From: "stderr"},
		{Args: []string{"--items", "many"}, Code: 2, Want: `fake-pluggy demo: invalid argument "many" for "--items" flag`, From: "stderr"},
		{Args: []string{"extra"}, Code: 2, Want: `fake-pluggy demo: unexpected argument "extra"`, From: "stderr"},
		// A value the demo refuses once parsed is as bad a flag: the fake
		// read 0 as its default, and the demo served 2 items under a
		// banner saying 0.
		{Args: []string{"--items", "0"}, Code: 2, Want: "fake-pluggy demo: --items 0, --transactions 120: both must be at least 1\nUsage: fake-pluggy demo [flags]", From: "stderr"},
		{Args: []string{"--transactions", "-1"}, Code: 2, Want: "fake-pluggy demo: --items 2, --transactions -1: both must be at least 1\nUsage: fake-pluggy demo [flags]", From: "stderr"},
		{Args: []string{"--help"}, Code: 0, Want: "Usage: fake-pluggy demo [flags]", From: "stdout"},
	})
}

// TestDemoReadFlag: the read command lines the demo prints carry the
// --read-flag values, as the reads ran them; a value the read refuses is
// the read failing (exit 1), the read's usage error and the demo's pointer
// to --read-flag on stderr, as docs/commands.md says.
func TestDemoReadFlag(t *testing.T) {
	bin := st.Build(t, "fake-pluggy")
	dir := t.TempDir()
	pq := filepath.Join(dir, "pq")
	out := st.RunPlain(t, bin, "demo", "--out", dir, "--items", "1", "--transactions", "10", "--read-flag=--parquet-dir="+pq)
	var reads int
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "source-pluggy read ") {
			reads++
			if !strings.Contains(line, " --parquet-dir="+pq+" > ") {
				t.Errorf("printed read command lacks the --read-flag it ran with: %s", line)
			}
		}
	}
	if reads != 2 {
		t.Errorf("demo printed %d read commands, want 2:\n%s", reads, out)
	}
	if _, err := os.Stat(filepath.Join(pq, "transactions")); err != nil {
		t.Errorf("the reads did not get --parquet-dir: %v", err)
	}

	stdout, stderr, code := st.Exec(t, bin, "demo", "--out", t.TempDir(), "--items", "1", "--transactions", "10", "--read-flag=--bogus")
	for _, want := range []string{"source-pluggy read: unknown flag: --bogus", "fake-pluggy demo: read 1 exited 2", `check the --read-flag values ["--bogus"]`} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("demo --read-flag=--bogus: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 1 || !strings.Contains(string(stdout), "source-pluggy read --config ") || !strings.Contains(string(stdout), " --bogus > ") {
		t.Errorf("demo --read-flag=--bogus: exit %d, want 1, and the read command with --bogus\nstdout:\n%s", code, stdout)
	}
}

// TestDemoOfOneItem: with --items 1 the banner names no OUTDATED item, as
// the fake has none (the second item is the OUTDATED one), and the demo
// still catches every change.
func TestDemoOfOneItem(t *testing.T) {
	bin := st.Build(t, "fake-pluggy")
	r := st.RunPlain(t, bin, "demo", "--out", t.TempDir(), "--items", "1", "--transactions", "60")
	if banner, _, _ := strings.Cut(r, "\n"); !strings.Contains(banner, "serves 1 item;") {
		t.Errorf("demo's banner, of one UPDATED item: %s", banner)
	}
	if strings.Contains(r, "MISSING") || strings.Contains(r, "status=OUTDATED") {
		t.Fatalf("demo output:\n%s", r)
	}
}
