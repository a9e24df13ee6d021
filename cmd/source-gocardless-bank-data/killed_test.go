package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestKilledAtRandomKeepsEveryRowOnce reads with every stream, killing
// each run at a random line and resuming the next from the last STATE it
// printed, while the bank moves on between runs (new booked rows, pending
// rows that book, change and come, late postings, undated rows) and a day
// or less passes; then a run to the end. What stdout delivered, deduplicated
// on (account_id, transaction_key) as a destination does, and the Parquet
// files hold every booked row the fake serves once, unchanged under its
// key, and nothing else; the last run's pending_transactions (on stdout and
// in its Parquet files) is the fake's pending rows; and a further run with
// nothing changed emits no new booked row, only rows of the re-read window
// (docs/gocardless.md, "Quota, and what the state keeps"). KILL_SEED
// repeats a run.
func TestKilledAtRandomKeepsEveryRowOnce(t *testing.T) {
	seed := st.Seed(t, "KILL_SEED")
	rng := rand.New(rand.NewPCG(seed, 31))
	e := newEnv(t, fake.Options{Seed: seed%1000 + 1, Requisitions: 3, TransactionsPerAccount: 150, Latency: 2 * time.Millisecond})
	lookback := 1 + rng.IntN(10)
	e.cfg["lookback_days"] = lookback
	cat := e.catalog(true)
	dir := t.TempDir()
	accounts := e.accounts()
	booked := st.NewDedup("account_id", "transaction_key")
	var states st.States // each stream's last STATE printed so far
	args := func() []string { return append([]string{"--parquet-dir", dir}, states.Args(t)...) }
	// Runs 1 to 12 hours apart: often closer than the bank's 4 calls an
	// endpoint in 24 hours allow, which killed runs spend without their
	// state recording it. The last runs come a day after all the others,
	// when every account can be read.
	later := func() { e.fake.AdvanceClock(time.Duration(1+rng.IntN(12)) * time.Hour) }
	aDayLater := func() { e.fake.AdvanceClock(25 * time.Hour) }

	lines := 0 // about what the next run prints: a first sync's at first
	for _, a := range accounts {
		lines += len(e.fake.Booked(a)) + len(e.fake.Pending(a)) + 6
	}
	for i := range 6 {
		p := st.StartWatched(t, "transactions", e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", cat}, args()...)...)
		at := 1 + rng.IntN(lines)
		killed := p.Reach(t, st.KillPoint{Lines: at})
		r := p.Partial(t)
		if !killed {
			lines = max(len(r.Messages), 2)
		}
		st.ValidateProtocol(t, r)
		booked.Apply(t, r.Records()["transactions"])
		states.Apply(r)
		var changes []string
		for _, a := range accounts {
			if n := rng.IntN(4); n > 0 {
				e.fake.AddBooked(a, n)
				changes = append(changes, "booked")
			}
			if rng.IntN(3) == 0 {
				e.fake.ChangePending(a)
				changes = append(changes, "pending")
			}
			if rng.IntN(4) == 0 {
				e.fake.AddLateBooked(a, 1+rng.IntN(2), 1+rng.IntN(20))
				changes = append(changes, "late")
			}
			if rng.IntN(10) == 0 {
				e.fake.AddUndated(a)
				changes = append(changes, "undated")
			}
		}
		later()
		t.Logf("run %d: killed after %d lines (ended first: %v; %d records, %d states); then %v", i+1, at, !killed,
			len(r.Records()["transactions"]), len(r.OfType(protocol.TypeState)), changes)
	}

	t.Logf("the banks refused %d transactions calls for their daily limit", e.fake.Stats().Requests[fake.RouteTransactions][http.StatusTooManyRequests])
	aDayLater()
	last := e.read(cat, args()...)
	booked.Apply(t, last.Records()["transactions"])
	e.checkHoldsTheBank(booked, last, dir)

	// The state is valid and complete: a further run with nothing changed
	// reads from it and emits only rows of the re-read window, none new.
	final := decodeTxState(t, st.StreamStates(t, last.StateFile(t))["transactions"])
	today := e.fake.Now().Format(time.DateOnly)
	for _, a := range accounts {
		if bt := final.Accounts[a].BookedThrough; bt == "" || bt > today {
			t.Errorf("account %s: booked_through %q after the last run (today %s)", a, bt, today)
		}
	}
	aDayLater()
	again := e.read(cat, "--state", last.StateFile(t), "--parquet-dir", dir)
	if n := booked.Apply(t, again.Records()["transactions"]); n != 0 {
		t.Errorf("a run with nothing changed emitted %d new booked rows", n)
	}
	for _, raw := range again.Records()["transactions"] {
		var x struct {
			AccountID   string `json:"account_id"`
			BookingDate string `json:"bookingDate"`
			ValueDate   string `json:"valueDate"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "record")
		bt, err := time.Parse(time.DateOnly, final.Accounts[x.AccountID].BookedThrough)
		st.Must(t, err, "booked_through of ", x.AccountID)
		from := bt.AddDate(0, 0, -max(lookback, 30)).Format(time.DateOnly) // the pending rows' 30 days widen it
		if (x.BookingDate != "" || x.ValueDate != "") && x.BookingDate < from && x.ValueDate < from {
			t.Errorf("a run with nothing changed emitted a row from before its window (%s):\n%s", from, raw)
		}
	}
	e.checkHoldsTheBank(booked, again, dir)
}

// checkHoldsTheBank checks the deduplicated booked rows against the fake's
// (each row once, under its internalTransactionId, as served, none changed
// under its key), the Parquet files' transaction keys against them, and the
// pending rows of last, on stdout and in its Parquet files, against the
// fake's.
func (e *env) checkHoldsTheBank(booked *st.Dedup, last *st.Result, dir string) {
	t := e.t
	t.Helper()
	for k, n := range booked.Changed {
		t.Errorf("booked row %s came %d more times with other content: a key of GoCardless's never changes its row", k, n)
	}
	want := map[string]bool{}
	for _, a := range e.accounts() {
		for _, served := range e.fake.Booked(a) {
			s := decode(t, served)
			k := a + " | " + strings.TrimSpace(s.InternalID)
			want[k] = true
			got, ok := booked.Rows[k]
			if !ok {
				t.Errorf("booked row %s is not in the destination", k)
				continue
			}
			if !equalJSON(stripAdded(t, got, "account_id", "transaction_key", "status"), asMap(t, served)) {
				t.Errorf("booked row %s differs from what the fake serves:\n%s\n%s", k, got, served)
			}
		}
	}
	for k := range booked.Rows {
		if !want[k] {
			t.Errorf("the destination holds %s, which the fake never served", k)
		}
	}
	files := map[string]bool{}
	for _, row := range st.ParquetStrings(t, dir, "transactions", "account_id", "transaction_key") {
		files[*row["account_id"]+" | "+*row["transaction_key"]] = true
	}
	if len(files) != len(want) {
		t.Errorf("the Parquet files hold %d booked keys, the fake serves %d", len(files), len(want))
	}
	for k := range want {
		if !files[k] {
			t.Errorf("booked row %s is not in the Parquet files", k)
		}
	}

	// The pending snapshot: stdout's, then the run's own Parquet file(s),
	// the newest (file names sort by run start).
	var served []string
	for _, a := range e.accounts() {
		for _, raw := range e.fake.Pending(a) {
			b, _ := json.Marshal(asMap(t, raw))
			served = append(served, a+" "+string(b))
		}
	}
	var got, keys []string
	for _, raw := range last.Records()["pending_transactions"] {
		x := decode(t, raw)
		b, _ := json.Marshal(stripAdded(t, raw, "account_id", "pending_key", "status"))
		got = append(got, x.AccountID+" "+string(b))
		keys = append(keys, x.AccountID+" | "+x.PendingKey)
	}
	slices.Sort(served)
	slices.Sort(got)
	if !slices.Equal(got, served) {
		t.Errorf("the last run's pending_transactions (%d rows) is not the fake's pending rows (%d):\n%s", len(got), len(served), st.Diff(strings.Join(served, "\n"), strings.Join(got, "\n"), 1, 20))
	}
	pf := st.ParquetFiles(t, dir, "pending_transactions")
	if len(pf) == 0 {
		t.Fatal("no pending_transactions Parquet file")
	}
	var inFile []string
	for _, row := range st.ParquetFileStrings(t, pf[len(pf)-1], "account_id", "pending_key") {
		inFile = append(inFile, *row["account_id"]+" | "+*row["pending_key"])
	}
	slices.Sort(keys)
	slices.Sort(inFile)
	if !slices.Equal(keys, inFile) {
		t.Errorf("the newest pending_transactions file holds %d rows, not the last run's %d", len(inFile), len(keys))
	}
}
