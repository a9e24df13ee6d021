package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresKilledAtRandomKeepsEveryRowOnce is
// TestKilledAtRandomKeepsEveryRowOnce into PostgreSQL: seven reads of every
// stream with --postgres, each SIGKILLed at a random moment (some end
// first), each resuming from the states the database holds, the banks
// moving on between runs as there (moveBanksOn) and 1 to 12 hours passing;
// then, a day later, a read to the end. The transactions table then holds
// every booked row the fake serves once, as it serves it now (a row whose
// reference or text changed replaced itself under its key), and nothing
// else; pending_transactions holds the fake's pending rows. The sink
// commits a checkpoint's rows with its state, announcements of keys
// included (docs/postgres.md, "Exactly once"; docs/enablebanking.md, "Keys
// go out before their rows"), so a run killed anywhere leaves the next one
// the keys of every row the table holds. KILL_SEED repeats a run's banks;
// the kills fall by the clock.
func TestPostgresKilledAtRandomKeepsEveryRowOnce(t *testing.T) {
	url := pgtest.DB(t)
	seed := st.Seed(t, "KILL_SEED")
	rng := rand.New(rand.NewPCG(seed, 41))
	// Six accounts, four read at a time, 30 pages each at 15 ms: a first
	// sync takes about a second and a half, a later read half that. The
	// sink commits a stream's first STATE at once and the next ones 2 s
	// apart, so a read is killed before its first commit, after it (the
	// transactions rows before it with it), after the stream's last
	// commit, or not at all.
	e := newEnv(t, fake.Options{Seed: seed%1000 + 1, Sessions: 3, TransactionsPerAccount: 300, PageSize: 10, Latency: 15 * time.Millisecond})
	lookback := 1 + rng.IntN(10)
	e.cfg["lookback_days"] = lookback
	args := []string{"read", "--config", e.config(nil), "--catalog", e.catalog(true), "--postgres", url, "--no-records"}
	conn := pgtest.Connect(t, url)

	expected := 1500 * time.Millisecond // a first sync's length; then the last read's that ended
	kills := 0
	for i := range 7 {
		start := time.Now()
		p := st.StartWatched(t, "transactions", e.bin, args...)
		// Killed at a random moment of about a read's length, but not
		// before the n-th transactions STATE the sink committed (n is 0,
		// 1 or 2), as the Pluggy crash tests pick theirs: the first
		// commits an announcement, or an account's checkpoint with the
		// rows before it; the second, the stream's last, all its rows.
		// A moment before that STATE kills the read right after the
		// commit, the rows since uncommitted.
		n, at := rng.IntN(3), time.Duration(rng.Float64()*float64(expected))
		if n == 0 || p.Reach(t, st.KillPoint{States: n}) {
			select {
			case <-p.Done():
			case <-time.After(time.Until(start.Add(at))):
			}
		}
		r := p.Partial(t)
		took := time.Since(start)
		killed := p.Code() == -1 // ExitCode's answer for a process a signal ended
		if killed {
			kills++
		} else {
			// It may have failed on its own: the banks' daily limit
			// spent by the killed runs, pending_transactions INCOMPLETE.
			expected = took
		}
		st.ValidateProtocol(t, r)
		states := 0
		for _, m := range r.OfType(protocol.TypeState) {
			if m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == "transactions" {
				states++
			}
		}
		changes := e.moveBanksOn(rng, lookback)
		e.fake.AdvanceClock(time.Duration(1+rng.IntN(12)) * time.Hour)
		t.Logf("run %d: at %v, not before %d committed states: killed %v at %v, else exit %d with %d errors (%d transactions STATEs; %d booked rows in the table); then %v",
			i+1, at.Round(time.Millisecond), n, killed, took.Round(time.Millisecond), p.Code(), len(r.ErrorTraces()), states, len(tableRows(t, conn, "transactions")), changes)
	}
	t.Logf("%d of 7 runs killed; the banks refused %d transactions calls for their daily limit", kills,
		e.fake.Stats().Requests[fake.RouteTransactions][http.StatusTooManyRequests])
	if kills < 2 {
		t.Fatalf("only %d of 7 runs were killed before they ended: make the fake slower", kills)
	}

	e.fake.AdvanceClock(25 * time.Hour) // every account can be read
	e.read(e.catalog(true), "--postgres", url)
	content := func(added []string) func(json.RawMessage) string {
		return func(raw json.RawMessage) string { return withoutNulls(t, raw, added...) }
	}
	booked := map[string]json.RawMessage{}
	for _, raw := range tableRows(t, conn, "transactions") {
		x := decodeTx(t, raw)
		booked[x.AccountKey+"|"+x.Key] = raw
	}
	checkHoldsBooked(t, e, booked, content(txAdded))
	e.checkPendingIsTheBank("the pending_transactions table", tableRows(t, conn, "pending_transactions"), content(pendingAdded))
}

// tableRows is each row of an enablebanking table as the record it was
// loaded from: its columns, with the members _leftovers kept put back and
// the sink's own left out, and signed_amount the string the record has
// (the column is numeric). A row marked deleted is one too: the connector
// deletes none. None before a read made the table.
func tableRows(t *testing.T, conn *pgx.Conn, table string) []json.RawMessage {
	t.Helper()
	if pgtest.Rows(t, conn, `SELECT to_regclass($1) IS NOT NULL`, "enablebanking."+table)[0] != "true" {
		return nil
	}
	q := `SELECT ((to_jsonb(r) - '_extracted_at' - '_deleted_at' - '_leftovers' - '_changes') || coalesce(r._leftovers, '{}')
		|| jsonb_build_object('signed_amount', r.signed_amount::text))::text
		FROM ` + pgx.Identifier{"enablebanking", table}.Sanitize() + ` r`
	rs, err := conn.Query(context.Background(), q)
	st.Must(t, err, table)
	rows, err := pgx.CollectRows(rs, pgx.RowTo[string])
	st.Must(t, err, table)
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		out[i] = json.RawMessage(r)
	}
	return out
}

// withoutNulls is without with the top-level null members dropped too: a
// table has a column, null, for every field a row left out.
func withoutNulls(t *testing.T, raw json.RawMessage, added ...string) string {
	t.Helper()
	var m map[string]any
	st.Must(t, json.Unmarshal(raw, &m), "row")
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	b, err := json.Marshal(m)
	st.Must(t, err, "row")
	return without(t, b, added...)
}
