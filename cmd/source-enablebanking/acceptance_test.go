package main

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestAcceptanceReadsInEveryShape runs what Airbyte's connector acceptance
// tests check of reads against the fake serving Enable Banking's answers in
// each shape it knows (docs/real-world.md): every stream read in full
// refresh twice and incrementally twice, the second from the first's state.
// Each read passes e.read (every line valid against the protocol, every
// record against its stream's discovered schema with strict integers and a
// primary key whose parts are all there, every stream STARTED … COMPLETE);
// the two full refreshes hold the same records, the second emitted after
// the first; the resumed read emits again only records it must, as they
// were. Two fields are the time of the read: a balance's retrieved_at and,
// in full refresh, which fetches details each run, an account's
// details_fetched_at. The accounts and balances streams are snapshots
// whose incremental state keeps the bank's daily-limit books: every run
// emits them (enablebanking.md), the same but for those times.
func TestAcceptanceReadsInEveryShape(t *testing.T) {
	volatile := map[string][]string{"accounts": {"details_fetched_at"}, "balances": {"retrieved_at"}}
	for _, c := range []struct {
		name string
		o    fake.Options
	}{
		{"documented", fake.Options{}},
		{"real-world", fake.Options{LastPageKey: "absent", PendingStatuses: []string{"PDNG", "HOLD", "SCHD", "CNCL", "RJCT", "OTHR", "XXXX"}, Order: "shuffled", PageSize: 7}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.DailyLimit = 100
			e := newEnv(t, c.o)
			e.cfg["daily_limit"] = 100
			disc := e.discover()
			full := e.catalog(false)
			st.CheckFullRefreshRepeatable(t, e.read(full), e.read(full), disc, volatile)

			incremental := e.catalog(true)
			first := e.read(incremental)
			second := e.read(incremental, "--state", first.StateFile(t))
			again := st.CheckReReadIdentical(t, first, second, disc, volatile)
			if n, all := len(second.Records()["transactions"]), len(first.Records()["transactions"]); n >= all || again["transactions"] != n {
				t.Errorf("transactions: the resumed read emitted %d records (%d of them read before) after %d", n, again["transactions"], all)
			}
		})
	}
}

// TestAcceptanceTraceOnFailure: a read of a stream that does not exist, in
// sync modes that do not exist, says why in an ERROR trace, as the
// acceptance tests' basic read checks.
func TestAcceptanceTraceOnFailure(t *testing.T) {
	e := newEnv(t, fake.Options{})
	st.CheckTraceOnFailure(t, e.bin, e.config(nil))
}
