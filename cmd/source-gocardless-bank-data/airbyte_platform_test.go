package main

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestAirbytePlatformSync runs two syncs the way the Airbyte platform runs
// a source: its command line through sh -c and $AIRBYTE_ENTRYPOINT, its
// configured catalog (every stream, with generation ids, nulls and the
// platform's overwrite_dedup) and, the second time, the input state it
// keeps (each stream's last STATE in an array). Each must succeed with
// every stream COMPLETE after a STATE, and the second read only what is new.
func TestAirbytePlatformSync(t *testing.T) {
	e := newEnv(t, fake.Options{})
	disc := e.discover()
	cat := st.PlatformCatalog(t, disc)
	first := st.PlatformRead(t, e.bin, e.config(nil), cat, "")
	st.CheckPlatformRead(t, first, disc)
	e.noSecrets(first)
	second := st.PlatformRead(t, e.bin, e.config(nil), cat, st.PlatformState(t, first))
	st.CheckPlatformRead(t, second, disc)
	if n, all := len(second.Records()["transactions"]), len(first.Records()["transactions"]); n >= all {
		t.Errorf("the second sync read %d transactions of %d: the platform's state was not resumed from", n, all)
	}
	if second.Warned("no state for") {
		t.Error("the second sync warned of a stream without state, though the platform passed every stream's")
	}
}
