package main

import (
	"context"
	"slices"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPendingSnapshotReplacedButForFailedAccounts: an incremental read
// into Parquet and PostgreSQL, then the bank books a pending row of one
// account while another account's daily quota is spent. The second read's
// transactions stream completes (the booked row lands in transactions) and
// its pending_transactions ends INCOMPLETE for the spent account; both sinks
// then hold the pending rows the read gave for every account it read (the
// booked row no longer among them, where it was kept beside its booked self
// until a complete run) and the first read's rows, value for value, for the
// account it could not read.
func TestPendingSnapshotReplacedButForFailedAccounts(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	booker, spent := e.twoWithPending()
	dir, url := t.TempDir(), pgtest.DB(t)
	cat := e.catalog(true, "transactions", "pending_transactions")
	r1 := e.read(cat, "--parquet-dir", dir, "--postgres", url)
	firstFiles := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart)

	e.fake.ChangePending(booker) // its first pending row books
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	r2 := e.run(cat, nil, "--parquet-dir", dir, "--postgres", url)
	if r2.Code != 1 {
		t.Fatalf("second read exited %d, want 1 (pending_transactions cannot read %s)", r2.Code, spent)
	}
	if seq := r2.Statuses()["pending_transactions"]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
		t.Fatalf("pending_transactions ended %v, want INCOMPLETE", seq)
	}
	if seq := r2.Statuses()["transactions"]; len(seq) == 0 || seq[len(seq)-1] != protocol.Complete {
		t.Fatalf("transactions ended %v, want COMPLETE (an incremental stream keeps the spent account's state)", seq)
	}

	// What the sinks must hold: the second read's rows of every account
	// but the spent one, and the first read's of that one.
	want := map[string]bool{}
	for _, raw := range r1.Records()["pending_transactions"] {
		if rw := decode(t, raw); rw.AccountID == spent {
			want[rw.AccountID+" "+rw.PendingKey] = true
		}
	}
	for _, raw := range r2.Records()["pending_transactions"] {
		rw := decode(t, raw)
		if rw.AccountID == spent {
			t.Fatalf("the second read emitted a pending row of %s, whose quota is spent", spent)
		}
		want[rw.AccountID+" "+rw.PendingKey] = true
	}
	if n := len(e.fake.Pending(booker)); n == 0 {
		t.Fatal("the booking account has no pending rows left")
	}
	if len(errorsMention(r2, spent)) == 0 {
		t.Errorf("no error names %s, the account the read lacks: %+v", spent, r2.ErrorTraces())
	}

	conn := pgtest.Connect(t, url)
	booked := decode(t, e.fake.Booked(booker)[0]).InternalID // the pending row booked
	if n := pgCount(t, conn, `SELECT count(*) FROM gocardless.transactions WHERE "internalTransactionId" = $1`, booked); n != 1 {
		t.Fatalf("the booked row %s is in transactions %d times, want 1", booked, n)
	}
	st.CheckKeySet(t, "PostgreSQL", pgtest.Rows(t, conn, `SELECT account_id || ' ' || pending_key FROM gocardless.pending_transactions`), want)

	files := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart)
	var inParquet []string
	for _, f := range files {
		for _, rw := range st.ParquetFileStrings(t, f, "account_id", "pending_key") {
			inParquet = append(inParquet, *rw["account_id"]+" "+*rw["pending_key"])
		}
	}
	st.CheckKeySet(t, "Parquet (newest run's files)", inParquet, want)

	// The spent account's rows are carried over value for value.
	first := st.ParquetRunDump(t, firstFiles, spent)
	if last := st.ParquetRunDump(t, files, spent); last != first || first == "" {
		t.Errorf("the spent account's pending rows in the newest Parquet run differ from the first read's:\nfirst:\n%s\nnewest:\n%s", first, last)
	}
}

// TestPendingSnapshotKeptWholeBesideATransactionsSnapshot: the same two
// reads with every stream in full_refresh. The transactions stream ends
// INCOMPLETE too and both sinks keep its previous snapshot, which lacks the
// row booked since; so they keep the previous pending snapshot whole as
// well, where that row still is, rather than lose it from both.
func TestPendingSnapshotKeptWholeBesideATransactionsSnapshot(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	booker, spent := e.twoWithPending()
	dir, url := t.TempDir(), pgtest.DB(t)
	cat := e.catalog(false, "transactions", "pending_transactions")
	r1 := e.read(cat, "--parquet-dir", dir, "--postgres", url)
	firstFiles := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart)

	e.fake.ChangePending(booker)
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	r2 := e.run(cat, nil, "--parquet-dir", dir, "--postgres", url)
	for _, name := range []string{"transactions", "pending_transactions"} {
		if seq := r2.Statuses()[name]; r2.Code != 1 || len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Fatalf("second read: exit %d, %s ended %v; want 1 and INCOMPLETE", r2.Code, name, seq)
		}
	}
	want := map[string]bool{}
	for _, raw := range r1.Records()["pending_transactions"] {
		rw := decode(t, raw)
		want[rw.AccountID+" "+rw.PendingKey] = true
	}
	conn := pgtest.Connect(t, url)
	rows, err := conn.Query(context.Background(), `SELECT account_id || ' ' || pending_key FROM gocardless.pending_transactions`)
	st.Must(t, err, "query")
	var inPG []string
	for rows.Next() {
		var k string
		st.Must(t, rows.Scan(&k), "scan")
		inPG = append(inPG, k)
	}
	st.Must(t, rows.Err(), "rows")
	st.CheckKeySet(t, "PostgreSQL", inPG, want)
	if files := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart); !slices.Equal(files, firstFiles) {
		t.Errorf("the newest pending_transactions files are %v, want the first read's %v", files, firstFiles)
	}
}

// twoWithPending names two accounts of the fake with at least two
// pending rows each: one whose row books, one whose daily limit is spent.
func (e *env) twoWithPending() (booker, spent string) {
	e.t.Helper()
	return st.TwoWithPending(e.t, e.accounts(), func(a string) int { return len(e.fake.Pending(a)) })
}
