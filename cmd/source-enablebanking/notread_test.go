package main

import (
	"os"
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
	if !r.Warned("the stream is not read: config include_pending is false", "remove the stream from the catalog") {
		t.Errorf("no WARN that pending_transactions is not read:\n%s", r.Stdout)
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

	tap := filepath.Join(t.TempDir(), "tap-enablebanking")
	st.Must(t, os.Symlink(e.bin, tap), "symlink")
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
