package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestStateFileOneReadAtATime: a second read with the --state-file of a
// read still running exits 1 at once, before any record or state, with a
// transient_error naming the file, the read holding it and the fix; the
// file is afterwards the first read's alone. Both used to run in full and
// rewrite it in turn: the second took the first's half-written state, and
// the last to end left a state for the other's data.
func TestStateFileOneReadAtATime(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 1000, PageSize: 50, Latency: 40 * time.Millisecond})
	cat := e.catalog(true, "accounts", "transactions")
	path := filepath.Join(t.TempDir(), "state.json")
	first := e.startRead(cat, "--state-file", path, "--parquet-dir", t.TempDir())
	first.WaitFor(t, killPoint{States: 1})

	select {
	case <-first.Done():
		t.Fatal("the first read ended before the second started: make the fake slower")
	default:
	}
	second := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--state-file", path, "--parquet-dir", t.TempDir())
	if second.Code != 1 {
		t.Errorf("the second read, started while the first held %s, exited %d, want 1; it printed %d records",
			path, second.Code, len(second.OfType(protocol.TypeRecord)))
	}
	if n := len(second.OfType(protocol.TypeRecord)) + len(second.OfType(protocol.TypeState)); n != 0 {
		t.Errorf("the second read printed %d RECORD/STATE messages, want none", n)
	}
	traces := second.ErrorTraces()
	if len(traces) != 1 {
		t.Fatalf("the second read gave %d ERROR traces, want 1\n%s", len(traces), second.Stdout)
	}
	for _, want := range []string{
		"--state-file " + path + " is in use by another read",
		fmt.Sprintf("pid %d, started ", first.Pid()),
		"lock file " + path + ".lock",
		"wait for that read to end, or give this one another --state-file",
	} {
		if !strings.Contains(traces[0].Message, want) {
			t.Errorf("the error does not say %q:\n%s", want, traces[0].Message)
		}
	}
	if traces[0].FailureType != protocol.TransientError {
		t.Errorf("failure_type %s, want transient_error (the other read ends)", traces[0].FailureType)
	}

	out := first.Wait(t)
	if first.Code() != 0 {
		t.Fatalf("the first read exited %d", first.Code())
	}
	want := st.Parse(t, out).FinalStates()
	got := st.StreamStates(t, path)
	if len(got) != len(want) {
		t.Errorf("the state file holds %d streams, the first read ended with %d", len(got), len(want))
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("stream %s: the state file holds %s, the first read's last state is %s", name, got[name], w)
		}
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file after the run: %v (mode %v), want it kept, 0600", err, fi)
	}
	// Once the first read ended, the same command runs.
	if r := e.read(cat, "--state-file", path); r.Code != 0 {
		t.Errorf("a read after the first ended exited %d", r.Code)
	}
}
