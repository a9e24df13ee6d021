package main

import (
	"cmp"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestLastPageSpellings: the last transactions page ends the chain
// whether its continuation_key is null, absent (the reference allows
// both) or an empty string, and every row of every page is read.
func TestLastPageSpellings(t *testing.T) {
	for _, style := range []string{"", "absent", "empty"} {
		t.Run("continuation_key "+map[string]string{"": "null"}[style]+style, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60, PageSize: 7, LastPageKey: style})
			r := e.read(e.catalog(true, "transactions"))
			read := byUID(t, r.Records()["transactions"])
			for _, uid := range e.accounts() {
				if got, want := len(read[uid]), len(e.fake.Booked(uid)); got != want {
					t.Errorf("account %s: %d rows read, the bank has %d", uid, got, want)
				}
			}
			if s := e.fake.Stats(); s.Chains != len(e.accounts()) {
				t.Errorf("%d chains for %d accounts", s.Chains, len(e.accounts()))
			}
		})
	}
}

// TestRepeatedContinuationKeyStops: a bank that answers a continuation
// page with the key it was given would have a blind client call it until
// the page cap, a thousand calls against a bank that allows four a day.
// The read stops at the repeat, after two calls: a transient error naming
// the account, its state kept, the other accounts read.
func TestRepeatedContinuationKeyStops(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60, PageSize: 7})
	uids := e.accounts()
	looping := uids[0]
	e.fake.RepeatKey(looping)
	r := e.run(e.catalog(true, "transactions"), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	hash := e.fake.IdentificationHash(looping)
	found := false
	for _, tr := range r.ErrorTraces() {
		found = found || tr.FailureType == protocol.TransientError && strings.Contains(tr.Message, hash) && strings.Contains(tr.Message, "same continuation key twice")
	}
	if !found {
		t.Errorf("no transient error naming %s and the repeated key: %q", hash, errorTexts(r))
	}
	calls := e.fake.Stats().Requests[fake.RouteTransactions][200]
	other := len(e.fake.Booked(uids[1]))
	otherPages := (other + len(e.fake.Pending(uids[1])) + 6) / 7
	if calls > 2+otherPages+1 {
		t.Errorf("%d transactions calls; the looping account should have cost 2", calls)
	}
	read := byUID(t, r.Records()["transactions"])
	if len(read[looping]) != 0 {
		t.Errorf("%d rows of the looping account emitted", len(read[looping]))
	}
	if got := len(read[uids[1]]); got != other {
		t.Errorf("the other account: %d rows, the bank has %d", got, other)
	}
}

// TestAccountWithoutUIDIsNamed: the reference says a session's account may
// come without a uid when its data cannot be fetched (blocked, closed).
// Such an account cannot be called; the read says so once, naming the
// session and the account's identification_hash, and reads the others.
func TestAccountWithoutUIDIsNamed(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20})
	uids := e.accounts()
	e.fake.BlockAccount(uids[0])
	r := e.read(e.catalog(true, "accounts", "transactions"))
	if !r.Warned("without a uid", e.fake.SessionIDs()[0], e.fake.IdentificationHash(uids[0])) {
		t.Error("no WARN naming the session and the account without a uid")
	}
	read := byUID(t, r.Records()["transactions"])
	if len(read[uids[1]]) == 0 {
		t.Error("the other account was not read")
	}
	if n := len(r.Records()["accounts"]); n != 1 {
		t.Errorf("%d accounts records, want 1", n)
	}
}

// TestBankKeepingLessHistoryIsReadFromWhatItKeeps: a bank that refuses a
// window longer than its history with a blanket 400 ASPSP_ERROR (Danske,
// about 90 days) would fail a first sync from an older start_date every
// run, reading nothing ever. The call is made once more from 90 days back,
// with a WARN; the rows the bank keeps are read, the next run is an
// ordinary incremental one.
func TestBankKeepingLessHistoryIsReadFromWhatItKeeps(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	uids := e.accounts()
	short := uids[0]
	e.fake.LimitHistory(short, 90)
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	if !r1.Warned(e.fake.IdentificationHash(short), "400 ASPSP_ERROR") {
		t.Error("no WARN naming the account whose window was narrowed")
	}
	cutoff := e.fake.Now().AddDate(0, 0, -90).Format("2006-01-02")
	kept := 0
	for _, raw := range e.fake.Booked(short) {
		var r struct {
			Booking string `json:"booking_date"`
			Tx      string `json:"transaction_date"`
			Value   string `json:"value_date"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		d := r.Booking
		if d == "" {
			d = r.Tx
		}
		if d == "" {
			d = r.Value
		}
		if d >= cutoff {
			kept++
		}
	}
	read := byUID(t, r1.Records()["transactions"])
	if got := len(read[short]); got == 0 || got != kept {
		t.Errorf("the short-history account: %d rows read, the bank keeps %d of %d", got, kept, len(e.fake.Booked(short)))
	}
	if got, want := len(read[uids[1]]), len(e.fake.Booked(uids[1])); got != want {
		t.Errorf("the other account: %d rows, the bank has %d", got, want)
	}
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if r2.Warned("400 ASPSP_ERROR") {
		t.Error("the incremental read was refused too")
	}
	if s := e.fake.Stats(); s.Chains != len(uids) {
		t.Errorf("incremental read: %d chains for %d accounts", s.Chains, len(uids))
	}
}

// TestBankKeepingUnder90DaysIsReadFromWhatItKeeps: a bank keeping less
// than 90 days refused the narrowed call too (and a default start_date,
// 90 days back, was never narrowed at all), so its account's first sync
// failed every run and read nothing, ever. Clients narrow 120, 90, 60, 30
// days (the reference, §5): the call is made again from 60, then 30 days
// back, and the rows the bank keeps in that window are read.
func TestBankKeepingUnder90DaysIsReadFromWhatItKeeps(t *testing.T) {
	for _, c := range []struct {
		name       string
		keeps      int
		start      any // nil: the default, 90 days back
		wantWindow int
	}{
		{"60 days, an old start_date", 60, "2000-01-01", 60},
		{"85 days, the default start_date", 85, nil, 60},
		{"45 days, an old start_date", 45, "2000-01-01", 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
			uids := e.accounts()
			short := uids[0]
			e.fake.LimitHistory(short, c.keeps)
			r := e.run(e.catalog(true, "transactions"), map[string]any{"start_date": c.start})
			st.Succeeded(t, r)
			if !r.Warned(e.fake.IdentificationHash(short), "400 ASPSP_ERROR") {
				t.Error("no WARN naming the account whose window was narrowed")
			}
			// The same refusal is what an outage answers: the WARN does
			// not tell the user it was the bank's history.
			if !r.Warned(e.fake.IdentificationHash(short), "an outage") {
				t.Error("the narrowing WARN does not say an outage answers the same")
			}
			cutoff := e.fake.Now().AddDate(0, 0, -c.wantWindow).Format("2006-01-02")
			want := 0
			for _, raw := range e.fake.Booked(short) {
				var r struct{ Booking, Tx, Value string }
				st.Must(t, json.Unmarshal(raw, &struct {
					B *string `json:"booking_date"`
					T *string `json:"transaction_date"`
					V *string `json:"value_date"`
				}{&r.Booking, &r.Tx, &r.Value}), "booked row")
				if d := cmp.Or(r.Booking, r.Tx, r.Value); d == "" || d >= cutoff {
					want++
				}
			}
			if got := len(byUID(t, r.Records()["transactions"])[short]); got == 0 || got != want {
				t.Errorf("the short-history account: %d rows read, want the %d of the last %d days", got, want, c.wantWindow)
			}
		})
	}
}

// TestNarrowedCallsAreCounted: the bank counts a refused transactions
// call against the daily limit like an answered one, and a first sync
// narrowed to 30 days makes four. The ledger counted the answered one
// alone, so a second run that day called the account again, drew a 429
// and blamed "other calls" for it; now it knows the limit spent and skips
// the account without calling.
func TestNarrowedCallsAreCounted(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	uids := e.accounts()
	e.fake.LimitHistory(uids[0], 45)
	cat := e.catalog(true, "transactions")
	over := map[string]any{"start_date": "2000-01-01"}
	r1 := e.run(cat, over)
	st.Succeeded(t, r1)
	if s := e.fake.Stats(); s.Chains != len(uids)+3 {
		t.Fatalf("first sync: %d chains, want %d (the short account asked from 2000-01-01, 90, 60 and 30 days back)", s.Chains, len(uids)+3)
	}
	e.fake.ResetStats()
	r2 := e.run(cat, over, "--state", r1.StateFile(t))
	if s := e.fake.Stats(); s.Chains != len(uids)-1 {
		t.Errorf("second run the same day: %d chains, want %d (the short account's limit is spent)", s.Chains, len(uids)-1)
	}
	if r2.Warned("ASPSP_RATE_LIMIT_EXCEEDED") || !r2.Warned(e.fake.IdentificationHash(uids[0]), "daily limit") {
		t.Error("the short account: want it skipped with the daily-limit WARN, not called into a 429")
	}
}

// TestBankGrantingFullHistoryOnceLosesNoRow: a bank that serves its full
// history only on the first transactions call after consent and the last
// 90 days afterwards, clipping an older date_from without a word (the
// reference, §5: Triodos). check and discover make no transactions call,
// so the first read's call is the one that gets every row; the incremental
// read after it asks for its lookback, inside the 90 days, and a
// destination merging both holds every row the bank has, each once.
func TestBankGrantingFullHistoryOnceLosesNoRow(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 200, HistoryAfterFirstCall: 90})
	uids := e.accounts()
	cutoff := e.fake.Now().AddDate(0, 0, -90).Format("2006-01-02")
	older := 0
	for _, raw := range e.fake.Booked(uids[0]) {
		var r struct {
			Booking string `json:"booking_date"`
			Tx      string `json:"transaction_date"`
			Value   string `json:"value_date"`
		}
		st.Must(t, json.Unmarshal(raw, &r), "booked row")
		if d := cmp.Or(r.Booking, r.Tx, r.Value); d != "" && d < cutoff {
			older++
		}
	}
	if older == 0 {
		t.Fatalf("the fake's rows are all within 90 days of %s: nothing to lose", cutoff)
	}
	if r := st.Run(t, e.bin, "check", "--config", e.config(nil)); r.Code != 0 {
		t.Fatalf("check: exit %d\n%s", r.Code, r.Stderr)
	}
	e.discover()
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != 0 {
		t.Fatalf("check and discover made %d transactions calls: a bank granting its history once had it spent", n)
	}
	cat := e.catalog(true, "transactions", "pending_transactions")
	r1 := e.read(cat)
	read := byUID(t, r1.Records()["transactions"])
	for _, uid := range uids {
		if got, want := len(read[uid]), len(e.fake.Booked(uid)); got != want {
			t.Errorf("account %s: the first read emitted %d booked rows, the bank has %d", uid, got, want)
		}
	}
	e.fake.AddBooked(uids[0], 3)
	e.fake.AddBooked(uids[1], 2)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	checkMergedEqualsBank(t, e, []*st.Result{r1, r2})

	// The fake does play the bank: a read without state is clipped now.
	if got, all := len(e.read(cat).Records()["transactions"]), len(mergeByKey(t, r1, r2)); got >= all {
		t.Fatalf("a read without state after the first emitted %d rows of %d: the fake served the full history again", got, all)
	}
}

// TestBookedAloneReadsOnlyItsLookback: with include_pending on, a catalog
// that does not select pending_transactions reads what include_pending off
// reads: its lookback of booked rows. It asked for 30 days of every status
// (the pending stream's window), pages a bank serves and the run dropped.
func TestBookedAloneReadsOnlyItsLookback(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 200, PageSize: 5})
	cat := e.catalog(true, "transactions")
	state := e.read(cat).StateFile(t)
	e.fake.ResetStats()
	on := e.read(cat, "--state", state) // e.cfg has include_pending on
	onCalls := e.fake.Stats().Count(fake.RouteTransactions)
	e.fake.ResetStats()
	off := e.run(cat, map[string]any{"include_pending": false}, "--state", state)
	if off.Code != 0 {
		t.Fatalf("read with include_pending off: exit %d\n%s", off.Code, off.Stderr)
	}
	offCalls := e.fake.Stats().Count(fake.RouteTransactions)
	if onCalls != offCalls {
		t.Errorf("an incremental read of transactions alone made %d transactions calls with include_pending on, %d with it off; pending rows no stream reads cost the difference", onCalls, offCalls)
	}
	if a, b := len(on.Records()["transactions"]), len(off.Records()["transactions"]); a != b {
		t.Errorf("%d transactions records with include_pending on, %d with it off", a, b)
	}
}

// TestPendingFirstMakesOneChain: with pending_transactions before
// transactions in the catalog (discover lists transactions first), the
// pending stream asked first, for its 30 days, and the booked stream
// needing more (a first sync, a new account, full refresh, a state older
// than that) made a second chain per account, against a bank's four a
// day. The first stream to ask now reaches as far back as both need: one
// chain per account, in either order, with the same records.
func TestPendingFirstMakesOneChain(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60, PageSize: 7, DailyLimit: 100})
	uids := e.accounts()
	for _, mode := range []bool{true, false} {
		cat := e.catalog(mode, "transactions", "pending_transactions")
		var c protocol.ConfiguredCatalog
		raw, err := os.ReadFile(cat)
		st.Must(t, err, "catalog")
		if err := json.Unmarshal(raw, &c); err != nil || len(c.Streams) != 2 || c.Streams[0].Stream.Name != "transactions" {
			t.Fatalf("catalog: %v", err)
		}
		e.fake.ResetStats()
		first := e.read(cat)
		if s := e.fake.Stats(); s.Chains != len(uids) {
			t.Fatalf("transactions first (incremental %v): %d chains for %d accounts", mode, s.Chains, len(uids))
		}
		slices.Reverse(c.Streams)
		rev := st.WriteFile(t, "catalog.json", c)
		e.fake.ResetStats()
		r := e.read(rev)
		if s := e.fake.Stats(); s.Chains != len(uids) {
			t.Errorf("pending_transactions first (incremental %v): %d chains for %d accounts", mode, s.Chains, len(uids))
		}
		for _, name := range []string{"transactions", "pending_transactions"} {
			if a, b := len(r.Records()[name]), len(first.Records()[name]); a != b {
				t.Errorf("pending_transactions first (incremental %v): %d %s records, %d in the other order", mode, a, name, b)
			}
		}
		if mode {
			// An incremental run after both: the booked stream's lookback
			// is within the pending window, one chain either way.
			e.fake.ResetStats()
			e.read(rev, "--state", r.StateFile(t))
			if s := e.fake.Stats(); s.Chains != len(uids) {
				t.Errorf("pending_transactions first, incremental from a state: %d chains for %d accounts", s.Chains, len(uids))
			}
		}
	}
}
