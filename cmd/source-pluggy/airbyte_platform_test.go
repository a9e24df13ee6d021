package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestAirbytePlatformSync runs two syncs the way the Airbyte platform runs
// a source: its command line through sh -c and $AIRBYTE_ENTRYPOINT, its
// configured catalog (every stream, with generation ids, nulls and the
// platform's overwrite_dedup) and, the second time, the input state it
// keeps (each stream's last STATE in an array). Each must succeed with
// every stream COMPLETE after a STATE, and the second read only what is new.
func TestAirbytePlatformSync(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 15})
	disc := e.discover()
	first, second, cat := st.PlatformSyncs(t, e.bin, e.config(nil), disc)
	e.noSecrets(first)

	// A sync that fails (the keys revoked): exit 1 through the platform's
	// shell, every stream INCOMPLETE, a closing config_error, and no
	// incremental stream's state taken back: the platform keeps the last
	// one each stream emits, and the next sync must resume where the second
	// ended.
	state := st.PlatformState(t, second)
	failed := st.PlatformRead(t, e.bin, e.config(map[string]any{"client_secret": "revoked"}), cat, state)
	st.ValidateProtocol(t, failed)
	errs := failed.ErrorTraces()
	if failed.Code != 1 || len(errs) == 0 || errs[len(errs)-1].FailureType != protocol.ConfigError {
		t.Fatalf("a sync with revoked keys exited %d with errors %+v; want exit 1 ending with a config_error", failed.Code, errs)
	}
	for _, s := range disc.Streams {
		if seq := failed.Statuses()[s.Name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Errorf("stream %s ended %v, want INCOMPLETE", s.Name, seq)
		}
	}
	before := second.FinalStates()
	for name, after := range failed.FinalStates() {
		if string(after) != string(before[name]) {
			t.Errorf("the failed sync moved stream %s's state from %s to %s", name, before[name], after)
		}
	}
}

// TestReauthUnderAirbyte: where the Airbyte platform runs check and read
// (WORKER_JOB_ID, which its launcher sets in every connector container),
// the messages sending an item's user to `connect --config … --update`
// also say what to do there, since that --config is a file the platform
// wrote for one run, in a container with no browser: run connect
// elsewhere on the source's settings; the item keeps its id. check says it
// once for all its items, the read's WARN in its airbyte attribute, a
// refused update's WARN in its error. They named only the platform's file.
// Run by hand, they say what they said.
func TestReauthUnderAirbyte(t *testing.T) {
	const fix = "run connect on a computer with a browser, with --config a file holding the source's settings (client_id and client_secret, copied from the source in Airbyte), not the file Airbyte wrote for this run; the item keeps its id"
	const note = "under Airbyte, " + fix
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 3})
	items := e.fake.ItemIDs()
	for _, id := range items {
		e.fake.SetItemStatus(id, "LOGIN_ERROR", "")
	}
	e.fake.SetPatchRefusal(items[0], fake.TooManyConsecutiveErrors)
	cfg := e.config(map[string]any{"trigger_item_update": true, "item_update_poll_seconds": 0.05})
	cat := e.catalog(false, "items")
	check := func() string {
		t.Helper()
		r := st.Run(t, e.bin, "check", "--config", cfg)
		st.ValidateProtocol(t, r)
		e.noSecrets(r)
		if len(r.Messages) != 1 || r.Messages[0].ConnectionStatus == nil || r.Messages[0].ConnectionStatus.Status != protocol.StatusSucceeded {
			t.Fatalf("check: %s", r.Stdout)
		}
		msg := r.Messages[0].ConnectionStatus.Message
		for _, id := range items {
			if !strings.Contains(msg, "connect --config "+cfg+" --update "+id) {
				t.Errorf("check does not name the command for %s: %s", id, msg)
			}
		}
		return msg
	}

	t.Setenv("WORKER_JOB_ID", "")
	if msg := check(); strings.Contains(msg, "under Airbyte") {
		t.Errorf("check by hand speaks of Airbyte: %s", msg)
	}
	t.Setenv("WORKER_JOB_ID", "4711") // the launcher sets it in check's container too
	if msg := check(); strings.Count(msg, note) != 1 || !strings.HasSuffix(msg, `(docs/connect.md, "Re-authenticate an item")`) {
		t.Errorf("check under Airbyte: want the Airbyte note once, at the end, for both items: %s", msg)
	}
	r := st.PlatformRead(t, e.bin, cfg, cat, "")
	st.ValidateProtocol(t, r)
	e.noSecrets(r)
	if w := logs(r, protocol.LevelWarn, items[0], "LOGIN_ERROR", "--update "+items[0], `airbyte="`+fix); len(w) != 1 {
		t.Errorf("want one WARN of the LOGIN_ERROR item with the Airbyte fix; WARNs: %q", logs(r, protocol.LevelWarn))
	}
	if w := logs(r, protocol.LevelWarn, "cannot update the item", items[0], fake.TooManyConsecutiveErrors, "--update "+items[0], note); len(w) != 1 {
		t.Errorf("want one WARN of the refused update with the Airbyte note; WARNs: %q", logs(r, protocol.LevelWarn))
	}

	t.Setenv("WORKER_JOB_ID", "")
	hand := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", cat)
	if len(logs(hand, protocol.LevelWarn, items[0], "LOGIN_ERROR", "--update "+items[0])) != 1 || strings.Contains(string(hand.Stdout), "under Airbyte") || strings.Contains(string(hand.Stdout), "airbyte=") {
		t.Errorf("a read by hand: want the WARN naming the command, and nothing of Airbyte; WARNs: %q", logs(hand, protocol.LevelWarn))
	}
}
