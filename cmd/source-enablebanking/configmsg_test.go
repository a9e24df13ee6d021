package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConfigMessagesNameTheFix: through the binary, a config mistake is
// told in words with its fix: a date in another form is shown in
// YYYY-MM-DD, an id that is no UUID says what a UUID is and where the id
// comes from (never Go's time layout or the regular expression), and a
// missing required field names the near miss the config holds instead.
func TestConfigMessagesNameTheFix(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	for _, c := range []struct {
		name    string
		over    map[string]any
		mention []string
	}{
		{"date with slashes", map[string]any{"start_date": "2026/01/01"},
			[]string{`config.start_date: '2026/01/01' is not a date: write it as YYYY-MM-DD: 2026-01-01`}},
		{"session id not a uuid", map[string]any{"session_ids": []string{"not-a-uuid"}},
			[]string{`config.session_ids.0: 'not-a-uuid' is not a UUID: give the id as 32 hex digits in groups of 8-4-4-4-12`, "source-enablebanking connect prints them"}},
		// A first check, before connect made a session: the message says
		// where the ids come from.
		{"no session_ids yet", map[string]any{"session_ids": nil},
			[]string{`config.session_ids: is required but missing: give the ids (UUIDs) of the authorised sessions whose accounts are read, as source-enablebanking connect prints them`}},
		{"session_id for session_ids", map[string]any{"session_ids": nil, "session_id": e.fake.SessionIDs()},
			[]string{`config.session_ids: is required but missing; the config has "session_id": did you mean session_ids?`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, _ := st.CheckRun(t, e.bin, e.config(c.over))
			if cs.Status != protocol.StatusFailed {
				t.Fatalf("check = %s %q, want FAILED", cs.Status, cs.Message)
			}
			for _, m := range c.mention {
				if !strings.Contains(cs.Message, m) {
					t.Errorf("check message %q does not say %q", cs.Message, m)
				}
			}
			for _, leak := range []string{"2006-01-02", "parsing time", "pattern", "[0-9a-fA-F]"} {
				if strings.Contains(cs.Message, leak) {
					t.Errorf("check message %q shows %q", cs.Message, leak)
				}
			}
		})
	}
}

// TestUnknownKeyWarningNamesTheField: read warns of a misspelt optional
// field and names the field it most likely is.
func TestUnknownKeyWarningNamesTheField(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	r := e.run(e.catalog(false, "sessions"), map[string]any{"start_dat": "2025-01-01"})
	st.Succeeded(t, r)
	if !r.Warned(`config field "start_dat" is not a setting of this connector and is ignored (did you mean start_date?)`, "known fields:") {
		t.Errorf("no WARN naming start_date for start_dat:\n%s", st.Tail(r.Stdout))
	}
}

// TestDiscoverOutputAsCatalog: discover's output passed to read as its
// --catalog is a config error saying what the file is and how to make a
// configured catalog, not "streams is empty".
func TestDiscoverOutputAsCatalog(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	d := st.Run(t, e.bin, "discover", "--config", e.config(nil))
	if d.Code != 0 {
		t.Fatalf("discover exited %d\n%s", d.Code, d.Stderr)
	}
	disc := st.WriteFile(t, "disc.json", d.Stdout)
	r := st.RunChecked(t, e.bin, e.discover(), "read", "--config", e.config(nil), "--catalog", disc)
	traces := r.ErrorTraces()
	if r.Code != 1 || len(traces) != 1 || traces[0].FailureType != protocol.ConfigError {
		t.Fatalf("read exited %d with %v; want exit 1 and one config_error", r.Code, traces)
	}
	msg := traces[0].Message
	for _, m := range []string{
		"catalog " + disc + " is the output of discover (a CATALOG message), not a configured catalog",
		`{"stream": {...}, "sync_mode": "full_refresh" or "incremental", "destination_sync_mode": "overwrite" or "append_dedup"}`,
		"catalogs/",
		"jq '{streams: [.catalog.streams[] |",
	} {
		if !strings.Contains(msg, m) {
			t.Errorf("the error %q does not say %q", msg, m)
		}
	}
	if strings.Contains(msg, "is empty") || len(r.Records()) != 0 {
		t.Errorf("read took discover's output for an empty catalog or read records: %s", msg)
	}
}
