package main

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestKilledAtRandomKeepsEveryRowOnce reads with every stream, killing
// each run at a random line and resuming the next from the last STATE it
// printed, while the banks move on between runs within the re-read window
// (new booked rows, pending rows that come and book, new references and
// enriched text on recent rows) and a day or less passes; then a run to the end.
// What stdout delivered, merged by (account_key, transaction_key) as a
// destination does, and the Parquet files hold every booked row the fake
// serves once, as it serves it now (a row whose reference or text changed
// replaces itself under its key: docs/enablebanking.md, "The transaction
// key"), and nothing else; the last run's pending_transactions (on stdout
// and in its Parquet files) is the fake's pending rows; and a further run
// with nothing changed emits no new booked row, only rows of the re-read
// window. KILL_SEED repeats a run.
func TestKilledAtRandomKeepsEveryRowOnce(t *testing.T) {
	seed := st.Seed(t, "KILL_SEED")
	rng := rand.New(rand.NewPCG(seed, 37))
	e := newEnv(t, fake.Options{Seed: seed%1000 + 1, Sessions: 3, TransactionsPerAccount: 100, Latency: 2 * time.Millisecond})
	lookback := 1 + rng.IntN(10)
	e.cfg["lookback_days"] = lookback
	cat := e.catalog(true)
	dir := t.TempDir()
	accounts := e.accounts()
	var reads []*st.Result
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
		reads = append(reads, r)
		states.Apply(r)
		changes := e.moveBanksOn(rng, lookback)
		later()
		t.Logf("run %d: killed after %d lines (ended first: %v; %d records, %d states); then %v", i+1, at, !killed,
			len(r.Records()["transactions"]), len(r.OfType(protocol.TypeState)), changes)
	}

	t.Logf("the banks refused %d transactions calls for their daily limit", e.fake.Stats().Requests[fake.RouteTransactions][http.StatusTooManyRequests])
	aDayLater()
	last := e.read(cat, args()...)
	reads = append(reads, last)
	e.checkHoldsTheBank(reads, dir)

	// The state is valid and complete: a further run with nothing changed
	// reads from it and emits only rows of the re-read window, none new.
	var final struct {
		Accounts map[string]struct {
			BookedThrough string `json:"booked_through"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(st.StreamStates(t, last.StateFile(t))["transactions"], &final), "transactions state")
	today := e.fake.Now().Format(time.DateOnly)
	for _, a := range accounts {
		if bt := final.Accounts[e.fake.IdentificationHash(a)].BookedThrough; bt == "" || bt > today {
			t.Errorf("account %s: booked_through %q after the last run (today %s)", a, bt, today)
		}
	}
	before := mergeByKey(t, reads...)
	aDayLater()
	again := e.read(cat, "--state", last.StateFile(t), "--parquet-dir", dir)
	reads = append(reads, again)
	for _, raw := range again.Records()["transactions"] {
		x := decodeTx(t, raw)
		if _, ok := before[x.AccountKey+"|"+x.Key]; !ok {
			t.Errorf("a run with nothing changed emitted a new booked row:\n%s", raw)
		}
		var d struct {
			BookingDate string `json:"booking_date"`
			ValueDate   string `json:"value_date"`
		}
		st.Must(t, json.Unmarshal(raw, &d), "record")
		bt, err := time.Parse(time.DateOnly, final.Accounts[x.AccountKey].BookedThrough)
		st.Must(t, err, "booked_through of ", x.AccountKey)
		from := bt.AddDate(0, 0, -max(lookback, 30)).Format(time.DateOnly) // the pending rows' 30 days widen it
		if date := cmp.Or(d.BookingDate, d.ValueDate); date != "" && date < from {
			t.Errorf("a run with nothing changed emitted a row from before its window (%s):\n%s", from, raw)
		}
	}
	e.checkHoldsTheBank(reads, dir)
}

// moveBanksOn changes the banks within the re-read window of lookback
// days, as between two runs: new booked rows, pending rows that book and
// that come, new references and enriched text on recent rows, each account
// at random. It returns what it changed, for the log.
func (e *env) moveBanksOn(rng *rand.Rand, lookback int) (changes []string) {
	for _, a := range e.accounts() {
		if n := rng.IntN(4); n > 0 {
			e.fake.AddBooked(a, n)
			changes = append(changes, "booked")
		}
		if rng.IntN(3) == 0 && len(e.fake.Pending(a)) > 0 {
			e.fake.BookPending(a)
			changes = append(changes, "pending booked")
		}
		if rng.IntN(3) == 0 {
			e.fake.AddPending(a, 1+rng.IntN(2))
			changes = append(changes, "pending new")
		}
		if rng.IntN(4) == 0 {
			e.fake.ChangeReferences(a, rng.IntN(lookback+1))
			changes = append(changes, "references")
		}
		if rng.IntN(6) == 0 {
			e.fake.EnrichRemittance(a, rng.IntN(lookback+1))
			changes = append(changes, "text")
		}
	}
	return changes
}

// checkHoldsTheBank checks the reads' booked rows merged by key against
// the fake's (checkMergedEqualsBank), the Parquet files' keys against the
// merged ones, and the pending rows of the last read, on stdout and in its
// Parquet files, against the fake's.
func (e *env) checkHoldsTheBank(reads []*st.Result, dir string) {
	t := e.t
	t.Helper()
	checkMergedEqualsBank(t, e, reads)
	merged := mergeByKey(t, reads...)
	files := map[string]bool{}
	for _, row := range st.ParquetStrings(t, dir, "transactions", "account_key", "transaction_key") {
		files[*row["account_key"]+"|"+*row["transaction_key"]] = true
	}
	if len(files) != len(merged) {
		t.Errorf("the Parquet files hold %d booked keys, stdout %d", len(files), len(merged))
	}
	for k := range merged {
		if !files[k] {
			t.Errorf("booked row %s is not in the Parquet files", k)
		}
	}

	last := reads[len(reads)-1].Records()["pending_transactions"]
	e.checkPendingIsTheBank("the last run's pending_transactions", last, func(raw json.RawMessage) string { return without(t, raw, pendingAdded...) })
	var keys []string
	for _, raw := range last {
		x := decodeTx(t, raw)
		keys = append(keys, x.AccountKey+"|"+x.PendingKey)
	}
	pf := st.ParquetFiles(t, dir, "pending_transactions")
	if len(pf) == 0 {
		t.Fatal("no pending_transactions Parquet file")
	}
	var inFile []string
	for _, row := range st.ParquetFileStrings(t, pf[len(pf)-1], "account_key", "pending_key") {
		inFile = append(inFile, *row["account_key"]+"|"+*row["pending_key"])
	}
	slices.Sort(keys)
	slices.Sort(inFile)
	if !slices.Equal(keys, inFile) {
		t.Errorf("the newest pending_transactions file holds %d rows, not the last run's %d", len(inFile), len(keys))
	}
}

// pendingAdded are the fields the connector adds to a pending row.
var pendingAdded = []string{"account_key", "account_uid", "session_id", "pending_key", "signed_amount"}

// checkPendingIsTheBank checks that rows, a destination's
// pending_transactions (what names them), are the fake's pending rows of
// every account; content is what is compared of a row, the bank's or the
// destination's.
func (e *env) checkPendingIsTheBank(what string, rows []json.RawMessage, content func(json.RawMessage) string) {
	t := e.t
	t.Helper()
	var served, got []string
	for _, a := range e.accounts() {
		for _, raw := range e.fake.Pending(a) {
			served = append(served, a+" "+content(raw))
		}
	}
	for _, raw := range rows {
		got = append(got, decodeTx(t, raw).AccountUID+" "+content(raw))
	}
	slices.Sort(served)
	slices.Sort(got)
	if !slices.Equal(got, served) {
		t.Errorf("%s (%d rows) is not the fake's pending rows (%d):\n%s", what, len(got), len(served), st.Diff(strings.Join(served, "\n"), strings.Join(got, "\n"), 1, 20))
	}
}

// TestKilledBeforeItsCheckpointKeepsKeys: with --parquet-dir a STATE waits
// for its file, so a first sync prints rows long before the STATE that
// remembers their keys. Killed there, and the banks then giving recent
// rows new references, the run resumed from the last STATE printed must
// give those rows the keys the destination already holds them under: the
// keys are announced before the rows. Before, the resumed run knew none of
// them and each re-referenced row arrived again under a new key.
func TestKilledBeforeItsCheckpointKeepsKeys(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 3, TransactionsPerAccount: 300, Latency: 2 * time.Millisecond})
	cat := e.catalog(true, "transactions")
	dir := t.TempDir()
	p := st.StartWatched(t, "transactions", e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir)
	p.WaitFor(t, st.KillPoint{Records: 600})
	killed := p.Partial(t)
	if len(killed.Records()["transactions"]) >= 6*300 {
		t.Fatal("the read printed every row before the kill: make the fake slower")
	}
	var states st.States
	states.Apply(killed)
	for _, a := range e.accounts() {
		e.fake.ChangeReferences(a, 7) // lookback_days
	}
	resumed := e.read(cat, append([]string{"--parquet-dir", dir}, states.Args(t)...)...)
	t.Logf("killed after %d records and %d states", len(killed.Records()["transactions"]), len(killed.OfType(protocol.TypeState)))
	checkMergedEqualsBank(t, e, []*st.Result{killed, resumed})
}

// TestParquetFilesNotCutByAnnouncements: with --no-records the Parquet sink
// holds the announcements of keys like any state, and before a file
// commits prints the last state it printed with the file's keys added
// (MergeState), so files are cut by size only: a first sync of six
// accounts writes one transactions file, not one per account. Killed once
// files of 250 rows are committed and resumed after the banks gave recent
// rows new references, the files hold each booked row under one key: the
// state printed before each commit remembered the keys the file holds.
func TestParquetFilesNotCutByAnnouncements(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 3, TransactionsPerAccount: 300, Latency: 2 * time.Millisecond})
	cat := e.catalog(true, "transactions")
	read := func(dir string, extra ...string) *st.Result {
		t.Helper()
		r := st.Run(t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir, "--no-records"}, extra...)...)
		if r.Code != 0 {
			t.Fatalf("read exited %d\n%s", r.Code, r.Stderr)
		}
		st.ValidateProtocol(t, r)
		return r
	}
	first := t.TempDir()
	read(first)
	if n := len(st.ParquetFiles(t, first, "transactions")); n != 1 {
		t.Errorf("a first sync of %d accounts: %d transactions files, want 1 (files cut by size only)", len(e.accounts()), n)
	}

	t.Setenv(parquet.RowsPerFileEnv, "250")
	dir := t.TempDir()
	p := st.StartWatched(t, "transactions", e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir, "--no-records")
	for len(st.ParquetFiles(t, dir, "transactions")) < 2 {
		select {
		case <-p.Done():
			t.Fatal("the read ended before two files were committed: make the fake slower")
		case <-time.After(time.Millisecond):
		}
	}
	killed := p.Partial(t)
	var states st.States
	states.Apply(killed)
	for _, a := range e.accounts() {
		e.fake.ChangeReferences(a, 7) // lookback_days
	}
	t.Logf("killed with %d files committed, %d states printed", len(st.ParquetFiles(t, dir, "transactions")), len(killed.OfType(protocol.TypeState)))
	read(dir, states.Args(t)...)
	keys := map[string]map[string]bool{}
	for _, row := range st.ParquetStrings(t, dir, "transactions", "account_key", "transaction_key") {
		if keys[*row["account_key"]] == nil {
			keys[*row["account_key"]] = map[string]bool{}
		}
		keys[*row["account_key"]][*row["transaction_key"]] = true
	}
	for _, a := range e.accounts() {
		if got, want := len(keys[e.fake.IdentificationHash(a)]), len(e.fake.Booked(a)); got != want {
			t.Errorf("account %s: the files hold %d keys, the bank %d rows", a, got, want)
		}
	}
}
