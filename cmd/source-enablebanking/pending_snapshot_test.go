package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

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
	firstFiles := newestRunFiles(t, dir, "pending_transactions")

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
	checkPendingSet(t, "PostgreSQL", pgtest.Rows(t, conn, `SELECT account_key || ' ' || pending_key FROM enablebanking.pending_transactions`), want)

	files := newestRunFiles(t, dir, "pending_transactions")
	var inParquet []string
	for _, f := range files {
		for _, rw := range st.ParquetFileStrings(t, f, "account_key", "pending_key") {
			inParquet = append(inParquet, *rw["account_key"]+" "+*rw["pending_key"])
		}
	}
	checkPendingSet(t, "Parquet (newest run's files)", inParquet, want)

	// The spent account's rows are carried over value for value.
	first := parquetRunDump(t, firstFiles, spentKey)
	if last := parquetRunDump(t, files, spentKey); last != first || first == "" {
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
	firstFiles := newestRunFiles(t, dir, "pending_transactions")

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
	checkPendingSet(t, "PostgreSQL", pgtest.Rows(t, conn, `SELECT account_key || ' ' || pending_key FROM enablebanking.pending_transactions`), want)
	if files := newestRunFiles(t, dir, "pending_transactions"); !slices.Equal(files, firstFiles) {
		t.Errorf("the newest pending_transactions files are %v, want the first read's %v", files, firstFiles)
	}
}

// twoWithPending returns two accounts of the fake with at least two
// pending rows each: one whose row books, one whose limit is spent.
func (e *env) twoWithPending() (booker, spent string) {
	e.t.Helper()
	var with []string
	for _, a := range e.accounts() {
		if len(e.fake.Pending(a)) >= 2 {
			with = append(with, a)
		}
	}
	if len(with) < 2 {
		e.t.Fatalf("the fake gave %d accounts with pending rows, the test needs 2", len(with))
	}
	return with[0], with[1]
}

// checkPendingSet compares the account and pending key of each row a sink
// holds with want.
func checkPendingSet(t *testing.T, sink string, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range got {
		if seen[k] {
			t.Errorf("%s: pending row %s twice", sink, k)
		}
		seen[k] = true
		if !want[k] {
			t.Errorf("%s: pending row %s is not the bank's now (booked since, or of another read)", sink, k)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("%s: pending row %s missing", sink, k)
		}
	}
}

// newestRunFiles are the files of stream's newest run, by their
// source_pluggy.run_started_at (two runs in one second share their names'
// stamp), as docs/parquet.md's snapshot query reads them.
func newestRunFiles(t *testing.T, dir, stream string) []string {
	t.Helper()
	var newest time.Time
	var files []string
	for _, path := range st.ParquetFiles(t, dir, stream) {
		f, err := file.OpenParquetFile(path, false)
		st.Must(t, err, path)
		v := f.MetaData().KeyValueMetadata().FindValue(parquet.MetaRunStart)
		f.Close()
		if v == nil {
			t.Fatalf("%s has no %s", path, parquet.MetaRunStart)
		}
		at, err := time.Parse(time.RFC3339Nano, *v)
		st.Must(t, err, path)
		switch {
		case at.After(newest):
			newest, files = at, []string{path}
		case at.Equal(newest):
			files = append(files, path)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no Parquet file of %s", stream)
	}
	return files
}

// parquetRunDump is st.ParquetDump of files (one run's), only the rows
// that mention account.
func parquetRunDump(t *testing.T, files []string, account string) string {
	t.Helper()
	tmp := t.TempDir()
	st.Must(t, os.Mkdir(filepath.Join(tmp, "s"), 0o700), "mkdir")
	for _, f := range files {
		b, err := os.ReadFile(f)
		st.Must(t, err, f)
		st.Must(t, os.WriteFile(filepath.Join(tmp, "s", filepath.Base(f)), b, 0o600), "copy")
	}
	var out []string
	for _, l := range strings.Split(st.ParquetDump(t, tmp), "\n") {
		if strings.Contains(l, account) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
