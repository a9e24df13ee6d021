package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless"
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

	kills := st.RandomKills{Rng: rng, Stream: "transactions"}
	for _, a := range accounts { // a first sync's lines
		kills.Lines += len(e.fake.Booked(a)) + len(e.fake.Pending(a)) + 6
	}
	for i := range 6 {
		r, killed, at := kills.Next(t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", cat}, args()...)...)
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

// TestKilledBeforeItsCheckpointKeepsTheRepeatFlag: rows without an
// internalTransactionId are keyed by their content once the account's bank
// has repeated a transactionId (transaction_ids_repeat), by that id
// otherwise. A first sync whose answer repeats one, because the bank
// reused an old row's id for a new row, keys them by content; with
// --parquet-dir its STATE waits for its file, so the run prints the rows
// long before the STATE that remembers the flag. Killed there, and
// resumed days later, when the old row has left the answer's window and no
// id repeats, the run must key the rows it prints again as the
// destination holds them: the flag is announced before the rows. Before,
// the resumed run never knew it and each row arrived again under its
// transactionId.
func TestKilledBeforeItsCheckpointKeepsTheRepeatFlag(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 3000, NoInternalIDs: true})
	// start_date 90 days back: a first sync's window moves with the days.
	delete(e.cfg, "start_date")
	// acct's bank repeats no ids of its own (the fake's last account's does).
	acct, other := e.accounts()[0], e.accounts()[1]
	cat := e.catalog(true, "transactions")
	dir := t.TempDir()

	// The oldest row of the window with an id the bank gives a new row.
	today := e.fake.Now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -88).Format(time.DateOnly) // inside every institution's window
	var old struct {
		ID   string `json:"transactionId"`
		Date string `json:"bookingDate"`
	}
	for _, raw := range e.fake.Booked(acct) {
		var r struct {
			ID   string `json:"transactionId"`
			Date string `json:"bookingDate"`
		}
		st.Must(t, json.Unmarshal(raw, &r), "booked row")
		if id := strings.TrimSpace(r.ID); id != "" && !strings.EqualFold(id, "NOTPROVIDED") && r.Date >= first && (old.Date == "" || r.Date < old.Date) {
			old = r
		}
	}
	if old.Date == "" {
		t.Fatal("no booked row with a usable transactionId in the window")
	}
	e.fake.ReuseTransactionID(acct, old.ID)
	// The other account's bank fails (503, tried again 2 s later): the
	// stream's end, and its STATE, wait for it, well after acct's rows
	// (more than the 256 KiB stdout buffers) are printed.
	e.fake.SetInstitutionError(other, http.StatusServiceUnavailable)

	p := st.StartWatched(t, "transactions", e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir)
	p.WaitFor(t, st.KillPoint{Records: 1})
	killed := p.Partial(t)
	for _, m := range killed.OfType(protocol.TypeState) {
		if m.State.Stream.StreamDescriptor.Name != "transactions" {
			continue
		}
		var s struct {
			Accounts map[string]struct {
				SyncedAt string `json:"synced_at"`
			} `json:"accounts"`
		}
		st.Must(t, json.Unmarshal(m.State.Stream.StreamState, &s), "transactions state")
		if s.Accounts[acct].SyncedAt != "" {
			t.Fatal("the read printed its checkpoint before the kill")
		}
	}
	var states st.States
	states.Apply(killed)
	e.fake.SetInstitutionError(other, 0)

	// Days later the old row is before the window: no id repeats.
	oldDay, err := time.Parse(time.DateOnly, old.Date)
	st.Must(t, err, "bookingDate")
	e.fake.AdvanceClock(time.Duration(oldDay.Sub(today.AddDate(0, 0, -gocardless.DefaultStartDays)).Hours()+48) * time.Hour)
	resumed := e.read(cat, append([]string{"--parquet-dir", dir}, states.Args(t)...)...)
	t.Logf("killed after %d records and %d states; resumed %d records", len(killed.Records()["transactions"]), len(killed.OfType(protocol.TypeState)), len(resumed.Records()["transactions"]))

	booked := st.NewDedup("account_id", "transaction_key")
	booked.Apply(t, killed.Records()["transactions"])
	booked.Apply(t, resumed.Records()["transactions"])
	keys := map[string][]string{} // a row as the bank served it → its keys
	for k, raw := range booked.Rows {
		b, _ := json.Marshal(stripAdded(t, raw, "account_id", "transaction_key", "status"))
		keys[string(b)] = append(keys[string(b)], k)
	}
	twice := 0
	for row, ks := range keys {
		if len(ks) > 1 {
			if twice++; twice <= 3 {
				t.Errorf("the destination holds a row under %d keys %v:\n%s", len(ks), ks, row)
			}
		}
	}
	if twice > 0 {
		t.Errorf("%d of %d rows are held more than once", twice, len(keys))
	}
}
