package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// grepLines keeps the lines of out that contain pattern, as grep does.
func grepLines(out []byte, pattern string) []byte {
	var kept []byte
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if bytes.Contains(line, []byte(pattern)) {
			kept = append(kept, line...)
		}
	}
	return kept
}

// TestReadResumesFromItsSavedOutput: a read's saved stdout is a state, in
// the forms users keep it: `grep '"STATE"' out.jsonl > states.jsonl` (every
// stream's STATE lines, a stream's last one holding), the whole stdout, and
// the Singer mode's last STATE line (a connection moved back from Meltano).
// Each second read resumes, reading a few of the first read's
// transactions, and says nothing of a missing state; a state missing one
// stream's lines names it in a WARN.
func TestReadResumesFromItsSavedOutput(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 50, DailyLimit: 100})
	cat := e.catalog(true)
	r1 := e.read(cat)
	first := len(r1.Records()["transactions"])
	if first < 150 {
		t.Fatalf("first read: %d transactions, want the fake's 4 accounts × 50", first)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		st.Must(t, os.WriteFile(p, b, 0o600), name)
		return p
	}
	states := grepLines(r1.Stdout, `"STATE"`)
	if n := bytes.Count(states, []byte("\n")); n < 5 {
		t.Fatalf("the first read printed %d STATE lines", n)
	}

	tap := filepath.Join(dir, "tap-enablebanking")
	st.Must(t, os.Symlink(e.bin, tap), "symlink")
	out, stderr, code := st.Exec(t, tap, "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("tap exited %d: %s", code, stderr)
	}
	singer := grepLines(out, `{"type":"STATE"`)
	singer = singer[bytes.LastIndex(singer[:len(singer)-1], []byte("\n"))+1:]

	for name, path := range map[string]string{
		"grep STATE lines":         write("states.jsonl", states),
		"whole stdout":             write("out.jsonl", r1.Stdout),
		"Singer's last STATE line": write("singer.json", singer),
	} {
		t.Run(name, func(t *testing.T) {
			r := e.read(cat, "--state", path)
			t.Logf("%d transactions read (the first read: %d)", len(r.Records()["transactions"]), first)
			if n := len(r.Records()["transactions"]); n > first/4 {
				t.Errorf("read %d transactions of the first read's %d: it did not resume", n, first)
			}
			for _, m := range r.OfType(protocol.TypeLog) {
				if bytes.Contains([]byte(m.Log.Message), []byte("no state for")) {
					t.Errorf("a complete state logged %s %q", m.Log.Level, m.Log.Message)
				}
			}
		})
	}

	// The last STATE line alone is often a full-refresh stream's end
	// marker: every incremental stream starts over, and a WARN says so.
	t.Run("the last STATE line alone", func(t *testing.T) {
		lines := bytes.SplitAfter(bytes.TrimSuffix(states, []byte("\n")), []byte("\n"))
		last := lines[len(lines)-1]
		if !bytes.Contains(last, []byte("__ab_no_cursor_state_message")) {
			t.Skipf("the first read's last STATE is not a full-refresh marker: %s", last)
		}
		r := e.read(cat, "--state", write("last.json", last))
		if !r.Warned("holds no incremental stream's state", "pass the last STATE message of every stream") {
			t.Errorf("no WARN that the state passed holds no incremental stream's:\n%s", r.Stdout)
		}
	})

	t.Run("one stream's lines missing", func(t *testing.T) {
		var kept []byte
		for _, line := range bytes.SplitAfter(states, []byte("\n")) {
			if !bytes.Contains(line, []byte(`"name":"balances"`)) {
				kept = append(kept, line...)
			}
		}
		r := e.read(cat, "--state", write("partial.jsonl", kept))
		if !r.Warned(`no state for stream "balances"`, "read from start_date") {
			t.Error(`no WARN naming "balances" as read from start_date`)
		}
		if n := len(r.Records()["transactions"]); n > first/4 {
			t.Errorf("read %d transactions of the first read's %d: it did not resume", n, first)
		}
	})
}
