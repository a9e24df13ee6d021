package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPostgresLoadsAndFollowsTheBank loads every stream into PostgreSQL;
// after the banks book new rows, book a pending row under a new reference
// and change recent references, a second run that takes its state from the
// database leaves each account's table rows equal in number to the bank's
// rows (none lost, none twice), with the signed amounts typed as numbers.
func TestPostgresLoadsAndFollowsTheBank(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	url := pgtest.DB(t)
	cat := e.catalog(true)
	r1 := e.read(cat, "--postgres", url)
	conn := pgtest.Connect(t, url)
	recs := r1.Records()
	pgtest.CheckStreamsLoaded(t, conn, "enablebanking", e.discover().Streams, recs)

	accounts := e.accounts()
	for _, a := range accounts {
		e.fake.AddBooked(a, 3)
	}
	e.fake.BookPending(accounts[0])
	e.fake.ChangeReferences(accounts[1], 4)
	r2 := e.read(cat, "--postgres", url)
	if !strings.Contains(string(r2.Stdout), `resuming from the states the sink stored sink=\"PostgreSQL`) {
		t.Error("the second run did not say it resumed from the database's states")
	}
	if n1, n2 := len(recs["transactions"]), len(r2.Records()["transactions"]); n2 >= n1/2 {
		t.Errorf("the second run read %d transactions after %d: it did not resume from the stored state", n2, n1)
	}
	for _, a := range accounts {
		got := pgtest.Rows(t, conn, `SELECT count(*) FROM enablebanking.transactions WHERE account_uid = $1 AND _deleted_at IS NULL`, a)
		if want := len(e.fake.Booked(a)); got[0] != itoa(want) {
			t.Errorf("account %s: %s booked rows in the table, the bank has %d", a, got[0], want)
		}
	}
	if got := pgtest.Rows(t, conn, `SELECT count(*) FROM enablebanking.transactions WHERE _leftovers IS NOT NULL AND (_leftovers ? 'signed_amount' OR _leftovers ? 'transaction_amount')`); got[0] != "0" {
		t.Errorf("%s rows could not type their amounts", got[0])
	}
	if got := pgtest.Rows(t, conn, `SELECT count(*) FROM enablebanking.transactions WHERE signed_amount > 0 AND credit_debit_indicator = 'DBIT'`); got[0] != "0" {
		t.Errorf("%s DBIT rows with a positive signed_amount", got[0])
	}
}

// TestStateFile keeps the state in a file across runs (--state-file): the
// second run resumes from it.
func TestStateFile(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	path := filepath.Join(t.TempDir(), "state.json")
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat, "--state-file", path)
	raw, err := os.ReadFile(path)
	st.Must(t, err, "state file after the first run")
	if !json.Valid(raw) || !strings.Contains(string(raw), `"booked_through"`) {
		t.Fatalf("state file %s", raw)
	}
	e.fake.ResetStats()
	r2 := e.read(cat, "--state-file", path)
	if n1, n2 := len(r1.Records()["transactions"]), len(r2.Records()["transactions"]); n2 >= n1/2 {
		t.Errorf("the second run read %d transactions after %d: it did not resume from the state file", n2, n1)
	}
	if n := e.fake.Stats().Chains; n != len(e.accounts()) {
		t.Errorf("%d transactions calls for %d accounts", n, len(e.accounts()))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
