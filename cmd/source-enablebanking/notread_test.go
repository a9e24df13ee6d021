package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/singer"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPendingOffKeepsWhatTheSinksHold: pending_transactions selected while
// include_pending is false (the default) is a stream the config turns
// off, not an empty snapshot. The run ends it COMPLETE with a WARN saying
// so, and exits 0; PostgreSQL keeps the pending rows it holds, Parquet
// gets no empty snapshot file, and the Singer tap sends no
// ACTIVATE_VERSION, which would have the target drop them. It used to be
// an INFO, and both sinks replaced the snapshot with nothing.
func TestPendingOffKeepsWhatTheSinksHold(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	url, dir := pgtest.DB(t), t.TempDir()
	cat := e.catalog(true)
	if r := e.read(cat, "--postgres", url, "--parquet-dir", dir); len(r.Records()["pending_transactions"]) == 0 {
		t.Fatal("the fake served no pending row")
	}
	conn := pgtest.Connect(t, url)
	const count = `SELECT count(*) FROM enablebanking.pending_transactions`
	before := pgtest.Rows(t, conn, count)[0]
	files := func() []string {
		f, _ := filepath.Glob(filepath.Join(dir, "pending_transactions", "*.parquet"))
		return f
	}
	filesBefore := files()

	off := map[string]any{"include_pending": false}
	r := e.run(cat, off, "--postgres", url, "--parquet-dir", dir)
	st.Succeeded(t, r)
	if !r.Warned("the stream is not read: config include_pending is false", "--parquet-dir and --postgres keep what they hold for it", "remove the stream from the catalog") {
		t.Errorf("no WARN that pending_transactions is not read, naming both sinks:\n%s", r.Stdout)
	}
	if s := r.Statuses()["pending_transactions"]; len(s) == 0 || s[len(s)-1] != protocol.Complete {
		t.Errorf("pending_transactions statuses %v, want COMPLETE last", s)
	}
	if after := pgtest.Rows(t, conn, count)[0]; after != before || before == "0" {
		t.Errorf("PostgreSQL holds %s pending rows after the run that did not read them, %s before", after, before)
	}
	if got := files(); !slices.Equal(got, filesBefore) {
		t.Errorf("Parquet pending files %v after the run that did not read them, want %v", got, filesBefore)
	}

	tap := st.TapLink(t, e.bin, "tap-enablebanking")
	out, stderr, code := st.Exec(t, tap, "--config", e.config(map[string]any{"include_pending": false, singer.ActivateVersionSetting: true}))
	if code != 0 {
		t.Fatalf("tap exited %d: %s", code, stderr)
	}
	activated := 0
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, `"type":"ACTIVATE_VERSION"`) {
			activated++
			if strings.Contains(line, `"stream":"pending_transactions"`) {
				t.Errorf("ACTIVATE_VERSION for pending_transactions, which was not read: %s", line)
			}
		}
	}
	if activated == 0 {
		t.Error("no ACTIVATE_VERSION at all: the tap did not run its full-table streams")
	}
}

// TestPendingOffNamesOnlyTheSinksInUse: the WARN of a stream the config
// turns off speaks of the sinks the run writes to, and of none when it has
// none. It said "Parquet and PostgreSQL keep what they hold" on every run,
// a read to stdout alone (or a Singer tap's) included.
func TestPendingOffNamesOnlyTheSinksInUse(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	off := map[string]any{"include_pending": false}
	notRead := func(r *st.Result) []string {
		var out []string
		for _, m := range r.OfType(protocol.TypeLog) {
			if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "the stream is not read") {
				out = append(out, m.Log.Message)
			}
		}
		return out
	}
	for _, c := range []struct {
		name      string
		args      []string
		want, not []string
	}{
		{"stdout only", nil, nil, []string{"Parquet", "PostgreSQL", "--parquet-dir", "--postgres", "keep what"}},
		{"parquet only", []string{"--parquet-dir", t.TempDir()}, []string{"--parquet-dir keeps what it holds for it"}, []string{"PostgreSQL", "--postgres"}},
	} {
		r := e.run(e.catalog(true, "pending_transactions"), off, c.args...)
		st.Succeeded(t, r)
		warns := notRead(r)
		if len(warns) != 1 {
			t.Fatalf("%s: %d WARNs that pending_transactions is not read, want 1: %q", c.name, len(warns), warns)
		}
		for _, w := range c.want {
			if !strings.Contains(warns[0], w) {
				t.Errorf("%s: the WARN does not say %q: %s", c.name, w, warns[0])
			}
		}
		for _, n := range c.not {
			if strings.Contains(warns[0], n) {
				t.Errorf("%s: the WARN speaks of %q, which the run does not use: %s", c.name, n, warns[0])
			}
		}
	}

	tap := st.TapLink(t, e.bin, "tap-enablebanking")
	_, stderr, code := st.Exec(t, tap, "--config", e.config(off))
	if code != 0 {
		t.Fatalf("tap exited %d: %s", code, stderr)
	}
	warned := false
	for line := range strings.Lines(string(stderr)) {
		if !strings.Contains(line, "the stream is not read") {
			continue
		}
		warned = true
		for _, n := range []string{"Parquet", "PostgreSQL", "keep what"} {
			if strings.Contains(line, n) {
				t.Errorf("the tap's WARN speaks of %q, which it does not write to: %s", n, line)
			}
		}
	}
	if !warned {
		t.Errorf("the tap did not warn that pending_transactions is not read:\n%s", stderr)
	}
}
