package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestNoStates: read --no-states prints no STATE, so that a cron job's log
// holds its LOG lines and not the whole state at every checkpoint; the
// state is kept by --state-file or the database, and the next run resumes
// from it. Without either, the flag is a config_error before anything is
// read: every run would otherwise be a first sync.
func TestNoStates(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 300})
	cat := e.catalog(true, "accounts", "transactions")

	bare := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--no-states")
	traces := bare.ErrorTraces()
	if bare.Code != 1 || len(traces) != 1 || traces[0].FailureType != protocol.ConfigError ||
		!strings.Contains(traces[0].Message, "--no-states needs --state-file PATH or --postgres") {
		t.Errorf("--no-states alone: exit %d, %v; want one config_error naming --state-file and --postgres", bare.Code, traces)
	}
	if n := len(bare.OfType(protocol.TypeRecord)); n != 0 {
		t.Errorf("--no-states alone printed %d records before failing", n)
	}

	path := t.TempDir() + "/state.json"
	first := quietRead(t, e, cat, "--no-states", "--state-file", path, "--parquet-dir", t.TempDir(), "--no-records")
	if n := len(first.OfType(protocol.TypeState)); n != 0 {
		t.Errorf("--no-states printed %d STATE messages", n)
	}
	if n := len(first.OfType(protocol.TypeLog)); n == 0 {
		t.Error("--no-states printed no LOG either: the log is what stays")
	}
	states := st.StreamStates(t, path)
	for _, name := range []string{"accounts", "transactions"} {
		if len(states[name]) == 0 {
			t.Errorf("the state file has no state for %s", name)
		}
	}
	added := e.fake.AddNew(3)
	checkResumed(t, e, quietRead(t, e, cat, "--no-states", "--state-file", path), added)

	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		r1 := quietRead(t, e, cat, "--no-states", "--postgres", url, "--no-records")
		if n := len(r1.OfType(protocol.TypeState)); n != 0 {
			t.Errorf("--no-states --postgres printed %d STATE messages", n)
		}
		added := e.fake.AddNew(2)
		r2 := quietRead(t, e, cat, "--no-states", "--postgres", url)
		if !strings.Contains(string(r2.Stdout), "resuming from the states the sink stored") {
			t.Error("the second run did not resume from the states the database kept")
		}
		checkResumed(t, e, r2, added)
	})
}

// quietRead is env.read for a run without STATEs, which env.read's
// lifecycle checks require.
func quietRead(t *testing.T, e *env, catalog string, extra ...string) *st.Result {
	t.Helper()
	r := st.Run(t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)...)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v\n%s", r.Code, r.ErrorTraces(), r.Stderr)
	}
	st.ValidateProtocol(t, r)
	e.noSecrets(r)
	return r
}
