package main

import (
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
