package main

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
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
	first, _, _ := st.PlatformSyncs(t, e.bin, e.config(nil), e.discover())
	e.noSecrets(first)
}
