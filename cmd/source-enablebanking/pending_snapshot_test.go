package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPendingSnapshotReplacedButForFailedAccounts: an incremental read
// into Parquet and PostgreSQL, then the bank books a pending row of one
// account while another account's daily limit on transactions is spent.
// The second read's transactions stream completes (the booked row lands in
// transactions) and its pending_transactions ends INCOMPLETE for the spent
// account; both sinks then hold the pending rows the read gave for every
// account it read (the booked row no longer among them, where it was kept
// beside its booked self until a complete run) and the first read's rows,
// value for value, for the account it could not read, by its account_key.
func TestPendingSnapshotReplacedButForFailedAccounts(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	booker, spent := e.twoWithPending()
	spentKey := e.fake.IdentificationHash(spent) // its account_key
	if spentKey == "" {
		spentKey = "uid:" + spent
	}
	dir, url := t.TempDir(), pgtest.DB(t)
	cat := e.catalog(true, "transactions", "pending_transactions")
	r1 := e.read(cat, "--parquet-dir", dir, "--postgres", url)
	firstFiles := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart)

	e.fake.BookPending(booker) // its oldest pending row books
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
		if rw := decodeTx(t, raw); rw.AccountKey == spentKey {
			want[rw.AccountKey+" "+rw.PendingKey] = true
		}
	}
	for _, raw := range r2.Records()["pending_transactions"] {
		rw := decodeTx(t, raw)
		if rw.AccountKey == spentKey {
			t.Fatalf("the second read emitted a pending row of %s, whose limit is spent", spent)
		}
		want[rw.AccountKey+" "+rw.PendingKey] = true
	}
	if len(e.fake.Pending(booker)) == 0 {
		t.Fatal("the booking account has no pending rows left")
	}
	named := false
	for _, et := range r2.ErrorTraces() {
		named = named || strings.Contains(et.Message, spentKey)
	}
	if !named {
		t.Errorf("no error names %s, the account the read lacks: %+v", spentKey, r2.ErrorTraces())
	}

	conn := pgtest.Connect(t, url)
	var booked struct {
		ID string `json:"transaction_id"`
	}
	st.Must(t, json.Unmarshal(e.fake.Booked(booker)[0], &booked), "booked row")
	if n := pgtest.Rows(t, conn, `SELECT count(*) FROM enablebanking.transactions WHERE transaction_id = $1 AND _deleted_at IS NULL`, booked.ID); n[0] != "1" {
		t.Fatalf("the booked row %s is in transactions %s times, want 1", booked.ID, n[0])
	}
	st.CheckKeySet(t, "PostgreSQL", pgtest.Rows(t, conn, `SELECT account_key || ' ' || pending_key FROM enablebanking.pending_transactions`), want)

	files := st.NewestRunFiles(t, dir, "pending_transactions", parquet.MetaRunStart)
	var inParquet []string
	for _, f := range files {
		for _, rw := range st.ParquetFileStrings(t, f, "account_key", "pending_key") {
			inParquet = append(inParquet, *rw["account_key"]+" "+*rw["pending_key"])
		}
	}
	st.CheckKeySet(t, "Parquet (newest run's files)", inParquet, want)

	// The spent account's rows are carried over value for value.
	first := st.ParquetRunDump(t, firstFiles, spentKey)
	if last := st.ParquetRunDump(t, files, spentKey); last != first || first == "" {
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

	e.fake.BookPending(booker)
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	r2 := e.run(cat, nil, "--parquet-dir", dir, "--postgres", url)
	for _, name := range []string{"transactions", "pending_transactions"} {
		if seq := r2.Statuses()[name]; r2.Code != 1 || len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Fatalf("second read: exit %d, %s ended %v; want 1 and INCOMPLETE", r2.Code, name, seq)
		}
	}
	want := map[string]bool{}
	for _, raw := range r1.Records()["pending_transactions"] {
		rw := decodeTx(t, raw)
		want[rw.AccountKey+" "+rw.PendingKey] = true
	}
	conn := pgtest.Connect(t, url)
	st.CheckKeySet(t, "PostgreSQL", pgtest.Rows(t, conn, `SELECT account_key || ' ' || pending_key FROM enablebanking.pending_transactions`), want)
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
