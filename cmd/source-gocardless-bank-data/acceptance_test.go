package main

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestAcceptanceReadsInEveryShape runs what Airbyte's connector acceptance
// tests check of reads against the fake serving GoCardless's answers in
// each shape it knows (docs/real-world.md): every stream read in full
// refresh twice and incrementally twice, the second from the first's state.
// Each read passes e.read (every line valid against the protocol, every
// record against its stream's discovered schema with strict integers and a
// primary key whose parts are all there, every stream STARTED … COMPLETE);
// the two full refreshes hold the same records, the second emitted after
// the first; the resumed read emits again only records it must, as they
// were. Two fields are the time of the call, not data that can repeat: an
// account's last_accessed, which GoCardless bumps on each access, and the
// fake's intraday balance's lastChangeDateTime. Misfits is left out: its
// balanceAfterTransaction text is emitted as sent, which the schema does
// not declare (real-world.md, "Fields that arrive in more than one shape").
func TestAcceptanceReadsInEveryShape(t *testing.T) {
	volatile := map[string][]string{"accounts": {"last_accessed"}, "balances": {"lastChangeDateTime"}}
	for _, c := range []struct {
		name string
		o    fake.Options
	}{
		{"documented", fake.Options{}},
		{"real-world", fake.Options{InformationBalance: true, NoInternalIDs: true, SeparateHistoryConsent: true, HeaderStyle: fake.HeadersXPrefix}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.TransactionsPerAccount, c.o.DailyLimit = 40, 100
			e := newEnv(t, c.o)
			disc := e.discover()
			full := e.catalog(false)
			st.CheckFullRefreshRepeatable(t, e.read(full), e.read(full), disc, volatile)

			incremental := e.catalog(true)
			first := e.read(incremental)
			second := e.read(incremental, "--state", first.StateFile(t))
			again := st.CheckReReadIdentical(t, first, second, disc, volatile)
			for _, stream := range []string{"transactions", "balances"} {
				if n, all := len(second.Records()[stream]), len(first.Records()[stream]); n >= all || again[stream] != n {
					t.Errorf("%s: the resumed read emitted %d records (%d of them read before) after %d", stream, n, again[stream], all)
				}
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
