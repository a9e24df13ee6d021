package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func pgCount(t *testing.T, conn *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestPostgresEveryStreamLoadsAndFollowsTheBank loads every stream into
// PostgreSQL; after the bank books new rows and its pending rows change, a
// second run that takes its state from the database leaves each account's
// booked rows equal to the fake's, and the pending table equal to the
// bank's pending rows now.
func TestPostgresEveryStreamLoadsAndFollowsTheBank(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 100})
	url := pgtest.DB(t)
	cat := e.catalog(true)
	r1 := e.read(cat, "--postgres", url)
	// An empty database has no state to resume from: the first run says
	// so, not that it resumes from none.
	if strings.Contains(string(r1.Stdout), "resuming from the states") || !strings.Contains(string(r1.Stdout), `no state stored yet in the sink, which keeps the state from this run on sink=\"PostgreSQL`) {
		t.Errorf("the first run did not say the database holds no state yet:\n%s", st.Tail(r1.Stdout))
	}
	conn := pgtest.Connect(t, url)
	recs := r1.Records()
	// "gocardless": the default schema of the binary's former name,
	// source-gocardless, kept so existing loads resume where they are.
	pgtest.CheckStreamsLoaded(t, conn, "gocardless", e.discover().Streams, recs)
	if n := pgCount(t, conn, `SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'gocardless_%'`); n != 0 {
		t.Errorf("the run created %d schemas named after the new binary name; the default must stay \"gocardless\"", n)
	}

	accounts := e.accounts()
	for _, a := range accounts {
		e.fake.AddBooked(a, 3)
	}
	e.fake.ChangePending(accounts[0])
	r2 := e.read(cat, "--postgres", url)
	if !strings.Contains(string(r2.Stdout), `resuming from the states the sink stored sink=\"PostgreSQL`) {
		t.Error("the second run did not say it resumed from the database's states")
	}
	if n1, n2 := len(recs["transactions"]), len(r2.Records()["transactions"]); n2 >= n1/2 {
		t.Errorf("the second run read %d transactions after %d: it did not resume from the stored state", n2, n1)
	}
	pending := 0
	for _, a := range accounts {
		want := map[string]bool{}
		for _, raw := range e.fake.Booked(a) {
			want[decode(t, raw).InternalID] = true
		}
		got := map[string]bool{}
		rs, err := conn.Query(context.Background(), `SELECT "internalTransactionId" FROM gocardless.transactions WHERE account_id = $1 AND _deleted_at IS NULL`, a)
		st.Must(t, err, "query")
		for rs.Next() {
			var id string
			st.Must(t, rs.Scan(&id), "scan")
			if got[id] {
				t.Errorf("account %s: booked row %s twice", a, id)
			}
			got[id] = true
		}
		st.Must(t, rs.Err(), "rows")
		if len(got) != len(want) {
			t.Errorf("account %s: %d booked rows in the table, the bank has %d", a, len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				t.Errorf("account %s: booked row %s missing from the table", a, id)
			}
		}
		pending += len(e.fake.Pending(a))
	}
	if n := pgCount(t, conn, `SELECT count(*) FROM gocardless.pending_transactions`); n != pending {
		t.Errorf("%d pending rows in the table, the bank has %d now", n, pending)
	}
	// Money is exact: the amounts are numeric, digit for digit.
	if n := pgCount(t, conn, `SELECT count(*) FROM gocardless.transactions WHERE _leftovers IS NOT NULL AND _leftovers ? 'transactionAmount'`); n != 0 {
		t.Errorf("%d rows could not type transactionAmount", n)
	}
}
